-- People and rooms: a room is public (listed, joinable) or private (for its
-- members only); a direct message is a private room of kind 'dm' without a
-- name. Members have a role; moderators keep order with bans, mutes, kicks
-- and slow mode, each a sequenced event of the room's log.

ALTER TABLE rooms
    ADD COLUMN visibility text NOT NULL DEFAULT 'public'
        CHECK (visibility IN ('public', 'private')),
    ADD COLUMN kind text NOT NULL DEFAULT 'room' CHECK (kind IN ('room', 'dm')),
    -- One message per this many seconds per member (0: off).
    ADD COLUMN slow_mode_secs integer NOT NULL DEFAULT 0
        CHECK (slow_mode_secs BETWEEN 0 AND 21600),
    -- The latest end of a mute or ban ever given in the room (9999-12-31 for
    -- good): until then, posting looks up the authors' standing; after it,
    -- a public room's messages are written in bulk without one. "For good"
    -- is stored as 9999-12-31 (chrono cannot read 'infinity').
    ADD COLUMN restricted_until timestamptz,
    -- A DM's members, sorted ids joined by commas: one conversation per set.
    ADD COLUMN dm_key text UNIQUE,
    ADD CONSTRAINT rooms_dm_is_private CHECK (kind = 'room' OR visibility = 'private'),
    ADD CONSTRAINT rooms_dm_key_check CHECK ((kind = 'dm') = (dm_key IS NOT NULL));
-- A DM has no name; a room's name is 1 to 64 characters.
ALTER TABLE rooms DROP CONSTRAINT rooms_name_check;
ALTER TABLE rooms ADD CONSTRAINT rooms_name_check CHECK (
    CASE WHEN kind = 'dm' THEN name = '' ELSE char_length(name) BETWEEN 1 AND 64 END
);
-- Names are unique among public rooms only: a unique private name would
-- tell anyone who tries it that the private room exists.
DROP INDEX rooms_name_lower_key;
CREATE UNIQUE INDEX rooms_public_name_lower_key ON rooms (lower(name))
    WHERE visibility = 'public';
DROP INDEX rooms_name_prefix_idx;
CREATE INDEX rooms_public_name_prefix_idx ON rooms (lower(name) text_pattern_ops)
    WHERE visibility = 'public';

ALTER TABLE room_members
    -- Reads, cannot post or react, until then (9999-12-31: until lifted).
    ADD COLUMN muted_until timestamptz,
    -- When the member's last message was written (slow mode).
    ADD COLUMN last_posted_at timestamptz;
-- One owner per room.
CREATE UNIQUE INDEX room_members_one_owner_key ON room_members (room_id) WHERE role = 'owner';

-- Who may not come back to a room, until when (NULL: for good).
CREATE TABLE room_bans (
    room_id    bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until      timestamptz,
    by_id      bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_bans_user_id_idx ON room_bans (user_id);

-- An invitation to a room: to one person (invitee_id), or a link anyone
-- holding it may use (token_hash: the SHA-256 of the token in the link).
CREATE TABLE room_invites (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id     bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    inviter_id  bigint      REFERENCES users (id) ON DELETE SET NULL,
    invitee_id  bigint      REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea       UNIQUE,
    expires_at  timestamptz,
    max_uses    integer     CHECK (max_uses > 0),
    uses        integer     NOT NULL DEFAULT 0,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT room_invites_one_kind CHECK ((invitee_id IS NULL) <> (token_hash IS NULL)),
    CONSTRAINT room_invites_uses_check CHECK (max_uses IS NULL OR uses <= max_uses)
);
-- One pending invitation per person and room.
CREATE UNIQUE INDEX room_invites_pending_key ON room_invites (room_id, invitee_id)
    WHERE invitee_id IS NOT NULL AND revoked_at IS NULL;
CREATE INDEX room_invites_invitee_id_idx ON room_invites (invitee_id)
    WHERE invitee_id IS NOT NULL AND revoked_at IS NULL;

-- The moderation log: who did what to whom, with the reason (which only
-- the room's moderators see; the room's event carries no reason).
CREATE TABLE moderation_actions (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id    bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        bigint      NOT NULL,
    actor_id   bigint      REFERENCES users (id) ON DELETE SET NULL,
    target_id  bigint      REFERENCES users (id) ON DELETE SET NULL,
    message_id bigint,
    action     text        NOT NULL CHECK (action IN (
        'delete', 'kick', 'ban', 'unban', 'mute', 'unmute', 'role', 'owner',
        'topic', 'visibility', 'slow_mode')),
    detail     text        NOT NULL DEFAULT '' CHECK (char_length(detail) <= 300),
    until      timestamptz,
    reason     text        NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_actions_room_idx ON moderation_actions (room_id, id DESC);

ALTER TABLE room_events DROP CONSTRAINT room_events_kind_check;
ALTER TABLE room_events ADD CONSTRAINT room_events_kind_check
    CHECK (kind IN ('message', 'edited', 'deleted', 'reaction', 'moderation'));
