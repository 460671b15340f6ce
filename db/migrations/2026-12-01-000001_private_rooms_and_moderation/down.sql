ALTER TABLE room_events DROP CONSTRAINT room_events_kind_check;
DELETE FROM room_events WHERE kind = 'moderation';
ALTER TABLE room_events ADD CONSTRAINT room_events_kind_check
    CHECK (kind IN ('message', 'edited', 'deleted', 'reaction'));
DROP TABLE moderation_actions;
DROP TABLE room_invites;
DROP TABLE room_bans;
DROP INDEX room_members_one_owner_key;
ALTER TABLE room_members DROP COLUMN muted_until, DROP COLUMN last_posted_at;
DELETE FROM rooms WHERE kind = 'dm';
DROP INDEX rooms_public_name_prefix_idx;
DROP INDEX rooms_public_name_lower_key;
DELETE FROM rooms a USING rooms b
    WHERE lower(a.name) = lower(b.name) AND a.id > b.id;
CREATE UNIQUE INDEX rooms_name_lower_key ON rooms (lower(name));
CREATE INDEX rooms_name_prefix_idx ON rooms (lower(name) text_pattern_ops);
ALTER TABLE rooms DROP CONSTRAINT rooms_name_check;
ALTER TABLE rooms ADD CONSTRAINT rooms_name_check CHECK (char_length(name) BETWEEN 1 AND 64);
ALTER TABLE rooms DROP CONSTRAINT rooms_dm_key_check, DROP CONSTRAINT rooms_dm_is_private,
    DROP COLUMN dm_key, DROP COLUMN restricted_until, DROP COLUMN slow_mode_secs,
    DROP COLUMN kind, DROP COLUMN visibility;
