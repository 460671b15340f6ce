//! Audio: prove a file is audio by demuxing and decoding all of it
//! (symphonia, with libopus for Opus), measure it, draw its waveform,
//! convert what browsers play badly to Ogg/Opus, and give Whisper its
//! 16 kHz mono samples.

mod convert;
mod decode;
mod matroska;
mod ogg_opus;
mod peaks;
mod probe;
mod resample;
mod stream;

pub use convert::{convert_to_ogg_opus, needs_conversion};
pub use decode::{WHISPER_RATE, decode_mono_16k};
pub use peaks::PEAKS;
pub use probe::probe_audio;

/// Limits on audio, mapped to settings by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioLimits {
    /// The longest audio accepted, in seconds; decoding stops as soon as
    /// it is passed, so an hour-long file costs no more than this.
    /// Default 300 (five minutes: a long voice message).
    pub max_secs: u32,
}

impl Default for AudioLimits {
    fn default() -> Self {
        Self { max_secs: 300 }
    }
}

/// What decoding an audio file found: what the player and the page show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    /// How long it plays, from the decoded samples (not the container's
    /// header: MediaRecorder's WebM has none).
    pub duration_ms: u64,
    /// The waveform: exactly [`PEAKS`] bars, each the loudest sample of
    /// its slice of time, scaled so the loudest bar is 255 (silence stays
    /// 0).
    pub peaks: Vec<u8>,
    /// Samples a second of the decoded audio.
    pub sample_rate: u32,
    /// Channels of the decoded audio.
    pub channels: u16,
    /// The codec's short name as symphonia calls it: `opus`, `vorbis`,
    /// `aac`, `mp3`, `flac`, `pcm_s16le`...
    pub codec: String,
    /// The container also holds a video track: the caller may prefer to
    /// keep such a file as a plain attachment rather than a voice message.
    pub has_video: bool,
}
