-- Semantic search: one sentence vector per live message, made by the
-- worker from the event log (never on the send path), stored as 384 int8
-- values and their scale (388 bytes a message). Vectors are derived text:
-- a deletion erases its message's vector in its own transaction, like its
-- search row. No foreign keys (like `messages`).
CREATE TABLE message_vectors (
    message_id BIGINT   PRIMARY KEY,
    room_id    BIGINT   NOT NULL,
    model      SMALLINT NOT NULL,
    scale      REAL     NOT NULL,
    v          BYTEA    NOT NULL CHECK (octet_length(v) = 384)
);
CREATE INDEX message_vectors_room_idx ON message_vectors (room_id);
