DROP TABLE user_blocks;
ALTER TABLE users DROP COLUMN display_name, DROP COLUMN bio;
