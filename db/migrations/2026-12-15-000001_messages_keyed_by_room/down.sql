CREATE INDEX message_vectors_room_idx ON message_vectors (room_id);
ALTER TABLE message_vectors DROP CONSTRAINT message_vectors_pkey;
ALTER TABLE message_vectors ADD CONSTRAINT message_vectors_pkey PRIMARY KEY (message_id);

ALTER TABLE message_search DROP CONSTRAINT message_search_pkey;
ALTER TABLE message_search ADD CONSTRAINT message_search_pkey PRIMARY KEY (message_id);

ALTER TABLE attachments DROP CONSTRAINT attachments_message_fkey;
DROP INDEX attachments_message;
CREATE INDEX attachments_message ON attachments (message_id);
DROP INDEX attachments_token;
ALTER TABLE attachments DROP CONSTRAINT attachments_room_token_key;
ALTER TABLE attachments ADD CONSTRAINT attachments_token_key UNIQUE (token);
ALTER TABLE attachments DROP CONSTRAINT attachments_pkey;
ALTER TABLE attachments ADD CONSTRAINT attachments_pkey PRIMARY KEY (id);

ALTER TABLE message_annotations DROP CONSTRAINT message_annotations_message_fkey;
ALTER TABLE message_annotations DROP CONSTRAINT message_annotations_pkey;
ALTER TABLE message_annotations ADD CONSTRAINT message_annotations_pkey PRIMARY KEY (message_id, kind);

ALTER TABLE message_reactions DROP CONSTRAINT message_reactions_message_fkey;
ALTER TABLE message_reactions DROP CONSTRAINT message_reactions_pkey;
ALTER TABLE message_reactions ADD CONSTRAINT message_reactions_pkey
    PRIMARY KEY (message_id, user_id, emoji);
ALTER TABLE message_reactions DROP COLUMN room_id;

DROP INDEX messages_reply_to_idx;
CREATE INDEX messages_reply_to_id_idx ON messages (reply_to_id) WHERE reply_to_id IS NOT NULL;
ALTER TABLE messages DROP CONSTRAINT messages_reply_to_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY (id);
ALTER TABLE messages ADD CONSTRAINT messages_reply_to_id_fkey
    FOREIGN KEY (reply_to_id) REFERENCES messages (id) ON DELETE SET NULL;

ALTER TABLE message_reactions ADD CONSTRAINT message_reactions_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE;
ALTER TABLE message_annotations ADD CONSTRAINT message_annotations_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE;
ALTER TABLE attachments ADD CONSTRAINT attachments_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE;
