-- Unread mention counts walk a room's messages by (room_id, seq) after the
-- read mark and test `$1 = ANY(mentions)` on each: no query can use a GIN
-- index on mentions, and every message insert paid for maintaining one.
DROP INDEX messages_mentions_idx;
