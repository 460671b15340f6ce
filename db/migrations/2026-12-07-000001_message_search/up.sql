-- Search over messages, kept apart from the hot `messages` table: the send
-- path writes nothing here (a GIN index on `messages` was dropped in
-- 2026-11-29-000002 because every send paid for it). The worker follows
-- each room's event log and keeps one row per live message; deletions
-- also erase the row in their own transaction.

-- How far each consumer of the event log has got in each room (a room's
-- log is a gap-free sequence, so one seq says everything before it is
-- done). No foreign key: rows of deleted rooms are swept by the worker.
CREATE TABLE log_cursors (
    consumer TEXT   NOT NULL,
    room_id  BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (consumer, room_id)
);

-- A live message's current text, for full-text and partial-word search.
-- No foreign keys (like `messages` since 2026-11-29-000003).
CREATE TABLE message_search (
    message_id BIGINT      PRIMARY KEY,
    room_id    BIGINT      NOT NULL,
    seq        BIGINT      NOT NULL,
    user_id    BIGINT      NOT NULL,
    sent_at    TIMESTAMPTZ NOT NULL,
    text       TEXT        NOT NULL
);

-- Whole words in any language: `simple` neither stems nor drops stop
-- words; partial words come from the trigram index.
CREATE INDEX message_search_words_idx ON message_search USING gin (to_tsvector('simple', text));
CREATE INDEX message_search_trigram_idx ON message_search USING gin (text gin_trgm_ops);
CREATE INDEX message_search_room_seq_idx ON message_search (room_id, seq);
CREATE INDEX message_search_user_idx ON message_search (user_id, sent_at);
