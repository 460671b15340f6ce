//! Speech to text: Whisper tiny.en (OpenAI, MIT) on candle's CPU backend,
//! for the transcripts of voice messages (issue 13).
//!
//! The weights are the CTranslate2 conversion that scripts/fetch-models
//! puts in `<models dir>/whisper/` (`model.bin`, read by a reader of its format
//! and renamed for candle-transformers' Whisper); the mel filter bank is
//! computed, not shipped. Audio goes in as 16-kHz mono f32 samples (the
//! caller decodes and resamples), in 30-s windows, and is decoded greedily
//! (see [`MAX_TOKENS_PER_WINDOW`] and the guards in `decode.rs`).
//!
//! ```no_run
//! # fn main() -> Result<(), ml::MlError> {
//! let transcriber = ml::whisper::Transcriber::load(&ml::models_dir())?;
//! let pcm: Vec<f32> = vec![0.0; 3 * ml::whisper::SAMPLE_RATE as usize];
//! let transcript = transcriber.transcribe(&pcm)?;
//! assert_eq!(transcript.text, "");
//! # Ok(())
//! # }
//! ```

mod ct2;
mod decode;
mod mel;
pub mod score;
mod text_decoder;
mod transcriber;
mod weights;

pub use decode::{LOGPROB_THRESHOLD, MAX_TOKENS_PER_WINDOW, NO_SPEECH_THRESHOLD};
pub use transcriber::{SILENCE_PEAK, Transcriber, Transcript};

/// The model [`Transcriber`] runs, for logs, metrics and a transcript's
/// provenance.
pub const WHISPER_MODEL_NAME: &str = "whisper-tiny.en";

/// The sample rate [`Transcriber::transcribe`] takes, in Hz: Whisper's.
pub const SAMPLE_RATE: u32 = 16_000;

/// Seconds of audio in one window of the model: longer audio is cut into
/// windows of this length.
pub const WINDOW_SECS: u32 = 30;
