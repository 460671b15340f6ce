DROP INDEX rooms_assistant_owner_idx;
DELETE FROM rooms WHERE kind = 'assistant';
ALTER TABLE rooms DROP CONSTRAINT rooms_kind_check;
ALTER TABLE rooms ADD CONSTRAINT rooms_kind_check CHECK (kind IN ('room', 'dm'));
