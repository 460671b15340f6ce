ALTER TABLE message_annotations DROP COLUMN text;
DROP TABLE attachments;
DROP TABLE media_blobs;
