//! The upload limits, each a setting (see the README).

use std::path::PathBuf;
use std::time::Duration;

use common::config::{self, ConfigError};
use common::ratelimit::{self, Limit};

/// What an upload may be, and how much work the server does at once.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// `UPLOAD_MAX_BYTES`: the largest file; a bigger one is refused while
    /// it streams in (413).
    pub max_bytes: u64,
    /// `UPLOAD_MAX_FILES`: files in one request, and on one message.
    pub max_files: usize,
    /// `UPLOAD_MAX_PENDING`: uploads one person may have waiting to be
    /// sent (a message claims them).
    pub max_pending: i64,
    /// `UPLOAD_PENDING_SECS`: how long an upload waits for its message
    /// before the sweeper deletes it.
    pub pending_for: Duration,
    /// `UPLOAD_LIMIT`: upload requests per person per window.
    pub limit: Limit,
    /// `UPLOAD_CONCURRENCY`: files processed (decoded, converted,
    /// thumbnailed) at once by this instance; more wait their turn.
    pub concurrency: usize,
    /// `UPLOAD_STAGING_DIR`: where uploads are written while they stream
    /// in and are checked (the system's temporary directory by default).
    pub staging_dir: PathBuf,
    /// `VOICE_MAX_SECS`: the longest audio.
    pub audio: media::AudioLimits,
    /// `IMAGE_MAX_PIXELS` and `THUMB_MAX_SIDE`.
    pub images: media::ImageLimits,
    /// `ARCHIVE_MAX_EXPANDED_BYTES` and `ARCHIVE_MAX_RATIO`.
    pub archives: media::ArchiveLimits,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            max_files: 10,
            max_pending: 50,
            pending_for: Duration::from_secs(3600),
            limit: ratelimit::UPLOADS_PER_USER,
            concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            staging_dir: std::env::temp_dir(),
            audio: media::AudioLimits::default(),
            images: media::ImageLimits::default(),
            archives: media::ArchiveLimits::default(),
        }
    }
}

impl UploadConfig {
    /// Reads the settings; unset ones keep their defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let max_bytes: u64 = config::parsed_or("UPLOAD_MAX_BYTES", d.max_bytes)?;
        if !(1..=(4u64 << 30)).contains(&max_bytes) {
            return Err(ConfigError::new(
                "UPLOAD_MAX_BYTES",
                "must be between 1 and 4294967296",
            ));
        }
        let max_files: usize = config::parsed_or("UPLOAD_MAX_FILES", d.max_files)?;
        if !(1..=common::messaging::MAX_ATTACHMENTS).contains(&max_files) {
            return Err(ConfigError::new(
                "UPLOAD_MAX_FILES",
                format!(
                    "must be between 1 and {}",
                    common::messaging::MAX_ATTACHMENTS
                ),
            ));
        }
        let max_pending: i64 = config::parsed_or("UPLOAD_MAX_PENDING", d.max_pending)?;
        if max_pending < max_files as i64 {
            return Err(ConfigError::new(
                "UPLOAD_MAX_PENDING",
                "must be at least UPLOAD_MAX_FILES",
            ));
        }
        let concurrency: usize = config::parsed_or("UPLOAD_CONCURRENCY", d.concurrency)?;
        if !(1..=64).contains(&concurrency) {
            return Err(ConfigError::new(
                "UPLOAD_CONCURRENCY",
                "must be between 1 and 64",
            ));
        }
        let max_secs: u32 = config::parsed_or("VOICE_MAX_SECS", d.audio.max_secs)?;
        if !(1..=3600).contains(&max_secs) {
            return Err(ConfigError::new(
                "VOICE_MAX_SECS",
                "must be between 1 and 3600",
            ));
        }
        let max_pixels: u64 = config::parsed_or("IMAGE_MAX_PIXELS", d.images.max_pixels)?;
        let thumb_max_side: u32 = config::parsed_or("THUMB_MAX_SIDE", d.images.thumb_max_side)?;
        if !(16..=4096).contains(&thumb_max_side) {
            return Err(ConfigError::new(
                "THUMB_MAX_SIDE",
                "must be between 16 and 4096",
            ));
        }
        Ok(Self {
            max_bytes,
            max_files,
            max_pending,
            pending_for: config::seconds_or(
                "UPLOAD_PENDING_SECS",
                d.pending_for.as_secs(),
                60,
                7 * 24 * 3600,
            )?,
            limit: config::limit("UPLOAD_LIMIT", "UPLOAD_LIMIT_WINDOW_SECS", d.limit)?,
            concurrency,
            staging_dir: config::var("UPLOAD_STAGING_DIR").map_or(d.staging_dir, PathBuf::from),
            audio: media::AudioLimits { max_secs },
            images: media::ImageLimits {
                max_pixels,
                thumb_max_side,
            },
            archives: media::ArchiveLimits {
                max_expanded_bytes: config::parsed_or(
                    "ARCHIVE_MAX_EXPANDED_BYTES",
                    d.archives.max_expanded_bytes,
                )?,
                max_ratio: config::parsed_or("ARCHIVE_MAX_RATIO", d.archives.max_ratio)?,
                ..d.archives
            },
        })
    }
}
