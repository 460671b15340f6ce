//! The speech-to-text entry point: load the model once, transcribe many.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::model::{AudioEncoder, Whisper};
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::ct2::Ct2Model;
use super::decode::{Prompt, decode_window};
use super::mel::{LogMel, WINDOW_SAMPLES};
use super::text_decoder::TextDecoder;
use super::weights::whisper_tensors;
use crate::MlError;

/// The model directory under the models directory, as scripts/fetch-models
/// lays it out.
const SUBDIR: &str = "whisper";

/// A window whose loudest sample is quieter than this (-60 dBFS) is
/// silence: it is not decoded at all (Whisper tends to invent words for
/// silence, and it saves the window's second of CPU).
pub const SILENCE_PEAK: f32 = 0.001;

/// What a transcription gives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The words, windows joined with a space; empty when nothing was said.
    pub text: String,
    /// How many 30-s windows the audio was cut into (0 for no audio), a
    /// measure of the work done: each costs one encoder pass.
    pub windows: usize,
}

/// The part of CTranslate2's `config.json` decoding needs.
#[derive(Deserialize)]
struct Ct2Config {
    /// Tokens never to produce.
    #[serde(default)]
    suppress_ids: Vec<u32>,
    /// Tokens not to produce first (a blank, `<|endoftext|>`).
    #[serde(default)]
    suppress_ids_begin: Vec<u32>,
}

/// Whisper tiny.en loaded into memory (~150 MB of f32 weights), ready to
/// transcribe English speech. Load it once and share it:
/// [`Transcriber::transcribe`] takes `&self` and may run on several
/// threads at once.
pub struct Transcriber {
    /// candle-transformers' encoder. Its `forward` takes `&mut` (for a cache
    /// the encoder never uses), so each call runs a copy of its own: a clone
    /// shares the weights (reference-counted tensors) and costs nothing,
    /// where a `Mutex` would serialise calls.
    encoder: AudioEncoder,
    /// Our decoder: read-only, its per-window state made by each call.
    decoder: TextDecoder,
    tokenizer: Tokenizer,
    mel: LogMel,
    prompt: Prompt,
}

impl Transcriber {
    /// Loads `whisper/{model.bin, config.json, tokenizer.json}` from the
    /// models directory `models_dir` (see [`crate::models_dir`]):
    /// [`MlError::ModelMissing`] when scripts/fetch-models never put them
    /// there, [`MlError::WhisperModel`] when `model.bin` is not a float
    /// CTranslate2 Whisper model of 80 mel bins.
    ///
    /// Reads the whole file (75 MB) and widens it to f32 (no mmap: the
    /// workspace forbids `unsafe`); a fraction of a second. Blocking.
    pub fn load(models_dir: &Path) -> Result<Transcriber, MlError> {
        let dir = models_dir.join(SUBDIR);
        let config: Ct2Config =
            serde_json::from_slice(&crate::embed::read(&dir.join("config.json"))?)?;
        let tokenizer = Tokenizer::from_bytes(crate::embed::read(&dir.join("tokenizer.json"))?)
            .map_err(MlError::Tokenizer)?;
        let device = Device::Cpu;
        let bytes = crate::embed::read(&dir.join("model.bin"))?;
        let (tensors, whisper_config) = {
            let ct2 = Ct2Model::parse(&bytes)?;
            whisper_tensors(&ct2, config.suppress_ids.clone(), &device)?
        };
        drop(bytes);
        let vocab = whisper_config.vocab_size;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let decoder = TextDecoder::load(&vb, &whisper_config)?;
        // candle's decoder is built too (on the same tensors: no copy) and
        // dropped.
        let encoder = Whisper::load(&vb, whisper_config)?.encoder;
        let prompt = prompt(&tokenizer, &config, vocab, &device)?;
        Ok(Transcriber {
            encoder,
            decoder,
            tokenizer,
            mel: LogMel::new(&device)?,
            prompt,
        })
    }

    /// The English text spoken in `pcm_16k_mono`: samples at
    /// [`super::SAMPLE_RATE`] Hz, one channel, in -1.0..=1.0.
    ///
    /// Audio longer than 30 s is cut into consecutive 30-s windows,
    /// transcribed one after the other and joined (a word on a cut may be
    /// lost or split). No audio, or silence, gives an empty text, not an
    /// error; a NaN or infinite sample is [`MlError::NotFinite`].
    ///
    /// CPU-heavy and blocking (about a second of one core per window for
    /// tiny.en; measured in docs/notes/whisper.md): call it from a
    /// blocking thread, never on an async executor. Uses as many threads
    /// as [`crate::threads`] says.
    pub fn transcribe(&self, pcm_16k_mono: &[f32]) -> Result<Transcript, MlError> {
        if pcm_16k_mono.iter().any(|x| !x.is_finite()) {
            return Err(MlError::NotFinite);
        }
        let mut encoder = self.encoder.clone();
        let mut texts = Vec::new();
        let mut windows = 0;
        for start in (0..pcm_16k_mono.len()).step_by(WINDOW_SAMPLES) {
            windows += 1;
            let end = (start + WINDOW_SAMPLES).min(pcm_16k_mono.len());
            let peak = pcm_16k_mono[start..end]
                .iter()
                .fold(0f32, |peak, x| peak.max(x.abs()));
            if peak < SILENCE_PEAK {
                continue;
            }
            let mel = self.mel.window(pcm_16k_mono, start)?;
            let tokens = decode_window(&mut encoder, &self.decoder, &self.prompt, &mel)?;
            let text = self
                .tokenizer
                .decode(&tokens, true)
                .map_err(MlError::Tokenizer)?;
            let text = text.trim();
            if !text.is_empty() {
                texts.push(text.to_owned());
            }
        }
        Ok(Transcript {
            text: texts.join(" "),
            windows,
        })
    }
}

/// The prompt and masks from the tokenizer's special tokens and the
/// config's suppressed ids.
fn prompt(
    tokenizer: &Tokenizer,
    config: &Ct2Config,
    vocab: usize,
    device: &Device,
) -> Result<Prompt, MlError> {
    let id = |token: &str| {
        tokenizer
            .token_to_id(token)
            .filter(|&id| (id as usize) < vocab)
            .ok_or_else(|| MlError::WhisperModel(format!("tokenizer.json has no {token}")))
    };
    let start = [id("<|startoftranscript|>")?, id("<|notimestamps|>")?];
    let end = id("<|endoftext|>")?;
    let no_speech = id("<|nocaptions|>").or_else(|_| id("<|nospeech|>")).ok();
    // Text tokens come before <|endoftext|>; everything after it is special
    // (the prompt's tokens, languages, tasks, timestamps).
    let mut suppress = vec![0f32; vocab];
    for (i, mask) in suppress.iter_mut().enumerate() {
        if i > end as usize {
            *mask = f32::NEG_INFINITY;
        }
    }
    for &i in &config.suppress_ids {
        if let Some(mask) = suppress.get_mut(i as usize) {
            *mask = f32::NEG_INFINITY;
        }
    }
    let mut suppress_first = suppress.clone();
    for &i in &config.suppress_ids_begin {
        if let Some(mask) = suppress_first.get_mut(i as usize) {
            *mask = f32::NEG_INFINITY;
        }
    }
    Ok(Prompt {
        start,
        end,
        no_speech,
        suppress: Tensor::from_vec(suppress, vocab, device)?,
        suppress_first: Tensor::from_vec(suppress_first, vocab, device)?,
    })
}
