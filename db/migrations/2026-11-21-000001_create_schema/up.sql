-- Parley's schema. This migration is the one source of truth; schema.rs is
-- generated from it by `diesel print-schema` and checked for drift by scripts/test.

-- Trigram indexes make `ILIKE '%q%'` room search use an index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT        NOT NULL CHECK (char_length(username) BETWEEN 3 AND 32),
    email         TEXT        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Names and e-mails are unique ignoring case; these also serve login look-ups.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- One row per login. A token names its session (`sid`); logout revokes the
-- session, which both services check, and `expires_at` is the absolute limit.
CREATE TABLE sessions (
    id         UUID        PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- Lets the chat service find sessions revoked since its last look.
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE rooms (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    topic      TEXT        NOT NULL DEFAULT '' CHECK (char_length(topic) <= 256),
    owner_id   BIGINT      REFERENCES users (id) ON DELETE SET NULL,
    -- The seq of the room's newest message; the next message takes last_seq + 1.
    last_seq   BIGINT      NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Unique ignoring case, and the key the room list is ordered and paged by.
CREATE UNIQUE INDEX rooms_name_lower_key ON rooms (lower(name));
CREATE INDEX rooms_name_trgm_idx ON rooms USING gin (name gin_trgm_ops);
CREATE INDEX rooms_topic_trgm_idx ON rooms USING gin (topic gin_trgm_ops);
CREATE INDEX rooms_owner_id_idx ON rooms (owner_id);

CREATE TABLE room_members (
    room_id       BIGINT      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The newest seq this member has seen; unread = rooms.last_seq - last_read_seq.
    last_read_seq BIGINT      NOT NULL DEFAULT 0,
    joined_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user_id_idx ON room_members (user_id);

CREATE TABLE messages (
    id      BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id BIGINT      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq     BIGINT      NOT NULL CHECK (seq > 0),
    user_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body    TEXT        NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000),
    nonce   TEXT        NOT NULL CHECK (char_length(nonce) BETWEEN 1 AND 64),
    sent_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- History and replay read by (room_id, seq).
    CONSTRAINT messages_room_seq_key UNIQUE (room_id, seq),
    -- A resent nonce finds the stored message instead of storing it twice.
    CONSTRAINT messages_room_user_nonce_key UNIQUE (room_id, user_id, nonce)
);
CREATE INDEX messages_user_id_idx ON messages (user_id);
