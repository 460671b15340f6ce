-- Messages of files alone have no place under the older rule: deleted.
UPDATE messages SET deleted_at = now(), html = '' WHERE deleted_at IS NULL AND body = '';
ALTER TABLE messages DROP CONSTRAINT messages_body_check;
ALTER TABLE messages ADD CONSTRAINT messages_body_check CHECK (
    CASE WHEN deleted_at IS NULL THEN char_length(body) BETWEEN 1 AND 4000
         ELSE body = '' AND html = '' END
);
