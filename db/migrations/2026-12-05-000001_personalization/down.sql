DROP INDEX rooms_public_search_idx;
DROP TABLE room_usage;
ALTER TABLE user_preferences DROP COLUMN sidebar_order;
