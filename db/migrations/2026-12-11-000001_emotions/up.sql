-- Issue 12: emotion tags. A message's latest annotation of each kind (the
-- event log keeps every one; this is the current state, for history and
-- the mood of a room), the owner's switch per room, and the reader's
-- choice to hide the markers.
CREATE TABLE message_annotations (
    message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    kind text NOT NULL,
    room_id bigint NOT NULL,
    -- The message's author: whose opt-out removes it.
    user_id bigint NOT NULL,
    -- The seq of the annotation event.
    seq bigint NOT NULL,
    -- When the message was sent: the mood's time axis.
    sent_at timestamptz NOT NULL,
    -- The labels as the event carries them (JSON, decreasing score).
    labels text NOT NULL,
    -- The first label and its score, for the mood queries.
    top text NOT NULL,
    top_score real NOT NULL,
    model text NOT NULL,
    PRIMARY KEY (message_id, kind)
);
CREATE INDEX message_annotations_room_time ON message_annotations (room_id, kind, sent_at);
CREATE INDEX message_annotations_user ON message_annotations (user_id);

-- The log gains the annotation event.
ALTER TABLE room_events DROP CONSTRAINT room_events_kind_check;
ALTER TABLE room_events ADD CONSTRAINT room_events_kind_check
    CHECK (kind IN ('message', 'edited', 'deleted', 'reaction', 'moderation', 'annotation'));

ALTER TABLE rooms ADD COLUMN emotions boolean NOT NULL DEFAULT true;
ALTER TABLE user_preferences ADD COLUMN show_emotions boolean NOT NULL DEFAULT true;
