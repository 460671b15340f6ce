//! The assistant: answers the questions the `questions` follower queued
//! (messages that mention the bot). For each job, one worker at a time:
//!
//! 1. the checks: the question is still there, its asker may still read
//!    the room, the bot may read and post in it (in a private room or DM it
//!    must be a member), the question is not empty nor too long, the
//!    asker's and the room's limits;
//! 2. retrieval: in a shared room, the messages of *that room only* that
//!    best match the question in words and in meaning, searched as the
//!    asker (every reader of the answer may read them, so no answer
//!    carries text from elsewhere); in the asker's own assistant chat,
//!    whose only reader is the asker, those of every room the asker may
//!    read, with the chat's earlier turns;
//! 3. the answer: streamed by the language model when one is configured
//!    (ephemeral `assistant_delta` frames), else the best messages quoted;
//! 4. storing it once, as a message of the bot replying to the question
//!    (nonce `ai-{job}`: a second store returns the first).
//!
//! A job whose worker died is taken over when its lease runs out: the text
//! streamed so far is stored as an interrupted answer, without asking the
//! model again.

pub mod compose;
pub mod frames;

use std::sync::Arc;
use std::time::Duration;

use common::access;
use common::error::Error;
use common::guard;
use common::store::assistant::{self, Job, State};
use common::store::messages;
use common::store::search::{self, Filters};
use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};

use self::compose::{Ending, Source};
use self::frames::Status;
use crate::follow::Consumer;
use crate::state::WorkerState;

/// How often a streaming answer looks whether someone pressed Stop.
const STOP_CHECK: Duration = Duration::from_millis(500);

/// The most messages near in meaning fused with the words' ranking.
const SEMANTIC_SOURCES: usize = 50;

/// Said under an answer made without a language model.
pub const NO_MODEL: &str =
    "A language model is not configured, so these are the messages that match best.";

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The answer is stored: its message id.
    Answered(i64),
    /// Not answered, for a reason the asker can act on.
    Refused(&'static str),
    /// Nothing to answer any more (the question was deleted, the asker
    /// left, Stop before any text).
    Cancelled(&'static str),
}

/// Answers jobs until `stop` says so, `state.assistant.concurrency` at a
/// time, looking for new ones every `poll`.
pub async fn run(state: Arc<WorkerState>, poll: Duration, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(state.assistant.concurrency));
    loop {
        let permit = tokio::select! {
            _ = stop.changed() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let claimed = match state.pool.get().await {
            Ok(mut conn) => assistant::claim(&mut conn, state.assistant.lease).await,
            Err(e) => Err(e.into()),
        };
        match claimed {
            Ok(Some(job)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    settle(&state, &job).await;
                    drop(permit);
                });
            }
            Ok(None) | Err(_) => {
                if let Err(e) = claimed {
                    tracing::warn!(error = %e, "could not claim an assistant job");
                }
                drop(permit);
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    }
}

/// Answers one claimed job and records how it ended. Its lease is renewed
/// every third of `ASSISTANT_LEASE_SECS` while it runs, whatever it is
/// doing, so only a worker that died loses it.
pub async fn settle(state: &WorkerState, job: &Job) {
    let keep_lease = async {
        let mut every = tokio::time::interval(state.assistant.lease / 3);
        every.tick().await;
        loop {
            every.tick().await;
            match state.pool.get().await {
                Ok(mut conn) => {
                    if let Err(e) = assistant::renew(&mut conn, job.id, state.assistant.lease).await
                    {
                        tracing::warn!(error = %e, job = job.id, "could not renew a job's lease");
                    }
                }
                Err(e) => tracing::warn!(error = %e, job = job.id, "could not renew a job's lease"),
            }
        }
    };
    let outcome = tokio::select! {
        outcome = answer(state, job) => outcome,
        () = keep_lease => return,
    };
    let (ended, code, answer_id) = match &outcome {
        Ok(Outcome::Answered(id)) => (State::Done, "", Some(*id)),
        Ok(Outcome::Refused(code)) => (State::Refused, *code, None),
        Ok(Outcome::Cancelled(code)) => (State::Cancelled, *code, None),
        Err(e) if e.is_unavailable() && job.attempts < 3 => {
            // Postgres or Redis away: the lease runs out and a worker tries
            // again.
            tracing::warn!(error = %e, job = job.id, "an assistant job will be retried");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, job = job.id, "an assistant job failed");
            (State::Failed, "internal", None)
        }
    };
    match ended {
        State::Refused => frames::status(state, job, Status::Refused, code).await,
        State::Cancelled => frames::status(state, job, Status::Cancelled, code).await,
        State::Failed => frames::status(state, job, Status::Failed, code).await,
        _ => {}
    }
    frames::forget_partial(state, job.id).await;
    state
        .metrics
        .jobs_ended
        .with_label_values(&[ended.as_str()])
        .inc();
    match state.pool.get().await {
        Ok(mut conn) => {
            if let Err(e) = assistant::finish(&mut conn, job.id, ended, code, answer_id).await {
                tracing::warn!(error = %e, job = job.id, "could not record how a job ended");
            }
        }
        Err(e) => tracing::warn!(error = %e, job = job.id, "could not record how a job ended"),
    }
}

