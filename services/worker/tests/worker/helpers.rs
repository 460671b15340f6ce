//! A worker on a fresh database and Redis prefix, and what tests need to
//! talk to it.

use std::time::{Duration, Instant};

use common::config::{CommonConfig, PublicOrigin, Secret};
use common::messaging::Ask;
use common::protocol::{ChatMessage, ServerFrame, UserRef};
use common::store::assistant::{self, JobView};
use test_support::TestDb;
use worker::Worker;
use worker::config::{
    AssistantConfig, FollowConfig, SemanticConfig, SweepConfig, Transcribe, TranscribeConfig,
    WorkerConfig,
};

/// Following quickly, in small batches (several per room and pass).
pub fn quick() -> FollowConfig {
    FollowConfig {
        interval: Duration::from_millis(20),
        rooms_per_pass: 2,
        events_per_room: 3,
        pass_budget: Duration::from_secs(5),
    }
}

/// The worker's settings for `db`, with `assistant`'s.
pub fn config(db: &TestDb, prefix: &str, assistant: AssistantConfig) -> WorkerConfig {
    WorkerConfig {
        common: CommonConfig {
            database_url: Secret::new(db.url().to_owned()),
            database_pool_size: 4,
            database_read: None,
            redis: test_support::redis_target(),
            redis_prefix: prefix.to_owned(),
            public_origin: PublicOrigin::parse("http://127.0.0.1:1").unwrap(),
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            trusted_proxies: vec![],
            shutdown_timeout: Duration::from_secs(1),
            edit_window: Duration::from_secs(3600),
            send_limit: common::ratelimit::Limit {
                max: 10_000,
                ..common::ratelimit::SEND_PER_USER
            },
            http_workers: 1,
            writer: Default::default(),
        },
        follow: quick(),
        assistant,
        semantic: SemanticConfig {
            models_dir: None,
            ..SemanticConfig::default()
        },
        transcribe: TranscribeConfig {
            mode: Transcribe::Off,
            ..TranscribeConfig::default()
        },
        files: files::FilesConfig {
            backend: files::Backend::Local {
                dir: std::env::temp_dir().join(format!("parley-worker-files-{}", db.name())),
            },
        },
        sweep: SweepConfig::default(),
    }
}

/// A worker with `assistant`'s settings.
pub async fn start_with(db: &TestDb, prefix: &str, assistant: AssistantConfig) -> Worker {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    Worker::start(&config(db, prefix, assistant), listener)
        .await
        .unwrap()
}

/// A worker with the real sentence model (scripts/fetch-models puts it
/// in .data/models): semantic search and emotion tags on.
pub async fn start_with_models(db: &TestDb) -> Worker {
    let mut cfg = config(
        db,
        &test_support::unique_redis_prefix(),
        AssistantConfig::default(),
    );
    cfg.semantic = SemanticConfig::default();
    let dir = cfg.semantic.models_dir.clone().unwrap();
    assert!(
        dir.join("minilm/model.safetensors").exists(),
        "the model is missing from {}: run scripts/fetch-models",
        dir.display()
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    Worker::start(&cfg, listener).await.unwrap()
}

/// A worker with the default settings (no language model).
pub async fn start(db: &TestDb) -> Worker {
    start_with(
        db,
        &test_support::unique_redis_prefix(),
        AssistantConfig::default(),
    )
    .await
}

/// Sends `body` as `who` through the one send path (mentions resolved).
pub async fn send(worker: &Worker, who: &UserRef, room: i64, body: &str) -> ChatMessage {
    send_with(worker, who, room, body, &[]).await
}

/// [`send`] with `who`'s pending uploads `attachments`.
pub async fn send_with(
    worker: &Worker,
    who: &UserRef,
    room: i64,
    body: &str,
    attachments: &[String],
) -> ChatMessage {
    let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
    let stored = worker
        .state
        .messenger
        .apply(
            who,
            room,
            &nonce,
            Ask::Send {
                body,
                reply_to: None,
                attachments,
            },
        )
        .await
        .unwrap();
    match stored.frame {
        ServerFrame::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

/// Waits until the job of `question` has ended; its view.
pub async fn ended(conn: &mut diesel_async::AsyncPgConnection, question: i64) -> JobView {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = jobs_of(conn, question).await;
        if let Some(job) = jobs
            .into_iter()
            .find(|j| assistant::State::parse(&j.state).is_final())
        {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the job of {question} never ended"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the question has a job that `ready` accepts; that job.
pub async fn job_when(
    conn: &mut diesel_async::AsyncPgConnection,
    question: i64,
    ready: impl Fn(&JobView) -> bool,
) -> JobView {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(job) = jobs_of(conn, question).await.into_iter().find(&ready) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the job of {question} never got there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The jobs of a question (none or one).
pub async fn jobs_of(conn: &mut diesel_async::AsyncPgConnection, question: i64) -> Vec<JobView> {
    use common::schema::assistant_jobs;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let ids: Vec<i64> = assistant_jobs::table
        .filter(assistant_jobs::question_id.eq(question))
        .select(assistant_jobs::id)
        .load(conn)
        .await
        .unwrap();
    assistant::by_ids(conn, &ids).await.unwrap()
}

/// The bot's messages in a room, oldest first.
pub async fn answers(
    conn: &mut diesel_async::AsyncPgConnection,
    room: i64,
    bot: i64,
) -> Vec<ChatMessage> {
    let mut all = common::store::messages::page_before(conn, room, None, 200, bot)
        .await
        .unwrap();
    all.retain(|m| m.user.id == bot);
    all.reverse();
    all
}

/// Waits until the `search` follower has indexed `room` up to `seq`.
pub async fn indexed(conn: &mut diesel_async::AsyncPgConnection, room: i64, seq: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::store::cursors::position(conn, "search", room)
        .await
        .unwrap()
        < seq
    {
        assert!(
            Instant::now() < deadline,
            "room {room} never indexed to {seq}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
