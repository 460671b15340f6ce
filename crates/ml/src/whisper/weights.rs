//! CTranslate2's Whisper arrays renamed and reshaped into what
//! candle-transformers' `whisper::model::Whisper` loads: the names of Hugging
//! Face's checkpoint (`model.encoder.layers.0.self_attn.q_proj.weight`, ...),
//! f32, with CTranslate2's fused projections split again.
//!
//! CTranslate2's converter fuses a self-attention's q, k and v into one
//! `linear_0` ([3 × d, d], in that order; k has no bias in Whisper, so the
//! middle third of the fused bias is zeros) and a cross-attention's k and v
//! into `linear_1` ([2 × d, d]). The encoder's sinusoidal positions and the
//! decoder's output projection (an alias of the token embeddings) are not
//! taken: candle computes the first and ties the second itself.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use candle_transformers::models::whisper::Config;

use super::ct2::Ct2Model;
use crate::MlError;

/// The spec name of a CTranslate2 Whisper model.
const SPEC: &str = "WhisperSpec";

/// The mel bins the model must take: the filter bank computed in
/// `mel.rs`.
pub(crate) const MEL_BINS: usize = 80;

/// The tensors for `VarBuilder::from_tensors` and the model's shape, read
/// from the arrays themselves (so tiny, base, ... all load).
pub(crate) fn whisper_tensors(
    model: &Ct2Model<'_>,
    suppress_tokens: Vec<u32>,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, Config), MlError> {
    if model.spec != SPEC {
        return Err(MlError::WhisperModel(format!(
            "the spec is {}, not {SPEC}",
            model.spec
        )));
    }
    let mut out = Tensors {
        model,
        device,
        map: HashMap::new(),
    };
    let conv1 = out.shape("encoder/conv1/weight")?;
    let [d_model, mel_bins, _] = conv1[..] else {
        return Err(MlError::WhisperModel(format!(
            "encoder/conv1/weight is {conv1:?}, not [d, mels, width]"
        )));
    };
    if mel_bins != MEL_BINS {
        return Err(MlError::WhisperModel(format!(
            "the model takes {mel_bins} mel bins, not {MEL_BINS}"
        )));
    }
    let encoder_layers = out.count_layers("encoder")?;
    let decoder_layers = out.count_layers("decoder")?;
    let vocab_size = out.rows("decoder/embeddings/weight")?;
    let config = Config {
        num_mel_bins: mel_bins,
        max_source_positions: out.rows("encoder/position_encodings/encodings")?,
        d_model,
        encoder_attention_heads: out.heads("encoder/num_heads", d_model)?,
        encoder_layers,
        vocab_size,
        max_target_positions: out.rows("decoder/position_encodings/encodings")?,
        decoder_attention_heads: out.heads("decoder/num_heads", d_model)?,
        decoder_layers,
        suppress_tokens,
    };

    for conv in ["conv1", "conv2"] {
        out.linear(&format!("encoder/{conv}"), &format!("model.encoder.{conv}"))?;
    }
    out.norm("encoder/layer_norm", "model.encoder.layer_norm")?;
    for i in 0..encoder_layers {
        let (from, to) = (
            format!("encoder/layer_{i}"),
            format!("model.encoder.layers.{i}"),
        );
        out.self_attention(&from, &to, d_model)?;
        out.ffn(&from, &to)?;
    }

    out.copy(
        "decoder/embeddings/weight",
        "model.decoder.embed_tokens.weight",
    )?;
    out.copy(
        "decoder/position_encodings/encodings",
        "model.decoder.embed_positions.weight",
    )?;
    out.norm("decoder/layer_norm", "model.decoder.layer_norm")?;
    for i in 0..decoder_layers {
        let (from, to) = (
            format!("decoder/layer_{i}"),
            format!("model.decoder.layers.{i}"),
        );
        out.self_attention(&from, &to, d_model)?;
        let attention = format!("{to}.encoder_attn");
        out.norm(
            &format!("{from}/attention/layer_norm"),
            &format!("{to}.encoder_attn_layer_norm"),
        )?;
        out.linear(
            &format!("{from}/attention/linear_0"),
            &format!("{attention}.q_proj"),
        )?;
        out.split(
            &format!("{from}/attention/linear_1"),
            &[format!("{attention}.k_proj"), format!("{attention}.v_proj")],
            d_model,
        )?;
        out.linear(
            &format!("{from}/attention/linear_2"),
            &format!("{attention}.out_proj"),
        )?;
        out.ffn(&from, &to)?;
    }
    Ok((out.map, config))
}

/// The tensors being collected, and where from.
struct Tensors<'m, 'a> {
    model: &'m Ct2Model<'a>,
    device: &'m Device,
    map: HashMap<String, Tensor>,
}