/// Checks, retrieves, answers and stores.
async fn answer(state: &WorkerState, job: &Job) -> Result<Outcome, Error> {
    let cfg = &state.assistant;
    let bot = &state.bot;
    let mut conn = state.pool.get().await?;
    let Some(question) = messages::find(&mut conn, job.room_id, job.question_id, bot.id).await?
    else {
        return Ok(Outcome::Cancelled("question_deleted"));
    };
    if question.deleted {
        return Ok(Outcome::Cancelled("question_deleted"));
    }
    let in_chat = match guard::readable(&mut conn, job.asker_id, job.room_id).await {
        // The asker's own chat: they are its whole audience.
        Ok((facts, _)) => {
            facts.kind == access::Kind::Assistant && facts.owner_id == Some(job.asker_id)
        }
        Err(Error::NotFound(_) | Error::Denied { .. } | Error::Forbidden(_)) => {
            return Ok(Outcome::Cancelled("asker_left"));
        }
        Err(e) => return Err(e),
    };
    match guard::allowed(&mut conn, bot.id, job.room_id, access::may_post).await {
        Ok(_) => {}
        Err(Error::NotFound(_) | Error::Forbidden(_)) => {
            return Ok(Outcome::Refused("assistant_not_in_room"));
        }
        Err(Error::Denied { .. }) => return Ok(Outcome::Refused("assistant_muted")),
        Err(e) => return Err(e),
    }
    // Taking over from a worker that died mid-answer: store what it had
    // streamed, never ask the model a second time.
    if job.attempts > 1
        && let Some(text) = frames::partial(state, job.id).await
    {
        drop(conn);
        let body = compose::answer(&text, &[], Ending::Interrupted);
        return store(state, job, &body).await;
    }
    let text = compose::question_text(&question.body, &bot.name);
    if text.trim().is_empty() {
        return Ok(Outcome::Refused("question_empty"));
    }
    if text.chars().count() > cfg.question_max_chars {
        return Ok(Outcome::Refused("question_too_long"));
    }
    if job.attempts == 1 {
        let asker = job.asker_id.to_string();
        let room = job.room_id.to_string();
        for (limit, subject) in [(&cfg.per_user, &asker), (&cfg.per_room, &room)] {
            match state.limiter.hit(limit, subject).await {
                Ok(()) => {}
                Err(Error::RateLimited { .. }) => return Ok(Outcome::Refused("rate_limited")),
                Err(e) => return Err(e),
            }
        }
        if state.provider.is_some() {
            for (budget, subject, code) in [
                (&cfg.tokens_per_user, &asker, "budget_spent"),
                (&cfg.tokens_per_room, &room, "room_budget_spent"),
            ] {
                match state.limiter.within_budget(budget, subject).await {
                    Ok(()) => {}
                    Err(Error::RateLimited { .. }) => return Ok(Outcome::Refused(code)),
                    Err(e) => return Err(e),
                }
            }
        }
    }
    frames::status(state, job, Status::Thinking, "").await;
    let turns = if in_chat {
        earlier_turns(state, &mut conn, job).await?
    } else {
        Vec::new()
    };
    // A follow-up ("and who decided?") is searched with the words of the
    // question it follows.
    let searched = match turns.last() {
        Some(t) => format!("{text} {}", t.question),
        None => text.clone(),
    };
    if !in_chat {
        indexed_up_to_question(state, &mut conn, job).await?;
    }
    let sources = retrieve(state, &mut conn, job, &searched, in_chat).await?;
    drop(conn);
    let Some(client) = &state.provider else {
        return store(state, job, &compose::retrieval_only(&sources, NO_MODEL)).await;
    };
    if sources.is_empty() && turns.is_empty() {
        let body = compose::retrieval_only(
            &sources,
            "The language model was not asked: nothing in the history matched.",
        );
        return store(state, job, &body).await;
    }
    let (streamed, ending) = stream(state, client, job, &text, &sources, &turns).await?;
    let body = match streamed {
        Ok(completion) => {
            let tokens = completion
                .usage
                .map_or((completion.text.chars().count() / 4) as u64, |u| {
                    u64::from(u.prompt_tokens + u.completion_tokens)
                });
            for (budget, subject) in [
                (&cfg.tokens_per_user, job.asker_id),
                (&cfg.tokens_per_room, job.room_id),
            ] {
                let _ = state
                    .limiter
                    .spend(budget, &subject.to_string(), tokens)
                    .await;
            }
            let ending = match ending {
                Ending::Complete if completion.is_interrupted() => Ending::Interrupted,
                e => e,
            };
            compose::answer(&completion.text, &sources, ending)
        }
        Err(llm::LlmError::Cancelled) => return Ok(Outcome::Cancelled("stopped")),
        Err(e) => compose::retrieval_only(
            &sources,
            &format!(
                "The language model did not answer ({}), so these are the messages that match best.",
                e.code()
            ),
        ),
    };
    store(state, job, &body).await
}

