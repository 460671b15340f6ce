CREATE INDEX messages_user_id_idx ON messages (user_id);
CREATE INDEX room_events_user_id_idx ON room_events (user_id);
ALTER TABLE messages ADD CONSTRAINT messages_room_id_fkey
        FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
    ADD CONSTRAINT messages_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE room_events ADD CONSTRAINT room_events_room_id_fkey
        FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
    ADD CONSTRAINT room_events_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
