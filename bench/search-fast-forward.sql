-- After the search scenario has timed the `vectors` follower (scripts/bench),
-- the corpus's remaining messages get vectors copied from those it made and
-- its cursors jump to the end: a search's cost (embed the query, scan every
-- readable vector) does not depend on the vectors' values, and the follower
-- would otherwise embed for many minutes, a core taken from the scenarios
-- that follow. Cursors only move forward (store::cursors::advance), so a
-- batch the follower is finishing cannot move them back.
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO log_cursors (consumer, room_id, seq)
SELECT 'vectors', s.room_id, s.last_seq FROM room_seqs s JOIN rooms r ON r.id = s.room_id WHERE r.name LIKE 'corpus%'
ON CONFLICT (consumer, room_id) DO UPDATE SET seq = greatest(log_cursors.seq, excluded.seq);
WITH made AS (
       SELECT v.model, v.scale, v.v, row_number() OVER (ORDER BY v.message_id) - 1 AS k, count(*) OVER () AS total
       FROM message_vectors v JOIN rooms r ON r.id = v.room_id WHERE r.name LIKE 'corpus%'),
     missing AS (
       SELECT m.id, m.room_id, row_number() OVER (ORDER BY m.id) AS n
       FROM messages m JOIN rooms r ON r.id = m.room_id
       WHERE r.name LIKE 'corpus%' AND NOT EXISTS (SELECT 1 FROM message_vectors v WHERE v.room_id = m.room_id AND v.message_id = m.id))
INSERT INTO message_vectors (message_id, room_id, model, scale, v)
SELECT missing.id, missing.room_id, made.model, made.scale, made.v
FROM missing JOIN made ON made.k = missing.n % made.total
ON CONFLICT (message_id) DO NOTHING;
COMMIT;
