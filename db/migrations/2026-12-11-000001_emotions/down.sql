ALTER TABLE user_preferences DROP COLUMN show_emotions;
ALTER TABLE rooms DROP COLUMN emotions;
DROP TABLE message_annotations;
