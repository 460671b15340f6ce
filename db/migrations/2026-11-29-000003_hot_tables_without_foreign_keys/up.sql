-- Every message inserts a row in `messages` and one in `room_events`. Their
-- foreign keys to rooms and users cost a trigger per row and key: a lookup
-- that also locks the room's and the author's rows (FOR KEY SHARE), about
-- 18 µs each, four per message (measured with EXPLAIN ANALYZE, see
-- docs/PERFORMANCE.md). The one writer has checked both already, under the
-- room's lock, in the same transaction. Rooms are deleted by
-- `store::rooms::delete`, which deletes their events and messages itself;
-- users are never deleted. The `user_id` indexes served only the cascades.
ALTER TABLE room_events DROP CONSTRAINT room_events_room_id_fkey,
                        DROP CONSTRAINT room_events_user_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_room_id_fkey,
                     DROP CONSTRAINT messages_user_id_fkey;
DROP INDEX room_events_user_id_idx;
DROP INDEX messages_user_id_idx;
