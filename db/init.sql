-- Parley's seed: the rooms every installation starts with. Run after the
-- migrations by `website migrate` (and so by scripts/run, scripts/test and
-- the containers), inside the migration lock. Idempotent: running it again
-- changes nothing.
INSERT INTO rooms (name, topic)
VALUES ('general', 'Anything and everything'),
       ('random', 'Off-topic chatter')
ON CONFLICT ((lower(name))) WHERE visibility = 'public' DO NOTHING;
-- Every room has its counter (room_seqs), made with it.
INSERT INTO room_seqs (room_id)
SELECT id FROM rooms WHERE visibility = 'public' AND lower(name) IN ('general', 'random')
ON CONFLICT (room_id) DO NOTHING;
