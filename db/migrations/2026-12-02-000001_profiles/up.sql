-- Profiles and blocks (issue 10). A person shows a display name (empty:
-- their username) and a short bio. The checks repeat what
-- `common::domain::{DisplayName, Bio}` enforce, so no other writer can store
-- a name that reads other than it is: no control, invisible (U+200B, U+2060,
-- U+FEFF) or direction-changing (U+202A-202E, U+2066-2069) characters; a bio
-- may hold line breaks.
ALTER TABLE users
    ADD COLUMN display_name TEXT NOT NULL DEFAULT ''
        CHECK (char_length(display_name) <= 64
               AND display_name !~ '[\u0001-\u001F\u007F-\u009F\u200B\u2060\uFEFF\u202A-\u202E\u2066-\u2069]'),
    ADD COLUMN bio TEXT NOT NULL DEFAULT ''
        CHECK (char_length(bio) <= 300
               AND bio !~ '[\u0001-\u0009\u000B-\u001F\u007F-\u009F\u200B\u2060\uFEFF\u202A-\u202E\u2066-\u2069]');

-- Who blocked whom: the blocker sees the blocked person's messages
-- collapsed, and (with direct messages) gets none from them. Looked up by
-- the blocker (the primary key) and, for "who blocked me" checks, by the
-- blocked person.
CREATE TABLE user_blocks (
    blocker_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX user_blocks_blocked_id_idx ON user_blocks (blocked_id);
