-- Issue 14: every unique key and every foreign key of the tables keyed by
-- message includes the room, the column Citus distributes them by
-- (colocated with room_seqs and room_events, docs/SCALING.md). A message id
-- stays unique by itself (an identity); the room in front of it lets a
-- look-up, a join and a constraint check stay on the room's shard.

-- The foreign keys to messages (id) go before the key they point at.
ALTER TABLE attachments DROP CONSTRAINT attachments_message_id_fkey;
ALTER TABLE message_annotations DROP CONSTRAINT message_annotations_message_id_fkey;
ALTER TABLE message_reactions DROP CONSTRAINT message_reactions_message_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_reply_to_id_fkey;

ALTER TABLE messages DROP CONSTRAINT messages_pkey;
ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY (room_id, id);
-- A reply answers a message of its own room. No ON DELETE action: Citus
-- refuses SET NULL on a key that holds the distribution column (even
-- PostgreSQL 15's `SET NULL (reply_to_id)`). Messages are never deleted
-- one by one (a deletion erases the text and keeps the row); a room is
-- emptied newest first, so a reply always goes before what it answers.
ALTER TABLE messages ADD CONSTRAINT messages_reply_to_fkey
    FOREIGN KEY (room_id, reply_to_id) REFERENCES messages (room_id, id);
DROP INDEX messages_reply_to_id_idx;
CREATE INDEX messages_reply_to_idx ON messages (room_id, reply_to_id)
    WHERE reply_to_id IS NOT NULL;

ALTER TABLE message_reactions ADD COLUMN room_id BIGINT;
UPDATE message_reactions r SET room_id = m.room_id FROM messages m WHERE m.id = r.message_id;
ALTER TABLE message_reactions ALTER COLUMN room_id SET NOT NULL;
ALTER TABLE message_reactions DROP CONSTRAINT message_reactions_pkey;
ALTER TABLE message_reactions ADD CONSTRAINT message_reactions_pkey
    PRIMARY KEY (room_id, message_id, user_id, emoji);
ALTER TABLE message_reactions ADD CONSTRAINT message_reactions_message_fkey
    FOREIGN KEY (room_id, message_id) REFERENCES messages (room_id, id) ON DELETE CASCADE;

ALTER TABLE message_annotations DROP CONSTRAINT message_annotations_pkey;
ALTER TABLE message_annotations ADD CONSTRAINT message_annotations_pkey
    PRIMARY KEY (room_id, message_id, kind);
ALTER TABLE message_annotations ADD CONSTRAINT message_annotations_message_fkey
    FOREIGN KEY (room_id, message_id) REFERENCES messages (room_id, id) ON DELETE CASCADE;

-- An attachment's token is 128 random bits: unique within its room by a
-- constraint, and across rooms by chance; `/files/{token}` finds it by the
-- plain index (under Citus, a look-up on every shard).
ALTER TABLE attachments DROP CONSTRAINT attachments_pkey;
ALTER TABLE attachments ADD CONSTRAINT attachments_pkey PRIMARY KEY (room_id, id);
ALTER TABLE attachments DROP CONSTRAINT attachments_token_key;
ALTER TABLE attachments ADD CONSTRAINT attachments_room_token_key UNIQUE (room_id, token);
CREATE INDEX attachments_token ON attachments (token);
DROP INDEX attachments_message;
CREATE INDEX attachments_message ON attachments (room_id, message_id);
ALTER TABLE attachments ADD CONSTRAINT attachments_message_fkey
    FOREIGN KEY (room_id, message_id) REFERENCES messages (room_id, id) ON DELETE CASCADE;

ALTER TABLE message_search DROP CONSTRAINT message_search_pkey;
ALTER TABLE message_search ADD CONSTRAINT message_search_pkey PRIMARY KEY (room_id, message_id);

-- The new key leads with the room: the room's own index is redundant.
ALTER TABLE message_vectors DROP CONSTRAINT message_vectors_pkey;
ALTER TABLE message_vectors ADD CONSTRAINT message_vectors_pkey PRIMARY KEY (room_id, message_id);
DROP INDEX message_vectors_room_idx;
