//! The worker's configuration: the shared settings plus how it follows
//! the event log.

use std::time::Duration;

use common::config::{self, CommonConfig, ConfigError};

/// Everything the worker reads from the environment.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// What every Parley service reads (database, Redis, listen address...).
    pub common: CommonConfig,
    /// How the followers of the log pace themselves.
    pub follow: FollowConfig,
    /// How the assistant answers.
    pub assistant: AssistantConfig,
    /// How semantic search answers.
    pub semantic: SemanticConfig,
    /// Transcripts of voice messages.
    pub transcribe: TranscribeConfig,
    /// Where attachments' bytes are (`FILES_DIR`, `FILES_S3_*`: the
    /// website's store): read to transcribe, deleted by the sweeper.
    pub files: files::FilesConfig,
    /// How often the bytes nothing uses are deleted.
    pub sweep: SweepConfig,
}

/// Whether voice messages are transcribed (`TRANSCRIBE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transcribe {
    /// Unset: on when the Whisper model's files are there, else off with
    /// a warning (like semantic search without its model).
    Auto,
    /// `TRANSCRIBE=on`: the worker does not start without the model.
    On,
    /// `TRANSCRIBE=off`: the follower does not run.
    Off,
}

/// Transcripts of voice messages (the `transcripts` follower).
#[derive(Debug, Clone)]
pub struct TranscribeConfig {
    /// `TRANSCRIBE`: on, off, or (unset) on when the model is there.
    pub mode: Transcribe,
    /// Where the Whisper model is (`PARLEY_MODELS_DIR/whisper`).
    pub models_dir: std::path::PathBuf,
    /// Events read per room per transaction by the follower
    /// (`TRANSCRIBE_EVENTS_PER_ROOM`): each voice message among them costs
    /// about a second of CPU per 30 s of audio, and the pass budget is
    /// looked at between transactions.
    pub events_per_room: i64,
    /// The longest audio decoded (`VOICE_MAX_SECS`, the website's upload
    /// limit): uploads are never longer.
    pub audio: media::AudioLimits,
}

impl Default for TranscribeConfig {
    fn default() -> Self {
        Self {
            mode: Transcribe::Auto,
            models_dir: ml::models_dir(),
            events_per_room: 16,
            audio: media::AudioLimits::default(),
        }
    }
}

impl TranscribeConfig {
    fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let mode = match config::var("TRANSCRIBE").as_deref().map(str::trim) {
            None | Some("") => Transcribe::Auto,
            Some("on" | "true" | "1" | "yes") => Transcribe::On,
            Some("off" | "false" | "0" | "no") => Transcribe::Off,
            Some(_) => {
                return Err(ConfigError::new(
                    "TRANSCRIBE",
                    "must be on or off (unset: on when the Whisper model is there)",
                ));
            }
        };
        Ok(Self {
            mode,
            models_dir: d.models_dir,
            events_per_room: config::int_between(
                "TRANSCRIBE_EVENTS_PER_ROOM",
                d.events_per_room,
                1,
                10_000,
            )?,
            audio: media::AudioLimits {
                max_secs: config::int_between(
                    "VOICE_MAX_SECS",
                    i64::from(d.audio.max_secs),
                    1,
                    3600,
                )? as u32,
            },
        })
    }
}

/// The sweeper of attachments' bytes.
#[derive(Debug, Clone, Copy)]
pub struct SweepConfig {
    /// The pause between sweeps (`FILES_SWEEP_SECS`).
    pub every: Duration,
    /// How long an upload waits for its message before it is deleted
    /// (`UPLOAD_PENDING_SECS`, the website's setting).
    pub pending_for: Duration,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(30),
            pending_for: Duration::from_secs(3600),
        }
    }
}

impl SweepConfig {
    fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            every: config::seconds_or("FILES_SWEEP_SECS", d.every.as_secs(), 1, 24 * 3600)?,
            pending_for: config::seconds_or(
                "UPLOAD_PENDING_SECS",
                d.pending_for.as_secs(),
                60,
                7 * 24 * 3600,
            )?,
        })
    }
}

/// Semantic search: the sentence vectors the `vectors` follower makes and
/// the searches the website asks for.
#[derive(Debug, Clone)]
pub struct SemanticConfig {
    /// Where the model's files are (`PARLEY_MODELS_DIR`, else
    /// `.data/models` of the workspace); without them (or `None`) the
    /// worker makes no vectors and search is by words alone.
    pub models_dir: Option<std::path::PathBuf>,
    /// The lowest cosine similarity a hit may have (`SEMANTIC_MIN_SCORE`,
    /// in hundredths): nearest is not near enough below it.
    pub min_score: f32,
    /// Events read per room per transaction by the `vectors` follower
    /// (`EMBED_EVENTS_PER_ROOM`): embedding is the slow part.
    pub events_per_room: i64,
    /// Vectors kept in memory for searches (`VECTOR_CACHE_VECTORS`; about
    /// 400 bytes each): past it the cache starts empty again.
    pub cache_vectors: usize,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        Self {
            models_dir: Some(ml::models_dir()),
            min_score: 0.3,
            events_per_room: 64,
            cache_vectors: 500_000,
        }
    }
}

