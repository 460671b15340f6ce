-- The assistant: a bot account people mention (`@assistant`), and the
-- questions it is working on.

-- A bot cannot sign in (its password hash '!' verifies nothing) and is
-- found by kind, never by name: if someone already took `assistant`, the
-- bot is `parley-assistant`.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person'
    CHECK (kind IN ('person', 'bot'));

INSERT INTO users (username, email, password_hash, kind, display_name, bio)
SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE lower(username) = 'assistant')
            THEN 'parley-assistant' ELSE 'assistant' END,
       'assistant@parley.invalid', '!', 'bot', 'Assistant',
       'Answers questions from what was said in the room. Mention @assistant to ask.';

-- One job per question (a message that mentions the bot). The answer is a
-- message of the bot, stored once (its nonce is `ai-{id}`). `lease_until`
-- lets a worker that died mid-answer be noticed; `code` says why a job
-- was refused or failed, or was stopped. No foreign key to messages (a hot table).
CREATE TABLE assistant_jobs (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id      BIGINT      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    question_id  BIGINT      NOT NULL UNIQUE,
    question_seq BIGINT      NOT NULL,
    asker_id     BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state        TEXT        NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'refused', 'failed', 'cancelled')),
    code         TEXT        NOT NULL DEFAULT '',
    attempts     INT         NOT NULL DEFAULT 0,
    lease_until  TIMESTAMPTZ,
    -- The asker (or a moderator) pressed Stop: the worker ends the answer
    -- with what it has.
    stop_requested_at TIMESTAMPTZ,
    answer_id    BIGINT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX assistant_jobs_open_idx ON assistant_jobs (id) WHERE state IN ('queued', 'running');
CREATE INDEX assistant_jobs_room_idx ON assistant_jobs (room_id, question_seq);
