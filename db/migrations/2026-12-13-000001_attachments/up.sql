-- Issue 13: attachments (images, voice messages and other files).
--
-- The bytes live in the blob store (local disk or an S3-compatible bucket),
-- named by their sha256: the same file uploaded twice is stored once. A
-- blob's row exists while an attachment uses it; the worker's sweeper
-- removes the bytes of rows no attachment references any more.
CREATE TABLE media_blobs (
    sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size bigint NOT NULL CHECK (size >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- An uploaded file: pending (no message yet, only its uploader sees it)
-- until a message claims it, then the message's. Deleting the message
-- deletes its attachments; the token (random, 128 bits) is the only way to
-- name one from outside, so links cannot be guessed.
CREATE TABLE attachments (
    id bigserial PRIMARY KEY,
    token text NOT NULL UNIQUE,
    room_id bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id bigint REFERENCES messages (id) ON DELETE CASCADE,
    position smallint NOT NULL DEFAULT 0,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('image', 'audio', 'file')),
    name text NOT NULL,
    mime text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    blob text NOT NULL REFERENCES media_blobs (sha256),
    -- An image's thumbnail; audio as the player plays it (the original or
    -- its Ogg/Opus conversion).
    thumb_blob text REFERENCES media_blobs (sha256),
    play_blob text REFERENCES media_blobs (sha256),
    -- What the page shows (JSON): an image's and its thumbnail's sizes,
    -- the thumbnail's and the player's types, audio's duration and
    -- waveform.
    details text NOT NULL DEFAULT '{}'
);
CREATE INDEX attachments_message ON attachments (message_id);
CREATE INDEX attachments_pending ON attachments (user_id, uploaded_at) WHERE message_id IS NULL;
CREATE INDEX attachments_blob ON attachments (blob);
CREATE INDEX attachments_thumb_blob ON attachments (thumb_blob) WHERE thumb_blob IS NOT NULL;
CREATE INDEX attachments_play_blob ON attachments (play_blob) WHERE play_blob IS NOT NULL;

-- A transcript is an annotation with text rather than labels.
ALTER TABLE message_annotations ADD COLUMN text text NOT NULL DEFAULT '';

-- A message may be files alone: its text may then be empty (the send path
-- allows that only with attachments).
ALTER TABLE messages DROP CONSTRAINT messages_body_check;
ALTER TABLE messages ADD CONSTRAINT messages_body_check CHECK (
    CASE WHEN deleted_at IS NULL THEN char_length(body) <= 4000
         ELSE body = '' AND html = '' END
);
