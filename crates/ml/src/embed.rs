//! Text to sentence vectors with all-MiniLM-L6-v2, as sentence-transformers
//! computes them: BERT, the mean of the token states under the attention
//! mask, then L2 normalisation.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use crate::{DIM, MlError};

/// Word pieces kept of a text, `[CLS]` and `[SEP]` included: the length
/// all-MiniLM-L6-v2 was trained on (sentence-transformers' `max_seq_length`).
/// The rest of a longer text is ignored, so it never fails. The model's hard
/// limit is 512 (its position table); this stays below it.
pub const MAX_TOKENS: usize = 256;

/// At most this many texts run through the model together. Bigger batches
/// pad more for little gain in throughput on a CPU.
pub const BATCH: usize = 32;

/// At most this many word pieces (texts × the longest one's length) run
/// through the model together, so long texts go in smaller batches: the
/// attention scores alone are texts × 12 heads × length² floats, and 32
/// texts of [`MAX_TOKENS`] held ~680 MB at once. 32 chat lines of up to 64
/// word pieces still make one batch.
pub const BATCH_TOKENS: usize = 2048;

/// The model directory under the models directory, as scripts/fetch-models
/// lays it out.
const SUBDIR: &str = "minilm";

/// all-MiniLM-L6-v2 loaded into memory (~91 MB of f32 weights), ready to
/// embed. Load it once and share it: [`Embedder::embed`] takes `&self`.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl Embedder {
    /// Loads `minilm/{config.json, tokenizer.json, model.safetensors}` from
    /// the models directory `dir` (see [`crate::models_dir`]).
    ///
    /// Reads the whole weights file into memory (no mmap: the workspace
    /// forbids `unsafe`); takes about a third of a second. Blocking.
    pub fn load(dir: &Path) -> Result<Embedder, MlError> {
        let dir = dir.join(SUBDIR);
        let config: Config = serde_json::from_slice(&read(&dir.join("config.json"))?)?;
        if config.hidden_size != DIM {
            return Err(MlError::WrongModel {
                expected: DIM,
                got: config.hidden_size,
            });
        }
        let mut tokenizer = Tokenizer::from_bytes(read(&dir.join("tokenizer.json"))?)
            .map_err(MlError::Tokenizer)?;
        // The file pads every text to 128 and truncates there: we pad per
        // batch ourselves and keep what the model was trained on.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..TruncationParams::default()
            }))
            .map_err(MlError::Tokenizer)?;
        let device = Device::Cpu;
        let weights = read(&dir.join("model.safetensors"))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)?;
        let model = BertModel::load(vb, &config)?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
        })
    }

    /// One unit vector of [`DIM`] components per text, in order.
    ///
    /// Any text works: the empty string gets a vector, and a long text is cut
    /// to [`MAX_TOKENS`] word pieces. Texts are grouped by length so that
    /// little padding is computed, in batches of at most [`BATCH`] texts and
    /// [`BATCH_TOKENS`] word pieces; a text gets the same vector (within
    /// float rounding) alone or in any batch.
    ///
    /// CPU-heavy and blocking (tens of milliseconds per text on one core):
    /// call it from a blocking thread (`spawn_blocking` or a thread of its
    /// own), never on an async executor. Uses as many threads as
    /// [`crate::threads`] says.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MlError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(MlError::Tokenizer)?;
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut vectors = vec![Vec::new(); encodings.len()];
        let mut rest = order.as_slice();
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(batch_size(rest, &encodings));
            let batch: Vec<&Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            for (&i, vector) in chunk.iter().zip(self.forward(&batch)?) {
                vectors[i] = vector;
            }
            rest = after;
        }
        Ok(vectors)
    }

    /// The model on one batch, padded to its longest text; mean-pooled and
    /// normalised.
    fn forward(&self, batch: &[&Encoding]) -> Result<Vec<Vec<f32>>, MlError> {
        let len = batch.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; batch.len() * len];
        let mut mask = vec![0u32; batch.len() * len];
        for (row, encoding) in batch.iter().enumerate() {
            let at = row * len;
            let n = encoding.len();
            ids[at..at + n].copy_from_slice(encoding.get_ids());
            mask[at..at + n].copy_from_slice(encoding.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (batch.len(), len), &self.device)?;
        let mask = Tensor::from_vec(mask, (batch.len(), len), &self.device)?;
        let token_types = ids.zeros_like()?;
        // (batch, len, DIM)
        let states = self.model.forward(&ids, &token_types, Some(&mask))?;
        // (batch, len, 1): 1 for a real word piece, 0 for padding.
        let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let sums = states.broadcast_mul(&weights)?.sum(1)?;
        let counts = weights.sum(1)?.maximum(1f64)?;
        let means = sums.broadcast_div(&counts)?;
        // As torch.nn.functional.normalize: x / max(|x|, 1e-12).
        let norms = means.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12)?;
        Ok(means.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
}

/// How many of `sorted` (indices into `encodings`, shortest first) make the
/// next batch: at least one, at most [`BATCH`], and no more word pieces than
/// [`BATCH_TOKENS`] once padded to the longest.
fn batch_size(sorted: &[usize], encodings: &[Encoding]) -> usize {
    let mut size = 1;
    while size < sorted.len().min(BATCH) {
        let longest = encodings[sorted[size]].len().max(1);
        if (size + 1) * longest > BATCH_TOKENS {
            break;
        }
        size += 1;
    }
    size
}

/// Reads a model file; a missing one says how to get it.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, MlError> {
    std::fs::read(path).map_err(|source| {
        let path = PathBuf::from(path);
        if source.kind() == std::io::ErrorKind::NotFound {
            MlError::ModelMissing { path }
        } else {
            MlError::Io { path, source }
        }
    })
}
