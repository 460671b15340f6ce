ALTER TABLE room_members ADD COLUMN muted_until timestamptz;
UPDATE room_members m SET muted_until = t.until
FROM room_mutes t WHERE t.room_id = m.room_id AND t.user_id = m.user_id;
DROP TABLE room_mutes;
