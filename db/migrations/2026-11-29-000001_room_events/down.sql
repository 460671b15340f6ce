ALTER TABLE room_members DROP COLUMN role;
ALTER TABLE rooms DROP COLUMN message_count;
DROP TABLE message_reactions;
-- Deleted messages cannot come back: their text is gone.
DELETE FROM messages WHERE deleted_at IS NOT NULL;
ALTER TABLE messages ADD CONSTRAINT messages_room_user_nonce_key UNIQUE (room_id, user_id, nonce);
ALTER TABLE messages DROP CONSTRAINT messages_body_check;
ALTER TABLE messages ADD CONSTRAINT messages_body_check CHECK (char_length(body) BETWEEN 1 AND 4000);
DROP INDEX messages_mentions_idx;
DROP INDEX messages_reply_to_id_idx;
ALTER TABLE messages
    DROP COLUMN html, DROP COLUMN mentions, DROP COLUMN reply_to_id,
    DROP COLUMN edited_at, DROP COLUMN deleted_at;
DROP TABLE room_events;
