ALTER TABLE room_events RENAME TO room_events_partitioned;
ALTER INDEX room_events_pkey RENAME TO room_events_partitioned_pkey;
ALTER INDEX room_events_room_user_nonce_key RENAME TO room_events_partitioned_nonce_key;
ALTER INDEX room_events_message_id_idx RENAME TO room_events_partitioned_message_id_idx;

CREATE TABLE room_events (
    room_id    BIGINT      NOT NULL,
    seq        BIGINT      NOT NULL CONSTRAINT room_events_seq_check CHECK (seq > 0),
    kind       TEXT        NOT NULL,
    message_id BIGINT,
    user_id    BIGINT      NOT NULL,
    nonce      TEXT        NOT NULL
        CONSTRAINT room_events_nonce_check CHECK (char_length(nonce) BETWEEN 1 AND 64),
    frame      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq),
    CONSTRAINT room_events_room_user_nonce_key UNIQUE (room_id, user_id, nonce),
    CONSTRAINT room_events_kind_check
        CHECK (kind IN ('message', 'edited', 'deleted', 'reaction', 'moderation', 'annotation'))
);
CREATE INDEX room_events_message_id_idx ON room_events (message_id) WHERE message_id IS NOT NULL;

INSERT INTO room_events (room_id, seq, kind, message_id, user_id, nonce, frame, created_at)
SELECT room_id, seq, kind, message_id, user_id, nonce, frame, created_at
FROM room_events_partitioned;

DROP TABLE room_events_partitioned;