/// How the assistant answers questions (`@assistant` mentions).
#[derive(Debug, Clone)]
pub struct AssistantConfig {
    /// The language model (`ASSISTANT_BASE_URL`, `ASSISTANT_MODEL`,
    /// `ASSISTANT_API_KEY`, `ASSISTANT_TIMEOUT_SECS`,
    /// `ASSISTANT_FIRST_BYTE_SECS`, `ASSISTANT_MAX_TOKENS`); `None` when no
    /// base URL is set: answers quote the best-matching messages.
    pub provider: Option<llm::ProviderConfig>,
    /// Questions answered at once (`ASSISTANT_CONCURRENCY`).
    pub concurrency: usize,
    /// Questions one person may ask per window (`ASSISTANT_PER_USER`,
    /// `ASSISTANT_PER_USER_WINDOW_SECS`).
    pub per_user: common::ratelimit::Limit,
    /// Questions answered in one room per window (`ASSISTANT_PER_ROOM`,
    /// `ASSISTANT_PER_ROOM_WINDOW_SECS`).
    pub per_room: common::ratelimit::Limit,
    /// Tokens of the model one person may use per day
    /// (`ASSISTANT_TOKENS_PER_USER_DAY`).
    pub tokens_per_user: common::ratelimit::Limit,
    /// Tokens of the model answers in one room may use per day
    /// (`ASSISTANT_TOKENS_PER_ROOM_DAY`): a busy room cannot spend the
    /// provider's bill alone, whoever asks.
    pub tokens_per_room: common::ratelimit::Limit,
    /// A mention older than this when the worker first sees it is not
    /// answered (`ASSISTANT_MAX_AGE_SECS`): a worker that was down, or the
    /// first start over an old history, does not answer the past.
    pub max_age: Duration,
    /// The longest question answered (`ASSISTANT_QUESTION_MAX_CHARS`).
    pub question_max_chars: usize,
    /// Messages quoted to the model, or in an answer without one
    /// (`ASSISTANT_SOURCES`).
    pub sources: usize,
    /// Characters of history given to the model at most
    /// (`ASSISTANT_CONTEXT_CHARS`).
    pub context_chars: usize,
    /// The earlier questions and answers of an assistant chat given to the
    /// model with a new question, so follow-ups work
    /// (`ASSISTANT_CHAT_TURNS`; 0: none).
    pub chat_turns: usize,
    /// How long a worker holds a job without renewing it; past it, another
    /// worker takes over (`ASSISTANT_LEASE_SECS`).
    pub lease: Duration,
    /// How often streamed text is published to the room
    /// (`ASSISTANT_STREAM_INTERVAL_MS`).
    pub stream_interval: Duration,
}

impl Default for AssistantConfig {
    fn default() -> Self {
        Self {
            provider: None,
            concurrency: 2,
            per_user: common::ratelimit::Limit {
                name: "assistant-user",
                max: 10,
                window: Duration::from_secs(600),
            },
            per_room: common::ratelimit::Limit {
                name: "assistant-room",
                max: 30,
                window: Duration::from_secs(600),
            },
            tokens_per_user: common::ratelimit::Limit {
                name: "assistant-tokens",
                max: 50_000,
                window: Duration::from_secs(24 * 3600),
            },
            tokens_per_room: common::ratelimit::Limit {
                name: "assistant-room-tokens",
                max: 200_000,
                window: Duration::from_secs(24 * 3600),
            },
            max_age: Duration::from_secs(600),
            question_max_chars: 1000,
            sources: 8,
            context_chars: 6000,
            chat_turns: 3,
            lease: Duration::from_secs(30),
            stream_interval: Duration::from_millis(100),
        }
    }
}