/// The messages that best match `question`, best first, searched as the
/// asker: of the job's room, or (`wide`: the asker's assistant chat) of
/// every room the asker may read but assistant chats, each with its room's
/// name. Words and meaning are ranked as the search page ranks them (the
/// words' ranking fused with the sentence-embedding one, when the worker
/// has the model), so a question in other words than the history's still
/// finds its answer. Never the question itself nor the bot's own answers.
async fn retrieve(
    state: &WorkerState,
    conn: &mut diesel_async::AsyncPgConnection,
    job: &Job,
    question: &str,
    wide: bool,
) -> Result<Vec<Source>, Error> {
    let query = compose::search_query(question);
    let room = (!wide).then_some(job.room_id);
    let lexical: Vec<search::Candidate> = if query.is_empty() {
        Vec::new()
    } else {
        let filters = Filters {
            room,
            ..Filters::default()
        };
        let terms = common::search_text::Terms::default();
        search::lexical(
            conn,
            job.asker_id,
            &query,
            &terms,
            &filters,
            200,
            Duration::from_secs(5),
        )
        .await?
    };
    let nearest = nearest_in_meaning(state, job.asker_id, question, room).await;
    let mut rooms: Vec<i64> = lexical.iter().map(|c| c.room_id).collect();
    rooms.extend(nearest.iter().map(|h| h.room));
    rooms.sort_unstable();
    rooms.dedup();
    let lexical: Vec<i64> = lexical.iter().map(|c| c.message_id).collect();
    let nearest: Vec<i64> = nearest.iter().map(|h| h.id).collect();
    let ids: Vec<i64> = common::search_text::fuse(&[lexical, nearest])
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| *id != job.question_id)
        .take(state.assistant.sources * 2)
        .collect();
    let mut loaded = messages::live_by_ids(conn, &rooms, &ids, state.bot.id).await?;
    loaded.retain(|m| m.user.id != state.bot.id);
    let mut places = std::collections::HashMap::new();
    if wide {
        // The chats' own words are the asker's questions (the earlier
        // turns carry this chat's): what they ask is no answer.
        let mut rooms: Vec<i64> = loaded.iter().map(|m| m.room).collect();
        rooms.sort_unstable();
        rooms.dedup();
        for view in common::store::rooms::by_ids(conn, &rooms).await? {
            if view.room.kind() != access::Kind::Assistant {
                places.insert(view.room.id, view.title_for(job.asker_id));
            }
        }
        loaded.retain(|m| places.contains_key(&m.room));
    }
    loaded.sort_by_key(|m| ids.iter().position(|id| *id == m.id));
    loaded.truncate(state.assistant.sources);
    let mut sources = Source::numbered(&loaded, state.assistant.context_chars);
    for s in &mut sources {
        s.place = places.get(&s.room).cloned();
    }
    Ok(sources)
}

/// Waits (a few follower intervals at most) until the search rows of the
/// job's room reach its question: what was said just before a question is
/// its likeliest answer, and the followers are separate loops. Past the
/// wait the answer goes on with what is indexed.
async fn indexed_up_to_question(
    state: &WorkerState,
    conn: &mut diesel_async::AsyncPgConnection,
    job: &Job,
) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + state.follow.interval * 4;
    while common::store::cursors::position(conn, Consumer::Search.name(), job.room_id).await?
        < job.question_seq
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(state.follow.interval / 4).await;
    }
    Ok(())
}

