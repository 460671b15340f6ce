CREATE INDEX messages_mentions_idx ON messages USING gin (mentions);