impl AssistantConfig {
    fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let secs =
            |name, default: Duration, max| config::seconds_or(name, default.as_secs(), 1, max);
        let provider = match config::var("ASSISTANT_BASE_URL").filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(base_url) => {
                let model = config::var("ASSISTANT_MODEL").unwrap_or_default();
                if model.trim().is_empty() {
                    return Err(ConfigError::new(
                        "ASSISTANT_MODEL",
                        "must name the model when ASSISTANT_BASE_URL is set",
                    ));
                }
                let mut p = llm::ProviderConfig::new(base_url.trim(), model.trim());
                p.api_key = config::var("ASSISTANT_API_KEY").filter(|k| !k.is_empty());
                p.total_timeout = secs("ASSISTANT_TIMEOUT_SECS", p.total_timeout, 3600)?;
                p.first_byte_timeout =
                    secs("ASSISTANT_FIRST_BYTE_SECS", p.first_byte_timeout, 600)?;
                p.max_tokens = Some(config::int_between(
                    "ASSISTANT_MAX_TOKENS",
                    i64::from(p.max_tokens.unwrap_or(llm::DEFAULT_MAX_TOKENS)),
                    16,
                    32_000,
                )? as u32);
                Some(p)
            }
        };
        Ok(Self {
            provider,
            concurrency: config::int_between("ASSISTANT_CONCURRENCY", d.concurrency as i64, 1, 64)?
                as usize,
            per_user: config::limit(
                "ASSISTANT_PER_USER",
                "ASSISTANT_PER_USER_WINDOW_SECS",
                d.per_user,
            )?,
            per_room: config::limit(
                "ASSISTANT_PER_ROOM",
                "ASSISTANT_PER_ROOM_WINDOW_SECS",
                d.per_room,
            )?,
            tokens_per_user: daily_tokens("ASSISTANT_TOKENS_PER_USER_DAY", d.tokens_per_user)?,
            tokens_per_room: daily_tokens("ASSISTANT_TOKENS_PER_ROOM_DAY", d.tokens_per_room)?,
            max_age: secs("ASSISTANT_MAX_AGE_SECS", d.max_age, 7 * 24 * 3600)?,
            question_max_chars: config::int_between(
                "ASSISTANT_QUESTION_MAX_CHARS",
                d.question_max_chars as i64,
                10,
                4000,
            )? as usize,
            sources: config::int_between("ASSISTANT_SOURCES", d.sources as i64, 1, 50)? as usize,
            context_chars: config::int_between(
                "ASSISTANT_CONTEXT_CHARS",
                d.context_chars as i64,
                500,
                200_000,
            )? as usize,
            chat_turns: config::int_between("ASSISTANT_CHAT_TURNS", d.chat_turns as i64, 0, 20)?
                as usize,
            lease: secs("ASSISTANT_LEASE_SECS", d.lease, 600)?,
            stream_interval: Duration::from_millis(config::int_between(
                "ASSISTANT_STREAM_INTERVAL_MS",
                d.stream_interval.as_millis() as i64,
                10,
                5000,
            )? as u64),
        })
    }
}

/// How a follower of the event log reads it.
#[derive(Debug, Clone, Copy)]
pub struct FollowConfig {
    /// The pause between passes unless one left a backlog
    /// (`FOLLOW_INTERVAL_MS`): how stale search may be.
    pub interval: Duration,
    /// Rooms taken per pass (`FOLLOW_ROOMS_PER_PASS`), furthest behind first.
    pub rooms_per_pass: i64,
    /// Events read per room per pass, and about the most per transaction:
    /// rooms with a few new events go together (`FOLLOW_EVENTS_PER_ROOM`).
    pub events_per_room: i64,
    /// The longest a pass goes on before it looks again at which rooms are
    /// furthest behind (`FOLLOW_PASS_MS`): embedding takes its rooms at
    /// about 100 messages a second, so without it a pass over a few hundred
    /// busy rooms would keep a room that just got a large backlog waiting
    /// for minutes.
    pub pass_budget: Duration,
}

impl Default for FollowConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(500),
            rooms_per_pass: 256,
            events_per_room: 500,
            pass_budget: Duration::from_secs(5),
        }
    }
}

impl WorkerConfig {
    /// Reads the environment; the default listen address is 127.0.0.1:8095.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = FollowConfig::default();
        let interval_ms = config::int_between(
            "FOLLOW_INTERVAL_MS",
            d.interval.as_millis() as i64,
            10,
            60_000,
        )? as u64;
        Ok(Self {
            common: CommonConfig::from_env("127.0.0.1:8095")?,
            follow: FollowConfig {
                interval: Duration::from_millis(interval_ms),
                rooms_per_pass: config::int_between(
                    "FOLLOW_ROOMS_PER_PASS",
                    d.rooms_per_pass,
                    1,
                    10_000,
                )?,
                events_per_room: config::int_between(
                    "FOLLOW_EVENTS_PER_ROOM",
                    d.events_per_room,
                    1,
                    10_000,
                )?,
                pass_budget: Duration::from_millis(config::int_between(
                    "FOLLOW_PASS_MS",
                    d.pass_budget.as_millis() as i64,
                    100,
                    600_000,
                )? as u64),
            },
            assistant: AssistantConfig::from_env()?,
            semantic: SemanticConfig {
                models_dir: Some(ml::models_dir()),
                min_score: config::int_between("SEMANTIC_MIN_SCORE", 30, 0, 100)? as f32 / 100.0,
                events_per_room: config::int_between("EMBED_EVENTS_PER_ROOM", 64, 1, 10_000)?,
                cache_vectors: config::int_between("VECTOR_CACHE_VECTORS", 500_000, 0, 100_000_000)?
                    as usize,
            },
            transcribe: TranscribeConfig::from_env()?,
            files: files::FilesConfig::from_env()?,
            sweep: SweepConfig::from_env()?,
        })
    }
}

/// A daily token budget whose size `name` may set (its window stays a day).
fn daily_tokens(
    name: &'static str,
    default: common::ratelimit::Limit,
) -> Result<common::ratelimit::Limit, ConfigError> {
    Ok(common::ratelimit::Limit {
        max: config::int_between(name, default.max as i64, 1, 1_000_000_000)? as u64,
        ..default
    })
}
