DROP INDEX message_search_words_idx;
ALTER TABLE message_search DROP COLUMN words;
CREATE INDEX message_search_words_idx ON message_search USING gin (to_tsvector('simple', text));
