//! Greedy decoding of one 30-s window: the encoder once (candle-transformers'
//! `AudioEncoder`), then the decoder (`text_decoder.rs`, with its cache)
//! token by token from `<|startoftranscript|> <|notimestamps|>`, always
//! taking the likeliest token, until `<|endoftext|>`.
//!
//! What keeps it from the known failure modes of a small Whisper:
//! - only text tokens and `<|endoftext|>` may come out (the special and
//!   timestamp tokens, and the file's `suppress_ids`, are masked), and
//!   neither a blank nor `<|endoftext|>` may come first (`suppress_ids_begin`);
//! - at most [`MAX_TOKENS_PER_WINDOW`] tokens;
//! - a loop (the same few tokens over and over, what Whisper does on noise or
//!   music) stops the window and keeps one copy ([`repetition_start`]);
//! - a window the model itself calls speechless (`<|nocaptions|>` likelier
//!   than [`NO_SPEECH_THRESHOLD`] and an unsure transcript) gives nothing,
//!   as whisper's own `transcribe` does.

use candle_core::{D, IndexOp, Tensor};
use candle_transformers::models::whisper::model::AudioEncoder;

use super::text_decoder::TextDecoder;
use crate::MlError;

/// Tokens decoded at most per 30-s window: whisper's own `sample_len`
/// (half the decoder's 448 positions). Speech at a fast 200 words a minute
/// is ~130 tokens per window.
pub const MAX_TOKENS_PER_WINDOW: usize = 224;

/// A window whose `<|nocaptions|>` probability is above this, and whose
/// transcript's mean log-probability is below [`LOGPROB_THRESHOLD`], is
/// taken as silence (whisper's `no_speech_threshold`).
pub const NO_SPEECH_THRESHOLD: f32 = 0.6;

/// See [`NO_SPEECH_THRESHOLD`] (whisper's `logprob_threshold`).
pub const LOGPROB_THRESHOLD: f32 = -1.0;

/// A run of a repeated pattern is a loop once it covers at least this many
/// tokens ...
const LOOP_MIN_TOKENS: usize = 12;
/// ... and the pattern comes at least this many times in a row.
const LOOP_MIN_TIMES: usize = 3;
/// The longest pattern looked for, in tokens.
const LOOP_MAX_PERIOD: usize = 16;

/// The token ids decoding needs, read from the tokenizer and the config.
pub(crate) struct Prompt {
    /// `<|startoftranscript|>`, then `<|notimestamps|>`.
    pub start: [u32; 2],
    /// `<|endoftext|>`: the end of the transcript.
    pub end: u32,
    /// `<|nocaptions|>` (called `<|nospeech|>` in newer models), if the
    /// vocabulary has it.
    pub no_speech: Option<u32>,
    /// 0 for an allowed token, -inf for a suppressed one; (vocab,).
    pub suppress: Tensor,
    /// The same with the tokens that may not come first also masked.
    pub suppress_first: Tensor,
}

/// The text tokens of the window whose log-mel spectrogram is `mel`
/// (1, 80, 3000), without the prompt and `<|endoftext|>`; empty for a
/// window the model calls speechless. `encoder` is a per-call copy (see
/// `Transcriber`); the decoder's state is made here, per window.
pub(crate) fn decode_window(
    encoder: &mut AudioEncoder,
    decoder: &TextDecoder,
    prompt: &Prompt,
    mel: &Tensor,
) -> Result<Vec<u32>, MlError> {
    let audio = encoder.forward(mel, true)?;
    let mut state = decoder.start(&audio)?;
    let limit = MAX_TOKENS_PER_WINDOW.min(decoder.max_len().saturating_sub(prompt.start.len()));
    let logits = decoder.step(&mut state, &prompt.start)?;
    // At <|startoftranscript|>: how likely the model finds silence.
    let no_speech = match prompt.no_speech {
        Some(id) => candle_nn::ops::softmax_last_dim(&logits.i(0)?)?
            .i(id as usize)?
            .to_scalar::<f32>()?,
        None => 0.0,
    };
    let mut last = logits.i(prompt.start.len() - 1)?;
    let mut text: Vec<u32> = Vec::new();
    let mut logprob_sum = 0f32;
    for step in 0..limit {
        let mask = if step == 0 {
            &prompt.suppress_first
        } else {
            &prompt.suppress
        };
        let logits = (last + mask)?;
        let logprobs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let next = logits.argmax(D::Minus1)?.to_scalar::<u32>()?;
        logprob_sum += logprobs.i(next as usize)?.to_scalar::<f32>()?;
        if next == prompt.end {
            break;
        }
        text.push(next);
        if let Some(cut) = repetition_start(&text) {
            text.truncate(cut);
            break;
        }
        if step + 1 == limit {
            break;
        }
        last = decoder.step(&mut state, &[next])?.i(0)?;
    }
    let mean_logprob = logprob_sum / (text.len() + 1) as f32;
    if no_speech > NO_SPEECH_THRESHOLD && mean_logprob < LOGPROB_THRESHOLD {
        return Ok(Vec::new());
    }
    Ok(text)
}

/// Where to cut `tokens` when they end in a loop: some pattern of 1 to
/// [`LOOP_MAX_PERIOD`] tokens repeated at least [`LOOP_MIN_TIMES`] times
/// and over at least [`LOOP_MIN_TOKENS`] tokens. The cut keeps the first
/// copy of the pattern. `None` when there is no loop at the end.
pub(crate) fn repetition_start(tokens: &[u32]) -> Option<usize> {
    for period in 1..=LOOP_MAX_PERIOD {
        let times = LOOP_MIN_TIMES.max(LOOP_MIN_TOKENS.div_ceil(period));
        let span = period * times;
        if tokens.len() < span {
            continue;
        }
        let tail = &tokens[tokens.len() - span..];
        if tail.iter().zip(&tail[period..]).all(|(a, b)| a == b) {
            return Some(tokens.len() - span + period);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_is_cut_to_one_copy() {
        // "the the the ..." twelve times: one "the" is kept.
        let mut tokens = vec![1, 2, 3];
        tokens.extend([7; 12]);
        assert_eq!(repetition_start(&tokens), Some(4));
        // A four-token sentence said three times.
        let mut tokens = vec![9];
        for _ in 0..3 {
            tokens.extend([4, 5, 6, 8]);
        }
        assert_eq!(repetition_start(&tokens), Some(5));
    }

    #[test]
    fn ordinary_repetition_is_not_a_loop() {
        // "no, no, no" (three times a two-token pattern: 6 < 12 tokens).
        assert_eq!(repetition_start(&[1, 2, 1, 2, 1, 2]), None);
        // Eleven of the same token.
        assert_eq!(repetition_start(&[5; 11]), None);
        // A pattern twice only.
        let twice: Vec<u32> = (0..16).chain(0..16).collect();
        assert_eq!(repetition_start(&twice), None);
        assert_eq!(repetition_start(&[]), None);
        // A loop that is not at the end is no longer looping.
        let mut tokens = vec![3; 12];
        tokens.push(4);
        assert_eq!(repetition_start(&tokens), None);
    }
}
