ALTER TABLE rooms
    ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
UPDATE rooms r SET last_seq = s.last_seq, message_count = s.message_count
FROM room_seqs s WHERE s.room_id = r.id;
COMMENT ON COLUMN rooms.last_seq IS
    'The seq of the room''s newest event; the next event takes last_seq + 1.';
DROP TABLE room_seqs;
