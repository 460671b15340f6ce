-- The room as an ordered log of events. Until now `seq` belonged to
-- `messages`; from here on every sequenced thing that happens in a room (a
-- new message, an edit, a deletion, a reaction) is a row of `room_events`,
-- and `messages` is the current state those events leave behind. Catch-up,
-- replay and `GET /api/v1/rooms/{id}/events` read the log's stored frames,
-- so the chat service never needs to know event kinds.

CREATE TABLE room_events (
    room_id    BIGINT      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    -- 1, 2, 3, ... within the room with no holes: rooms.last_seq is the newest.
    seq        BIGINT      NOT NULL CHECK (seq > 0),
    kind       TEXT        NOT NULL CHECK (kind IN ('message', 'edited', 'deleted', 'reaction')),
    -- The message the event is about (for 'message': the one it created).
    message_id BIGINT,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The client's idempotency key: the same nonce again stores nothing and
    -- answers this event.
    nonce      TEXT        NOT NULL CHECK (char_length(nonce) BETWEEN 1 AND 64),
    -- The frame every client gets, exactly as sent (redacted when its
    -- message is deleted).
    frame      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq),
    CONSTRAINT room_events_room_user_nonce_key UNIQUE (room_id, user_id, nonce)
);
-- A delete finds the frames that still carry its message's text.
CREATE INDEX room_events_message_id_idx ON room_events (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX room_events_user_id_idx ON room_events (user_id);

-- `messages` becomes the current state: the rendered HTML, who is mentioned,
-- what it answers, and whether it was edited or deleted. `seq` stays the seq
-- of the event that created the message (anchors, history pages, unread).
ALTER TABLE messages
    ADD COLUMN html        TEXT     NOT NULL DEFAULT '',
    ADD COLUMN mentions    BIGINT[] NOT NULL DEFAULT '{}',
    ADD COLUMN reply_to_id BIGINT   REFERENCES messages (id) ON DELETE SET NULL,
    ADD COLUMN edited_at   TIMESTAMPTZ,
    ADD COLUMN deleted_at  TIMESTAMPTZ;
-- A deleted message keeps its place but not its text.
ALTER TABLE messages DROP CONSTRAINT messages_body_check;
ALTER TABLE messages ADD CONSTRAINT messages_body_check CHECK (
    CASE WHEN deleted_at IS NULL THEN char_length(body) BETWEEN 1 AND 4000
         ELSE body = '' AND html = '' END
);
CREATE INDEX messages_reply_to_id_idx ON messages (reply_to_id) WHERE reply_to_id IS NOT NULL;
-- Unread mentions: "messages of this room after my read mark that name me".
CREATE INDEX messages_mentions_idx ON messages USING gin (mentions);

-- Messages sent before Markdown existed were plain text: show them as such.
UPDATE messages SET html = '<p>' || replace(
    replace(replace(replace(replace(replace(body, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
        '"', '&quot;'), '''', '&#39;'),
    E'\n', E'<br>\n') || '</p>';

-- Every stored message becomes the event that created it, with its frame.
INSERT INTO room_events (room_id, seq, kind, message_id, user_id, nonce, frame, created_at)
SELECT m.room_id, m.seq, 'message', m.id, m.user_id, m.nonce,
       json_build_object(
           'type', 'message', 'room', m.room_id, 'seq', m.seq, 'id', m.id,
           'user', json_build_object('id', m.user_id, 'name', u.username),
           'body', m.body, 'html', m.html, 'mentions', '[]'::json,
           'sent_at', to_char(m.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'nonce', m.nonce)::text,
       m.sent_at
FROM messages m JOIN users u ON u.id = m.user_id;

-- Nonces are unique in the log now, for every kind of event.
ALTER TABLE messages DROP CONSTRAINT messages_room_user_nonce_key;

-- One reaction per user, message and emoji.
CREATE TABLE message_reactions (
    message_id BIGINT      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT        NOT NULL CHECK (octet_length(emoji) BETWEEN 1 AND 16),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX message_reactions_user_id_idx ON message_reactions (user_id);

-- The room's count of messages that are not deleted (last_seq counts events).
ALTER TABLE rooms ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
UPDATE rooms r SET message_count = (SELECT count(*) FROM messages m WHERE m.room_id = r.id);
COMMENT ON COLUMN rooms.last_seq IS
    'The seq of the room''s newest event; the next event takes last_seq + 1.';

-- Membership is explicit: a row is a member (no longer "has opened the
-- room"), with a role. Owners are members of their rooms.
ALTER TABLE room_members
    ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'moderator', 'member'));
INSERT INTO room_members (room_id, user_id, role)
SELECT id, owner_id, 'owner' FROM rooms WHERE owner_id IS NOT NULL
ON CONFLICT (room_id, user_id) DO UPDATE SET role = 'owner';
COMMENT ON COLUMN room_members.last_read_seq IS
    'The newest seq this member has read; it only moves forward. Unread counts '
    'are computed from the messages after it, never stored.';