impl Tensors<'_, '_> {
    fn shape(&self, name: &str) -> Result<Vec<usize>, MlError> {
        Ok(self.model.get(name)?.shape.clone())
    }

    /// The first dimension of a matrix.
    fn rows(&self, name: &str) -> Result<usize, MlError> {
        match self.shape(name)?[..] {
            [rows, _] => Ok(rows),
            ref other => Err(MlError::WhisperModel(format!(
                "{name} is {other:?}, not a matrix"
            ))),
        }
    }

    /// The attention heads: an integer scalar that divides `d_model`.
    fn heads(&self, name: &str, d_model: usize) -> Result<usize, MlError> {
        let heads = self.model.get(name)?.int_scalar();
        match heads.and_then(|h| usize::try_from(h).ok()) {
            Some(h) if h > 0 && d_model.is_multiple_of(h) => Ok(h),
            _ => Err(MlError::WhisperModel(format!(
                "{name} is not a head count that divides {d_model}"
            ))),
        }
    }

    /// How many `{side}/layer_{i}` there are (0, 1, ... without a gap).
    fn count_layers(&self, side: &str) -> Result<usize, MlError> {
        let mut n = 0;
        while self
            .model
            .variables
            .contains_key(&format!("{side}/layer_{n}/ffn/linear_0/weight"))
        {
            n += 1;
        }
        if n == 0 {
            return Err(MlError::WhisperModel(format!("the {side} has no layers")));
        }
        Ok(n)
    }

    /// The array `name` as an f32 tensor of its shape.
    fn tensor(&self, name: &str) -> Result<Tensor, MlError> {
        let variable = self.model.get(name)?;
        let values = variable.to_f32(name)?;
        Ok(Tensor::from_vec(
            values,
            variable.shape.as_slice(),
            self.device,
        )?)
    }

    fn copy(&mut self, from: &str, to: &str) -> Result<(), MlError> {
        let tensor = self.tensor(from)?;
        self.map.insert(to.to_owned(), tensor);
        Ok(())
    }

    /// `weight` and `bias`.
    fn linear(&mut self, from: &str, to: &str) -> Result<(), MlError> {
        self.copy(&format!("{from}/weight"), &format!("{to}.weight"))?;
        self.copy(&format!("{from}/bias"), &format!("{to}.bias"))
    }

    /// CTranslate2's `gamma`/`beta` are candle's `weight`/`bias`.
    fn norm(&mut self, from: &str, to: &str) -> Result<(), MlError> {
        self.copy(&format!("{from}/gamma"), &format!("{to}.weight"))?;
        self.copy(&format!("{from}/beta"), &format!("{to}.bias"))
    }

    /// A fused linear `from` of `to.len() × d` rows cut into `to`, in order
    /// (each `d` rows of weight and `d` of bias).
    fn split(&mut self, from: &str, to: &[String], d: usize) -> Result<(), MlError> {
        let weight = self.tensor(&format!("{from}/weight"))?;
        let bias = self.tensor(&format!("{from}/bias"))?;
        if weight.dims() != [to.len() * d, d] || bias.dims() != [to.len() * d] {
            return Err(MlError::WhisperModel(format!(
                "{from} is {:?} and {:?}, not {} fused projections of {d}",
                weight.dims(),
                bias.dims(),
                to.len()
            )));
        }
        for (i, name) in to.iter().enumerate() {
            let w = weight.narrow(0, i * d, d)?.contiguous()?;
            let b = bias.narrow(0, i * d, d)?.contiguous()?;
            self.map.insert(format!("{name}.weight"), w);
            self.map.insert(format!("{name}.bias"), b);
        }
        Ok(())
    }

    /// A layer's self-attention: its norm, the fused q/k/v and the output
    /// projection.
    fn self_attention(&mut self, from: &str, to: &str, d: usize) -> Result<(), MlError> {
        self.norm(
            &format!("{from}/self_attention/layer_norm"),
            &format!("{to}.self_attn_layer_norm"),
        )?;
        self.split(
            &format!("{from}/self_attention/linear_0"),
            &[
                format!("{to}.self_attn.q_proj"),
                format!("{to}.self_attn.k_proj"),
                format!("{to}.self_attn.v_proj"),
            ],
            d,
        )?;
        self.linear(
            &format!("{from}/self_attention/linear_1"),
            &format!("{to}.self_attn.out_proj"),
        )
    }

    /// A layer's feed-forward block: norm, `fc1`, `fc2`.
    fn ffn(&mut self, from: &str, to: &str) -> Result<(), MlError> {
        self.norm(
            &format!("{from}/ffn/layer_norm"),
            &format!("{to}.final_layer_norm"),
        )?;
        self.linear(&format!("{from}/ffn/linear_0"), &format!("{to}.fc1"))?;
        self.linear(&format!("{from}/ffn/linear_1"), &format!("{to}.fc2"))
    }
}
