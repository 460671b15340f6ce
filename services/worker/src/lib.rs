//! Parley's worker: background work that follows every room's event log,
//! never on the send path. It keeps the search index and the vectors, tags
//! emotions, transcribes voice messages and answers the assistant's
//! questions (each follower keeps its own cursor per room in
//! `log_cursors`), and sweeps the file store.

pub mod annotate;
pub mod assistant;
pub mod config;
pub mod emotions;
pub mod follow;
pub mod metrics;
pub mod semantic;
pub mod server;
pub mod state;
pub mod sweeper;
pub mod transcripts;
pub mod vector_cache;

use std::sync::Arc;

use common::protocol::UserRef;
use common::ratelimit::RateLimiter;
use common::store::users;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::WorkerConfig;
use crate::follow::Consumer;
use crate::state::WorkerState;

/// A running worker: its followers, the assistant and its HTTP side.
pub struct Worker {
    pub state: Arc<WorkerState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Common(#[from] common::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the language model: {0}")]
    Provider(#[from] llm::LlmError),
    #[error("the file store (FILES_DIR, FILES_S3_*): {0}")]
    Files(#[from] files::FilesError),
    #[error("the speech model (run scripts/fetch-models, or set TRANSCRIBE=off): {0}")]
    Transcriber(#[source] ml::MlError),
}

impl Worker {
    /// Connects as `config` says, starts the followers and the assistant,
    /// and serves health on `listener`.
    pub async fn start(
        config: &WorkerConfig,
        listener: std::net::TcpListener,
    ) -> Result<Self, StartError> {
        let common = &config.common;
        let pool = common::db::build_pool(
            common.database_url.expose(),
            common.database_pool_size,
            "parley-worker",
        )?;
        let redis = common::redis_client::connect(&common.redis).await?;
        let bot = {
            let mut conn = pool.get().await.map_err(common::Error::from)?;
            let bot = users::bot(&mut conn).await?;
            UserRef {
                id: bot.id,
                name: bot.username,
            }
        };
        let provider = match &config.assistant.provider {
            Some(p) => Some(llm::Client::new(p.clone())?),
            None => None,
        };
        let embedder = match &config.semantic.models_dir {
            Some(dir) => load_embedder(dir).await,
            None => None,
        };
        let files = files::Files::open(&config.files)?;
        let transcriber = load_transcriber(&config.transcribe).await?;
        let limiter = RateLimiter::new(redis.clone(), common.redis_prefix.clone());
        let state = Arc::new(WorkerState {
            messenger: common::messaging::Messenger::start(
                pool.clone(),
                limiter.clone(),
                redis.clone(),
                common,
            ),
            metrics: metrics::Metrics::new()?,
            redis_prefix: common.redis_prefix.clone(),
            assistant: config.assistant.clone(),
            pool,
            redis,
            limiter,
            bot,
            provider,
            embedder: embedder.clone(),
            vector_cache: Arc::new(vector_cache::VectorCache::new(
                config.semantic.cache_vectors,
            )),
            semantic: config.semantic.clone(),
            follow: config.follow,
            files,
        });
        let (stop, stopped) = watch::channel(false);
        let questions = Consumer::Questions {
            bot: state.bot.id,
            max_age: config.assistant.max_age,
        };
        let mut tasks = Vec::new();
        let mut followers = vec![
            (Consumer::Search, config.follow),
            (questions, config.follow),
        ];
        if let Some(embedder) = embedder {
            let follow = crate::config::FollowConfig {
                events_per_room: config.semantic.events_per_room,
                ..config.follow
            };
            followers.push((
                Consumer::Vectors {
                    embedder,
                    cache: state.vector_cache.clone(),
                },
                follow,
            ));
            if let Some(head) = load_emotion_head() {
                followers.push((
                    Consumer::Emotions {
                        tagger: Arc::new(emotions::Tagger {
                            head,
                            bot: state.bot.clone(),
                        }),
                        announcer: common::fanout::Announcer::new(
                            state.redis.clone(),
                            state.redis_prefix.clone(),
                        ),
                    },
                    follow,
                ));
            }
        } else {
            tracing::warn!(
                "emotion tags off: they read the sentence vectors, and there is no sentence model"
            );
        }
        if let Some(transcriber) = transcriber {
            followers.push((
                Consumer::Transcripts {
                    scribe: Arc::new(transcripts::Scribe {
                        transcriber,
                        files: state.files.clone(),
                        bot: state.bot.clone(),
                        audio: config.transcribe.audio.clone(),
                    }),
                    announcer: common::fanout::Announcer::new(
                        state.redis.clone(),
                        state.redis_prefix.clone(),
                    ),
                },
                crate::config::FollowConfig {
                    events_per_room: config.transcribe.events_per_room,
                    ..config.follow
                },
            ));
        }
        for (consumer, follow) in followers {
            tasks.push(tokio::spawn(follow::run(
                state.clone(),
                follow,
                consumer,
                stopped.clone(),
            )));
        }
        tasks.push(tokio::spawn(assistant::run(
            state.clone(),
            config.follow.interval,
            stopped.clone(),
        )));
        tasks.push(tokio::spawn(sweeper::run(
            state.clone(),
            config.sweep,
            stopped.clone(),
        )));
        let http = state.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = server::serve(http, listener, stopped).await {
                tracing::error!(error = %e, "the worker's HTTP side stopped");
            }
        }));
        Ok(Self { state, stop, tasks })
    }

    /// Stops after the current passes and answers (their transactions
    /// commit or roll back whole; an answer cut short is finished by the
    /// next worker).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The emotion head compiled into the binary, or `None` (said loudly) if
/// it does not parse: messages are then not tagged, and the rest works on.
fn load_emotion_head() -> Option<ml::EmotionHead> {
    match ml::EmotionHead::bundled() {
        Ok(head) => {
            tracing::info!(model = head.version(), "emotion tags on");
            Some(head)
        }
        Err(e) => {
            tracing::error!(error = %e, "emotion tags off: the emotion head is unreadable");
            None
        }
    }
}

/// Whisper, loaded once on a blocking thread, unless `TRANSCRIBE` is off.
/// Missing when `TRANSCRIBE` is unset: transcripts are off, said loudly
/// (like semantic search without its model); missing when it is on, or
/// unreadable, and the worker does not start.
async fn load_transcriber(
    config: &crate::config::TranscribeConfig,
) -> Result<Option<Arc<ml::Transcriber>>, StartError> {
    use crate::config::Transcribe;
    if config.mode == Transcribe::Off {
        tracing::info!("transcripts off (TRANSCRIBE=off)");
        return Ok(None);
    }
    let dir = config.models_dir.clone();
    let loaded = tokio::task::spawn_blocking(move || ml::Transcriber::load(&dir))
        .await
        .map_err(|e| common::Error::internal_from("loading the speech model", e))?;
    match loaded {
        Ok(transcriber) => {
            tracing::info!(model = ml::WHISPER_MODEL_NAME, "transcripts on");
            Ok(Some(Arc::new(transcriber)))
        }
        Err(e @ ml::MlError::ModelMissing { .. }) if config.mode == Transcribe::Auto => {
            tracing::warn!(error = %e, "no speech model (run scripts/fetch-models): voice messages get no transcripts");
            Ok(None)
        }
        Err(e) => Err(StartError::Transcriber(e)),
    }
}

/// The sentence-embedding model from `dir`, or `None` (said loudly) when
/// its files are missing: search then goes by words alone.
async fn load_embedder(dir: &std::path::Path) -> Option<Arc<ml::Embedder>> {
    let dir = dir.to_owned();
    let loaded = tokio::task::spawn_blocking(move || ml::Embedder::load(&dir)).await;
    match loaded {
        Ok(Ok(embedder)) => {
            tracing::info!(
                threads = ml::threads(),
                model = ml::MODEL_NAME,
                "semantic search on"
            );
            Some(Arc::new(embedder))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no sentence-embedding model (run scripts/fetch-models): search goes by words alone");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not load the sentence-embedding model");
            None
        }
    }
}
