ALTER TABLE sessions DROP COLUMN user_agent, DROP COLUMN address, DROP COLUMN last_seen_at;
