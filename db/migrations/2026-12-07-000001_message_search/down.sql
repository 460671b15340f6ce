DROP TABLE message_search;
DROP TABLE log_cursors;
