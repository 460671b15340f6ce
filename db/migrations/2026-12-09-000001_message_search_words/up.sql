-- The words of each search row kept as a stored tsvector: matching and
-- ranking read it instead of running to_tsvector over every candidate's
-- text again (a word in a fifth of 100,000 messages cost a quarter of a
-- second, most of it there). Search rows are derived data the worker
-- writes, never the send path, so the extra column costs no send.
DROP INDEX message_search_words_idx;
ALTER TABLE message_search
    ADD COLUMN words tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;
CREATE INDEX message_search_words_idx ON message_search USING gin (words);
