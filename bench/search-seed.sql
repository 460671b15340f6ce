-- The search scenario's corpus (scripts/bench): :rooms public rooms of
-- :per_room messages each, 6-15 words from a 48-word vocabulary (so a
-- common word is in about a fifth of them), by 50 people, committed in one
-- transaction. Written straight into `messages` and `room_events` (the send
-- path is measured by the other scenarios): what is measured here is the
-- worker following those logs and the searches over them.
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO users (username, email, password_hash)
SELECT 'corpus' || g, 'corpus' || g || '@example.com', '!' FROM generate_series(1, 50) g;
INSERT INTO rooms (name, topic, visibility, kind, owner_id)
SELECT 'corpus' || g, '', 'public', 'room', (SELECT min(id) FROM users WHERE username LIKE 'corpus%')
FROM generate_series(1, :rooms) g;
CREATE TEMP TABLE words AS SELECT unnest(string_to_array(
 'deploy release ship friday monday database migration cluster restart incident outage fix bug test '
 'build pipeline merge review lunch coffee meeting plan budget launch customer invoice report dashboard '
 'latency error timeout cache index query search login password token session upload image video audio '
 'mobile desktop browser server network config backup restore', ' ')) AS w;
WITH r AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM rooms WHERE name LIKE 'corpus%'),
     u AS (SELECT array_agg(id) AS ids FROM users WHERE username LIKE 'corpus%'),
     w AS (SELECT array_agg(w) AS ws FROM words),
     m AS (
       SELECT r.id AS room_id, s AS seq,
              u.ids[1 + (s * 7 + r.n) % 50] AS user_id,
              (SELECT string_agg(w.ws[1 + ((s * 31 + r.n * 17 + k * 13) % array_length(w.ws, 1))], ' ')
                 FROM generate_series(1, 6 + (s % 10)) k) AS body
       FROM r, u, w, generate_series(1, :per_room) s)
INSERT INTO messages (room_id, seq, user_id, body, nonce, sent_at, html)
SELECT room_id, seq, user_id, body, 'corpus-' || room_id || '-' || seq,
       now() - (:per_room - seq) * interval '1 minute', '<p>' || body || '</p>'
FROM m;
INSERT INTO room_events (room_id, seq, kind, message_id, user_id, nonce, frame)
SELECT room_id, seq, 'message', id, user_id, nonce, '{}' FROM messages WHERE nonce LIKE 'corpus-%';
INSERT INTO room_seqs (room_id, last_seq, message_count)
SELECT id, :per_room, :per_room FROM rooms WHERE name LIKE 'corpus%';
COMMIT;
