//! Sentence vectors for semantic search: text in, a unit vector out, such
//! that texts meaning the same thing have a high dot product (cosine) even
//! with no word in common. On top of the stored vector, [`EmotionHead`]
//! tells a message's emotions (issue 12). [`whisper`] turns speech into text
//! (issue 13).
//!
//! The model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) run on
//! candle's CPU backend, from the files `scripts/fetch-models` puts in
//! [`models_dir`]. Vectors are stored as [`Quantized`] (384 bytes and a
//! scale) and scanned with [`dot`].
//!
//! ```no_run
//! # fn main() -> Result<(), ml::MlError> {
//! let embedder = ml::Embedder::load(&ml::models_dir())?;
//! let vectors = embedder.embed(&["When is the deploy scheduled?"])?;
//! let stored = ml::quantize(&vectors[0])?;
//! let cosine = ml::dot(&vectors[0], &stored);
//! # let _ = cosine;
//! # Ok(())
//! # }
//! ```

mod embed;
mod emotion;
mod error;
mod quant;
pub mod whisper;

use std::path::PathBuf;

pub use embed::{BATCH, BATCH_TOKENS, Embedder, MAX_TOKENS};
pub use emotion::{EMOJI_RANGES, EMOTION_LABELS, EmotionHead, TextFeature};
pub use error::MlError;
pub use quant::{Quantized, dot, quantize};
pub use whisper::{Transcriber, Transcript, WHISPER_MODEL_NAME};

/// Components of a vector: MiniLM's hidden size.
pub const DIM: usize = 384;

/// Which model made a stored vector, to keep beside it (a `smallint`): a
/// vector is only comparable with vectors of the same model, so a future
/// model gets a new id and old rows are re-embedded, never mixed.
pub const MODEL_ID: i16 = 1;

/// The name of model [`MODEL_ID`], for logs and metrics.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The variable naming the models directory.
pub const MODELS_DIR_ENV: &str = "PARLEY_MODELS_DIR";

/// The environment variable that sets how many threads candle computes
/// with: its matrix products (gemm), its element-wise pool and rayon's global
/// pool (the tokenizer's batches) all read it. It must be set when the
/// process starts (a program cannot set it safely once running), e.g.
/// `RAYON_NUM_THREADS=1` for a background worker that must leave the other
/// cores to chat. Unset, candle uses one thread per physical core.
pub const THREADS_ENV: &str = "RAYON_NUM_THREADS";

/// The number of threads candle computes with in this process (from
/// [`THREADS_ENV`]), so that a service can log it and check it is what it
/// was configured for.
pub fn threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// Where the models are: `$PARLEY_MODELS_DIR`, or `.data/models` of the
/// workspace this crate was built in (where scripts/fetch-models puts them
/// by default; a deployment sets the variable).
pub fn models_dir() -> PathBuf {
    match std::env::var_os(MODELS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_models_dir(),
    }
}

/// `<workspace>/.data/models`, from this crate's path at build time.
fn workspace_models_dir() -> PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // crates/ml -> the workspace root.
    let root = manifest.ancestors().nth(2).unwrap_or(manifest);
    root.join(".data").join("models")
}
