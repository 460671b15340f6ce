-- Personalization (issue 10, the original design's `personalization`
-- service): what is learned from a person's own activity, and their
-- choice of how the sidebar is ordered. Nothing here is read for anyone
-- but its own user, and only through their current memberships.

-- `usage`: by what the person uses most and most recently; `alphabetical`:
-- by name. With personalization off the sidebar is alphabetical anyway.
ALTER TABLE user_preferences
    ADD COLUMN sidebar_order TEXT NOT NULL DEFAULT 'usage'
        CHECK (sidebar_order IN ('usage', 'alphabetical'));

-- How much a person uses each room: page opens and read-mark moves, written
-- at most once per USAGE_WRITE_INTERVAL_SECS per person and room (never by
-- sending a message), and `posts`, their messages in the room counted (up
-- to a cap) when a use is written. Read only joined with room_members, so
-- a room they left or were removed from stops counting at once; turning
-- personalization off deletes their rows.
CREATE TABLE room_usage (
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id      BIGINT      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    opens        INTEGER     NOT NULL DEFAULT 0 CHECK (opens >= 0),
    posts        INTEGER     NOT NULL DEFAULT 0 CHECK (posts >= 0),
    last_used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room_id)
);
-- A room's deletion finds its rows without a scan.
CREATE INDEX room_usage_room_id_idx ON room_usage (room_id);

-- "Rooms like the ones you joined": full-text search over public rooms'
-- names and topics. An expression index rather than a generated column:
-- the rooms row is updated by every message (last_seq), and a stored
-- generated column would be computed again on each of those updates.
CREATE INDEX rooms_public_search_idx ON rooms
    USING gin (to_tsvector('english', name || ' ' || topic))
    WHERE visibility = 'public' AND kind = 'room';
