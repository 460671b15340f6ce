-- A message may be its files alone (a voice message, a picture): its text
-- may be empty then. Whether a message without text has files is the
-- messenger's rule (MessageBody::parse_beside_files): another table holds them.
ALTER TABLE messages DROP CONSTRAINT messages_body_check;
ALTER TABLE messages ADD CONSTRAINT messages_body_check CHECK (
    CASE WHEN deleted_at IS NULL THEN char_length(body) <= 4000
         ELSE body = '' AND html = '' END
);
