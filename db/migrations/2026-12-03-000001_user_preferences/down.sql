DROP TABLE room_notification_levels;
DROP TABLE user_preferences;
