-- A person's preferences (issue 10, the original design's
-- `user_preferences`): how pages look (theme, density), how times read
-- (time zone, clock), how the composer sends, what notifies them, and what
-- others may see of them (typing, presence). No row means every default, so
-- an account that never opened its settings costs nothing; the checks hold
-- the same values `common::preferences` accepts.
CREATE TABLE user_preferences (
    user_id         BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    theme           TEXT        NOT NULL DEFAULT 'system' CHECK (theme IN ('system', 'light', 'dark')),
    -- An IANA name (validated by the application against chrono-tz).
    time_zone       TEXT        NOT NULL DEFAULT 'UTC' CHECK (char_length(time_zone) BETWEEN 1 AND 64),
    clock           TEXT        NOT NULL DEFAULT '24h' CHECK (clock IN ('24h', '12h')),
    density         TEXT        NOT NULL DEFAULT 'comfortable' CHECK (density IN ('comfortable', 'compact')),
    -- false: Ctrl/Cmd+Enter sends and Enter starts a new line.
    enter_sends     BOOLEAN     NOT NULL DEFAULT true,
    notify_browser  BOOLEAN     NOT NULL DEFAULT false,
    notify_default  TEXT        NOT NULL DEFAULT 'mentions' CHECK (notify_default IN ('all', 'mentions', 'nothing')),
    show_typing     BOOLEAN     NOT NULL DEFAULT true,
    appear_offline  BOOLEAN     NOT NULL DEFAULT false,
    personalization BOOLEAN     NOT NULL DEFAULT true,
    emotion_tagging BOOLEAN     NOT NULL DEFAULT true,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A room's notification level for one person, overriding their
-- `notify_default`; no row means the default.
CREATE TABLE room_notification_levels (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    level   TEXT   NOT NULL CHECK (level IN ('all', 'mentions', 'nothing')),
    PRIMARY KEY (user_id, room_id)
);
-- A room's deletion finds its rows without a scan.
CREATE INDEX room_notification_levels_room_id_idx ON room_notification_levels (room_id);
