//! The one error type of the crate.

use std::path::PathBuf;

/// What can go wrong loading the model or the emotion head, embedding text
/// or scoring a vector. No text is bad input (any text embeds: it is
/// truncated), so an error here means the model or head files or the
/// runtime are at fault, or (`Length`, `NotFinite`) a vector that no
/// embedding or stored row would give.
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
    /// `config.json` is not a BERT configuration we understand.
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
    /// A vector given to the emotion head has a NaN or infinite component
    /// (a stored vector never has).
    #[error("the vector has a component that is not a finite number")]
    NotFinite,
}
