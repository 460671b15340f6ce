-- Issue 14: the event log partitioned by hash of room id, 16 ways
-- (room_events_p0 .. room_events_p15). Every query of one room names its
-- room and so reads one partition; each partition's indexes are a
-- sixteenth of the log's, vacuumed on their own. It is also the shape Citus
-- distributes by `room_id` (docs/SCALING.md): every unique key includes
-- the room, and nothing refers to the log by a foreign key.
--
-- The table is rebuilt: the old one is renamed, its rows copied into the
-- new one (a brief exclusive lock on a live system; run it with the
-- services stopped, like every migration here).

ALTER TABLE room_events RENAME TO room_events_unpartitioned;
ALTER INDEX room_events_pkey RENAME TO room_events_unpartitioned_pkey;
ALTER INDEX room_events_room_user_nonce_key RENAME TO room_events_unpartitioned_nonce_key;
ALTER INDEX room_events_message_id_idx RENAME TO room_events_unpartitioned_message_id_idx;

CREATE TABLE room_events (
    room_id    BIGINT      NOT NULL,
    -- 1, 2, 3, ... within the room with no holes: room_seqs.last_seq is
    -- the newest.
    seq        BIGINT      NOT NULL CONSTRAINT room_events_seq_check CHECK (seq > 0),
    kind       TEXT        NOT NULL,
    -- The message the event is about (for 'message': the one it created).
    message_id BIGINT,
    user_id    BIGINT      NOT NULL,
    -- The client's idempotency key: the same nonce again stores nothing
    -- and answers this event.
    nonce      TEXT        NOT NULL
        CONSTRAINT room_events_nonce_check CHECK (char_length(nonce) BETWEEN 1 AND 64),
    -- The frame every client gets, exactly as sent (redacted when its
    -- message is deleted).
    frame      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT room_events_pkey PRIMARY KEY (room_id, seq),
    CONSTRAINT room_events_room_user_nonce_key UNIQUE (room_id, user_id, nonce),
    CONSTRAINT room_events_kind_check
        CHECK (kind IN ('message', 'edited', 'deleted', 'reaction', 'moderation', 'annotation'))
) PARTITION BY HASH (room_id);

-- Each partition's copy of a unique key is named by Postgres
-- (`room_events_p3_room_id_user_id_nonce_key`), and a violation names
-- that copy: store::events recognises both.
DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format(
            'CREATE TABLE room_events_p%s PARTITION OF room_events '
            'FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
    END LOOP;
END
$$;

-- A deletion finds the frames that still carry its message's text, and a
-- follower the events of the messages it reads: always within a room.
CREATE INDEX room_events_message_id_idx ON room_events (room_id, message_id)
    WHERE message_id IS NOT NULL;

INSERT INTO room_events (room_id, seq, kind, message_id, user_id, nonce, frame, created_at)
SELECT room_id, seq, kind, message_id, user_id, nonce, frame, created_at
FROM room_events_unpartitioned;

DROP TABLE room_events_unpartitioned;

ANALYZE room_events;
