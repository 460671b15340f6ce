//! The one error type of the crate.

use std::path::PathBuf;

/// What can go wrong loading the models or the emotion head, embedding text,
/// scoring a vector or transcribing speech. No text is bad input (any text
/// embeds: it is truncated) and no finite audio is (silence transcribes to
/// nothing), so an error here means the model or head files or the runtime
/// are at fault, or (`Length`, `NotFinite`) a vector or samples that no
/// embedding, stored row or audio decoder would give.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// A model file is not there: the models were never fetched.
    #[error("{} is missing: run scripts/fetch-models (or set PARLEY_MODELS_DIR)", path.display())]
    ModelMissing {
        /// The file that was looked for.
        path: PathBuf,
    },
    /// A model file is there but could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A model's `config.json` is not a configuration we understand.
    #[error("the model's config.json: {0}")]
    Config(#[from] serde_json::Error),
    /// The model is not the one this crate is built for (wrong width).
    #[error("the model makes {got}-dimensional vectors, not {expected}")]
    WrongModel {
        /// [`crate::DIM`].
        expected: usize,
        /// The model's `hidden_size`.
        got: usize,
    },
    /// The tokenizer could not be loaded or failed on a text.
    #[error("tokenizer: {0}")]
    Tokenizer(#[source] tokenizers::Error),
    /// candle failed: loading the weights or computing.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A vector or its bytes do not have [`crate::DIM`] components.
    #[error("expected {expected} components, got {got}")]
    Length {
        /// [`crate::DIM`].
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The emotion head file is corrupt or not of the shape this code
    /// reads (wrong labels, dimensions, layers or numbers).
    #[error("the emotion head file: {0}")]
    EmotionHead(String),
    /// A vector given to the emotion head, or audio given to the
    /// transcriber, has a NaN or infinite component or sample (a stored
    /// vector or decoded audio never has).
    #[error("a vector component or audio sample is not a finite number")]
    NotFinite,
    /// The Whisper weights file (`whisper/model.bin`) is truncated,
    /// malformed, or not a float CTranslate2 Whisper model of the shape this
    /// crate runs; or its tokenizer lacks a special token. Says what and
    /// where.
    #[error("the Whisper model: {0}")]
    WhisperModel(String),
}
