//! Whisper's text decoder with a cache of its self-attention keys and
//! values, so that each new token costs one position, not the whole
//! sequence again.
//!
//! candle-transformers' `TextDecoder` caches only the cross-attention and
//! recomputes every earlier token at each step: for a window of continuous
//! speech (~140 tokens) that was ~5 s of CPU on top of the encoder's ~1.5 s
//! (docs/notes/whisper.md). This is the same network (OpenAI's
//! `TextDecoder`: pre-norm blocks of causal self-attention, cross-attention
//! to the audio, a GELU MLP; output tied to the token embeddings), loaded
//! from the same names. The state of one transcription lives in a
//! [`DecoderState`], so the decoder itself is shared read-only.

use candle_core::{D, Device, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, Module, VarBuilder};
use candle_transformers::models::whisper::Config;

use crate::MlError;

/// Attention with Whisper's scaling (q and k each by `d_head^-1/4`).
struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn load(d: usize, heads: usize, vb: VarBuilder) -> candle_core::Result<Attention> {
        Ok(Attention {
            query: candle_nn::linear(d, d, vb.pp("q_proj"))?,
            key: candle_nn::linear_no_bias(d, d, vb.pp("k_proj"))?,
            value: candle_nn::linear(d, d, vb.pp("v_proj"))?,
            out: candle_nn::linear(d, d, vb.pp("out_proj"))?,
            heads,
        })
    }

    /// (1, n, d) → (1, heads, n, d_head).
    fn split_heads(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n, d) = x.dims3()?;
        x.reshape((b, n, self.heads, d / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Keys and values of `x` (1, n, d), heads split and k scaled.
    fn keys_values(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let k = self.split_heads(&self.key.forward(x)?)?;
        let v = self.split_heads(&self.value.forward(x)?)?;
        Ok(((k * self.scale(x)?)?, v))
    }

    fn scale(&self, x: &Tensor) -> candle_core::Result<f64> {
        let d = x.dim(D::Minus1)?;
        Ok(((d / self.heads) as f64).powf(-0.25))
    }

    /// Attention of the queries from `x` (1, n, d) over `k`, `v`; `mask`
    /// (n, keys) adds -inf where a query may not look.
    fn attend(
        &self,
        x: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let q = (self.split_heads(&self.query.forward(x)?)? * self.scale(x)?)?;
        let mut scores = q.matmul(&k.t()?)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let mixed = weights.matmul(v)?.transpose(1, 2)?.flatten_from(2)?;
        self.out.forward(&mixed)
    }
}

/// One pre-norm residual block.
struct Block {
    self_attention: Attention,
    self_norm: LayerNorm,
    cross_attention: Attention,
    cross_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    mlp_norm: LayerNorm,
}

fn layer_norm(d: usize, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    candle_nn::layer_norm(d, 1e-5, vb)
}

/// The decoder's weights; shared, read-only.
pub(crate) struct TextDecoder {
    embedding: Embedding,
    positions: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
}

/// What one transcription's decoding remembers: per block, the
/// cross-attention keys and values of the window's audio, and the
/// self-attention keys and values of the tokens so far.
pub(crate) struct DecoderState {
    cross: Vec<(Tensor, Tensor)>,
    past: Vec<Option<(Tensor, Tensor)>>,
    /// Tokens fed so far (the position of the next one).
    len: usize,
}

impl TextDecoder {
    /// Loads `model.decoder.*` (the names `weights.rs` gives).
    pub fn load(vb: &VarBuilder, config: &Config) -> Result<TextDecoder, MlError> {
        let vb = vb.pp("model.decoder");
        let d = config.d_model;
        let heads = config.decoder_attention_heads;
        let blocks = (0..config.decoder_layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                Ok(Block {
                    self_attention: Attention::load(d, heads, vb.pp("self_attn"))?,
                    self_norm: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
                    cross_attention: Attention::load(d, heads, vb.pp("encoder_attn"))?,
                    cross_norm: layer_norm(d, vb.pp("encoder_attn_layer_norm"))?,
                    fc1: candle_nn::linear(d, 4 * d, vb.pp("fc1"))?,
                    fc2: candle_nn::linear(4 * d, d, vb.pp("fc2"))?,
                    mlp_norm: layer_norm(d, vb.pp("final_layer_norm"))?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(TextDecoder {
            embedding: candle_nn::embedding(config.vocab_size, d, vb.pp("embed_tokens"))?,
            positions: vb.get((config.max_target_positions, d), "embed_positions.weight")?,
            blocks,
            norm: layer_norm(d, vb.pp("layer_norm"))?,
        })
    }

    /// The positions the decoder has: tokens beyond them cannot be fed.
    pub fn max_len(&self) -> usize {
        self.positions.dims().first().copied().unwrap_or(0)
    }

    /// A fresh state for the window whose encoded audio is `audio`
    /// (1, frames, d).
    pub fn start(&self, audio: &Tensor) -> Result<DecoderState, MlError> {
        let cross = self
            .blocks
            .iter()
            .map(|b| b.cross_attention.keys_values(audio))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(DecoderState {
            cross,
            past: (0..self.blocks.len()).map(|_| None).collect(),
            len: 0,
        })
    }

    /// Feeds `tokens` (after those fed before) and returns the logits over
    /// the vocabulary at each of their positions, (n, vocab).
    pub fn step(&self, state: &mut DecoderState, tokens: &[u32]) -> Result<Tensor, MlError> {
        let n = tokens.len();
        if n == 0 || state.len + n > self.max_len() {
            return Err(MlError::WhisperModel(format!(
                "cannot decode {n} more tokens after {}: the model has {} positions",
                state.len,
                self.max_len()
            )));
        }
        let device = self.positions.device();
        let ids = Tensor::new(tokens, device)?.unsqueeze(0)?;
        let mut x = self
            .embedding
            .forward(&ids)?
            .broadcast_add(&self.positions.narrow(0, state.len, n)?)?;
        let mask = causal_mask(state.len, n, device)?;
        for ((block, (ck, cv)), past) in self
            .blocks
            .iter()
            .zip(&state.cross)
            .zip(state.past.iter_mut())
        {
            let h = block.self_norm.forward(&x)?;
            let (k, v) = block.self_attention.keys_values(&h)?;
            let (k, v) = match past.take() {
                Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                None => (k, v),
            };
            let attended = block.self_attention.attend(&h, &k, &v, mask.as_ref())?;
            *past = Some((k, v));
            x = (x + attended)?;
            let h = block.cross_norm.forward(&x)?;
            x = (&x + block.cross_attention.attend(&h, ck, cv, None)?)?;
            let h = block.mlp_norm.forward(&x)?;
            x = (&x + block.fc2.forward(&block.fc1.forward(&h)?.gelu_erf()?)?)?;
        }
        state.len += n;
        let x = self.norm.forward(&x)?.squeeze(0)?;
        Ok(x.matmul(&self.embedding.embeddings().t()?)?)
    }
}

/// For `n` new queries after `past` tokens: 0 where query i may see key j
/// (j ≤ past + i), -inf elsewhere; `None` for a single query (it sees
/// everything).
fn causal_mask(past: usize, n: usize, device: &Device) -> candle_core::Result<Option<Tensor>> {
    if n == 1 {
        return Ok(None);
    }
    let keys = past + n;
    let mask: Vec<f32> = (0..n)
        .flat_map(|i| (0..keys).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (n, keys), device).map(Some)
}
