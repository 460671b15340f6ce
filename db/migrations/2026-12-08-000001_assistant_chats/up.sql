-- Assistant chats: a private room of kind 'assistant' per conversation
-- with the assistant, owned by its person, whose members are that person
-- and the bot. Named like a room (1 to 64 characters); never listed in the
-- directory, suggestions or profiles.
ALTER TABLE rooms DROP CONSTRAINT rooms_kind_check;
ALTER TABLE rooms ADD CONSTRAINT rooms_kind_check CHECK (kind IN ('room', 'dm', 'assistant'));
-- A chat is private like a DM: `rooms_dm_is_private` (only a 'room' may
-- be public) already says so.
-- A person's chats, newest activity first (the sidebar, /assistant).
CREATE INDEX rooms_assistant_owner_idx ON rooms (owner_id) WHERE kind = 'assistant';
