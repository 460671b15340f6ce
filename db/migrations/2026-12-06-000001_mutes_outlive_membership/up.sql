-- A mute lived on the membership row, so leaving the room and coming back
-- (posting makes one a member of a public room; any member may invite to a
-- private one) lifted it. Mutes get a table of their own, like bans: one
-- may leave while muted, and the mute is still there on one's return.
CREATE TABLE room_mutes (
    room_id    bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 9999-12-31: until lifted.
    until      timestamptz NOT NULL,
    by_id      bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_mutes_user_id_idx ON room_mutes (user_id);
INSERT INTO room_mutes (room_id, user_id, until)
SELECT room_id, user_id, muted_until FROM room_members WHERE muted_until IS NOT NULL;
ALTER TABLE room_members DROP COLUMN muted_until;
