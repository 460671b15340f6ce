ALTER TABLE user_preferences DROP COLUMN show_emotions;
ALTER TABLE rooms DROP COLUMN emotions;
DROP TABLE message_annotations;
DELETE FROM room_events WHERE kind = 'annotation';
ALTER TABLE room_events DROP CONSTRAINT room_events_kind_check;
ALTER TABLE room_events ADD CONSTRAINT room_events_kind_check
    CHECK (kind IN ('message', 'edited', 'deleted', 'reaction', 'moderation'));
