-- What a person needs to recognise their sessions on the settings page:
-- the browser that signed in, from where (the rate limits' network key),
-- and when it was last used (updated at most every few minutes, not on
-- every request).
ALTER TABLE sessions
    ADD COLUMN user_agent text NOT NULL DEFAULT '' CHECK (char_length(user_agent) <= 256),
    ADD COLUMN address text NOT NULL DEFAULT '' CHECK (char_length(address) <= 64),
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
