DROP TABLE assistant_jobs;
DELETE FROM users WHERE kind = 'bot';
ALTER TABLE users DROP COLUMN kind;