/// The messages nearest in meaning to `question` that `asker` may read (of
/// `room` when set), best first; none without the model. A failure costs
/// only this ranking: the words' one still answers.
async fn nearest_in_meaning(
    state: &WorkerState,
    asker: i64,
    question: &str,
    room: Option<i64>,
) -> Vec<crate::semantic::Hit> {
    if state.embedder.is_none() {
        return Vec::new();
    }
    let ask = crate::semantic::Ask {
        user: asker,
        q: question.to_owned(),
        room,
        limit: SEMANTIC_SOURCES,
    };
    match crate::semantic::nearest(state, ask).await {
        Ok(answer) => answer.hits,
        Err(e) => {
            tracing::warn!(error = %e, "semantic retrieval failed: words only");
            Vec::new()
        }
    }
}

/// The chat's last questions and their answers before the job's question
/// (at most `chat_turns`), as plain text, oldest first.
async fn earlier_turns(
    state: &WorkerState,
    conn: &mut diesel_async::AsyncPgConnection,
    job: &Job,
) -> Result<Vec<compose::Turn>, Error> {
    let cfg = &state.assistant;
    if cfg.chat_turns == 0 {
        return Ok(Vec::new());
    }
    let pairs =
        assistant::earlier_turns(conn, job.room_id, job.question_seq, cfg.chat_turns as i64)
            .await?;
    let ids: Vec<i64> = pairs.iter().flat_map(|(q, a)| [*q, *a]).collect();
    let loaded = messages::live_by_ids(conn, &[job.room_id], &ids, state.bot.id).await?;
    let text = |id: i64| {
        loaded
            .iter()
            .find(|m| m.id == id && m.room == job.room_id)
            .map(|m| common::markdown::excerpt(&m.body, cfg.question_max_chars.max(1000)))
    };
    Ok(pairs
        .into_iter()
        .filter_map(|(q, a)| {
            Some(compose::Turn {
                question: compose::question_text(&text(q)?, &state.bot.name),
                answer: text(a)?,
            })
        })
        .collect())
}

/// Streams the model's answer to the room; returns how the stream ended
/// and whether someone pressed Stop.
async fn stream(
    state: &WorkerState,
    client: &llm::Client,
    job: &Job,
    question: &str,
    sources: &[Source],
    turns: &[compose::Turn],
) -> Result<(Result<llm::Completion, llm::LlmError>, Ending), Error> {
    let cancel = llm::CancellationToken::new();
    let mut events = client.stream(compose::prompt(question, sources, turns), cancel.clone());
    let mut pending = String::new();
    let mut sent = 0usize;
    let mut ending = Ending::Complete;
    let mut tick = tokio::time::interval(state.assistant.stream_interval);
    let mut last_check = tokio::time::Instant::now();
    let mut announced = false;
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(llm::Event::Delta(text)) => {
                    if !announced {
                        frames::status(state, job, Status::Streaming, "").await;
                        announced = true;
                    }
                    pending.push_str(&text);
                }
                Some(llm::Event::End(result)) => {
                    if !pending.is_empty() {
                        frames::delta(state, job, sent, &pending).await;
                    }
                    return Ok((result, ending));
                }
                None => return Ok((Err(llm::LlmError::BadResponse("the stream ended without an end".into())), ending)),
            },
            _ = tick.tick() => {
                if !pending.is_empty() {
                    frames::delta(state, job, sent, &pending).await;
                    sent += pending.chars().count();
                    pending.clear();
                }
                if last_check.elapsed() >= STOP_CHECK {
                    last_check = tokio::time::Instant::now();
                    let mut conn = state.pool.get().await?;
                    if assistant::stop_requested(&mut conn, job.id).await? && ending != Ending::Stopped {
                        ending = Ending::Stopped;
                        cancel.cancel();
                    }
                }
            }
        }
    }
}

/// Stores `body` as the bot's answer to the job's question, once.
async fn store(state: &WorkerState, job: &Job, body: &str) -> Result<Outcome, Error> {
    let nonce = format!("ai-{}", job.id);
    match state
        .messenger
        .answer(&state.bot, job.room_id, &nonce, body, job.question_id)
        .await
    {
        Ok(stored) => match stored.frame {
            common::protocol::ServerFrame::Message(m) => Ok(Outcome::Answered(m.id)),
            _ => Err(Error::internal("the answer's nonce holds another change")),
        },
        // The question was deleted, or the bot removed, meanwhile.
        Err(Error::NotFound(_)) => Ok(Outcome::Cancelled("question_deleted")),
        Err(Error::Denied { .. } | Error::Forbidden(_)) => Ok(Outcome::Refused("assistant_muted")),
        Err(e) => Err(e),
    }
}
