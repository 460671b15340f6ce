DROP TABLE message_vectors;
