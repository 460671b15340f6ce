-- Issue 14: each room's sequence counter in a narrow table of its own.
-- Every event of a room takes `last_seq + 1` under this row's lock, so the
-- row is written by every message; on `rooms` that write rewrote the whole
-- wide row (name, topic, settings) and its search indexes had to be
-- skipped by HOT. Here it is 3 numbers, updated in place (HOT: no indexed
-- column changes, fillfactor leaves room on the page), and the table is
-- keyed by the room like the log, so it can be distributed and colocated
-- with `room_events` (docs/SCALING.md) while `rooms` stays a reference
-- table that is written only when a room is created or changed.
--
-- The row of room_seqs is the room's lock: every writer of the room's log
-- takes it (`FOR UPDATE`, or the seq update itself), several rooms always
-- in ascending room id. `message_count` moves with `last_seq` because
-- the same statement changes both on every message.
CREATE TABLE room_seqs (
    room_id       BIGINT PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    -- The seq of the room's newest event; the next event takes last_seq + 1.
    last_seq      BIGINT NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    -- The room's messages that are not deleted (last_seq counts events).
    message_count BIGINT NOT NULL DEFAULT 0
) WITH (fillfactor = 70);

INSERT INTO room_seqs (room_id, last_seq, message_count)
SELECT id, last_seq, message_count FROM rooms;

ALTER TABLE rooms DROP COLUMN last_seq, DROP COLUMN message_count;
