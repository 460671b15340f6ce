//! The emotion head of issue 12: Ekman's six emotions + neutral, a
//! calibrated score each, from the sentence vector search already stores.
//!
//! Why a head and not a model: the MiniLM vector of every message is
//! computed and stored anyway (int8, [`crate::Quantized`]), so telling its
//! emotions costs one small product over that vector and a few cheap
//! features of the text: microseconds, no second forward pass. The head is
//! trained by `scripts/train-emotions` on GoEmotions (Ekman labels) and
//! committed as `crates/ml/models/emotion-head.json`; its quality is in
//! `docs/EMOTION.md`.
//!
//! What the head computes, in order (the script computes the same in numpy;
//! a golden test holds them together):
//! 1. the input: the stored vector read back ([`crate::Quantized::to_f32`]),
//!    then the text features the file names ([`TextFeature`]);
//! 2. standardisation with the file's train mean and std;
//! 3. its layers (a linear layer, or one hidden ReLU layer then a linear
//!    one): seven logits;
//! 4. per label, Platt calibration `sigmoid(a * logit + b)`, so that scores
//!    read as probabilities and compare across labels;
//! 5. per label, a threshold tuned on dev in that calibrated space.

use serde::Deserialize;

use crate::{DIM, MlError};

/// Names of the outputs, in order (GoEmotions' Ekman `labels.txt`, and
/// `common::emotion::Emotion::ALL`).
pub const EMOTION_LABELS: [&str; 7] = [
    "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise",
];

/// How many labels the head scores.
const LABELS: usize = EMOTION_LABELS.len();

/// The head committed in the repository, compiled in so a deployment cannot
/// lose it or pair it with the wrong code.
const BUNDLED: &[u8] = include_bytes!("../models/emotion-head.json");

/// Layers a head file may have: enough for a linear head or one hidden
/// layer, and a bound that keeps a hostile file from asking for much.
const MAX_LAYERS: usize = 4;

/// Widest layer a head file may declare (inputs or outputs), for the same
/// reason.
const MAX_WIDTH: usize = 4096;

/// A hand-made feature of the message text, appended to the vector: what a
/// mean-pooled sentence vector blurs (punctuation, emoji). Each is computed
/// identically by `scripts/train-emotions/train.py` (`TEXT_FEATURES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFeature {
    /// 1 when the text has a '?': GoEmotions' "surprise" holds curiosity
    /// and confusion.
    Question,
    /// The count of '!', at most 3, over 3.
    Exclaim,
    /// The share of capitals among ASCII letters (0 without letters).
    Caps,
    /// 1 when any code point is in [`EMOJI_RANGES`].
    Emoji,
    /// ln(1 + the number of code points).
    Length,
}

/// Code points the [`TextFeature::Emoji`] feature counts: Unicode's
/// pictograph, emoticon, transport and supplemental-symbol blocks, and the
/// older miscellaneous symbols and dingbats.
pub const EMOJI_RANGES: [(u32, u32); 2] = [(0x1F300, 0x1FAFF), (0x2600, 0x27BF)];

impl TextFeature {
    /// The feature named `name` in a head file.
    pub fn parse(name: &str) -> Option<TextFeature> {
        Some(match name {
            "question" => TextFeature::Question,
            "exclaim" => TextFeature::Exclaim,
            "caps" => TextFeature::Caps,
            "emoji" => TextFeature::Emoji,
            "length" => TextFeature::Length,
            _ => return None,
        })
    }

    /// Its value for `text` (computed in f64 and rounded to f32, as numpy
    /// stores it).
    pub fn value(self, text: &str) -> f32 {
        let v = match self {
            TextFeature::Question => f64::from(u8::from(text.contains('?'))),
            TextFeature::Exclaim => text.matches('!').count().min(3) as f64 / 3.0,
            TextFeature::Caps => {
                let (mut letters, mut upper) = (0usize, 0usize);
                for c in text.chars().filter(char::is_ascii_alphabetic) {
                    letters += 1;
                    upper += usize::from(c.is_ascii_uppercase());
                }
                if letters == 0 {
                    0.0
                } else {
                    upper as f64 / letters as f64
                }
            }
            TextFeature::Emoji => {
                let any = text.chars().any(|c| {
                    let c = u32::from(c);
                    EMOJI_RANGES.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
                });
                f64::from(u8::from(any))
            }
            TextFeature::Length => (text.chars().count() as f64).ln_1p(),
        };
        v as f32
    }
}

/// One dense layer: a row of `inputs` weights per output, then the bias.
#[derive(Debug, Clone)]
struct Layer {
    inputs: usize,
    relu: bool,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Layer {
    /// `W x + b`, then the activation.
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        self.weights
            .chunks_exact(self.inputs)
            .zip(&self.bias)
            .map(|(row, b)| {
                let z = row.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + b;
                if self.relu { z.max(0.0) } else { z }
            })
            .collect()
    }
}

/// A trained emotion head, checked when loaded: applying it cannot fail
/// except on a vector of the wrong length or with non-finite components.
#[derive(Debug, Clone)]
pub struct EmotionHead {
    version: String,
    text: Vec<TextFeature>,
    mean: Vec<f32>,
    std: Vec<f32>,
    layers: Vec<Layer>,
    a: [f32; LABELS],
    b: [f32; LABELS],
    thresholds: [f32; LABELS],
}

/// The head file as written by `train.py --export` (fields not listed,
/// such as `metrics`, are for people and ignored).
#[derive(Deserialize)]
struct HeadFile {
    version: String,
    labels: Vec<String>,
    features: FeaturesFile,
    mean: Vec<f32>,
    std: Vec<f32>,
    layers: Vec<LayerFile>,
    calibration: CalibrationFile,
    thresholds: Vec<f32>,
}

#[derive(Deserialize)]
struct FeaturesFile {
    vector: usize,
    text: Vec<String>,
}

#[derive(Deserialize)]
struct LayerFile {
    inputs: usize,
    outputs: usize,
    activation: String,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

#[derive(Deserialize)]
struct CalibrationFile {
    a: Vec<f32>,
    b: Vec<f32>,
}

/// A head file that is not usable, saying why.
fn bad(why: impl Into<String>) -> MlError {
    MlError::EmotionHead(why.into())
}

/// `values` as `[f32; 7]`, finite, or why not.
fn seven(what: &str, values: &[f32]) -> Result<[f32; LABELS], MlError> {
    let out: [f32; LABELS] = values
        .try_into()
        .map_err(|_| bad(format!("{what} has {} values, not {LABELS}", values.len())))?;
    finite(what, &out)?;
    Ok(out)
}

/// An error unless every value is finite.
fn finite(what: &str, values: &[f32]) -> Result<(), MlError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(bad(format!("{what}[{i}] is not a finite number"))),
        None => Ok(()),
    }
}

/// The logistic function.
fn sigmoid(z: f32) -> f32 {
    0.5 * (1.0 + (0.5 * z).tanh())
}

impl EmotionHead {
    /// The head committed in the repository, compiled in
    /// (`crates/ml/models/emotion-head.json`), parsed and checked.
    pub fn bundled() -> Result<EmotionHead, MlError> {
        EmotionHead::from_bytes(BUNDLED)
    }

    /// Parses and checks a head file: a corrupt or wrong-shaped one is a
    /// clear [`MlError::EmotionHead`], never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<EmotionHead, MlError> {
        let file: HeadFile =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not a head file: {e}")))?;
        if file.version.is_empty() {
            return Err(bad("no version"));
        }
        if file.labels.iter().map(String::as_str).ne(EMOTION_LABELS) {
            return Err(bad(format!(
                "labels {:?}, not {:?}",
                file.labels, EMOTION_LABELS
            )));
        }
        if file.features.vector != DIM {
            return Err(bad(format!(
                "made for {}-dimensional vectors, not {DIM}",
                file.features.vector
            )));
        }
        let text = file
            .features
            .text
            .iter()
            .map(|n| {
                TextFeature::parse(n).ok_or_else(|| bad(format!("unknown text feature {n:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let width = DIM + text.len();
        for (what, v) in [("mean", &file.mean), ("std", &file.std)] {
            if v.len() != width {
                return Err(bad(format!("{what} has {} values, not {width}", v.len())));
            }
            finite(what, v)?;
        }
        if file.std.iter().any(|s| *s <= 0.0) {
            return Err(bad("a std is not positive"));
        }
        if file.layers.is_empty() || file.layers.len() > MAX_LAYERS {
            return Err(bad(format!(
                "{} layers, not 1 to {MAX_LAYERS}",
                file.layers.len()
            )));
        }
        let mut layers = Vec::with_capacity(file.layers.len());
        let mut inputs = width;
        let last = file.layers.len() - 1;
        for (i, l) in file.layers.into_iter().enumerate() {
            if l.inputs != inputs {
                return Err(bad(format!("layer {i} takes {}, not {inputs}", l.inputs)));
            }
            if l.outputs == 0 || l.outputs > MAX_WIDTH || (i == last && l.outputs != LABELS) {
                return Err(bad(format!("layer {i} has {} outputs", l.outputs)));
            }
            let relu = match l.activation.as_str() {
                "relu" if i != last => true,
                "none" => false,
                other => return Err(bad(format!("layer {i}: activation {other:?}"))),
            };
            if l.weights.len() != l.inputs * l.outputs || l.bias.len() != l.outputs {
                return Err(bad(format!(
                    "layer {i}: {} weights and {} biases for {}x{}",
                    l.weights.len(),
                    l.bias.len(),
                    l.outputs,
                    l.inputs
                )));
            }
            finite("weights", &l.weights)?;
            finite("bias", &l.bias)?;
            inputs = l.outputs;
            layers.push(Layer {
                inputs: l.inputs,
                relu,
                weights: l.weights,
                bias: l.bias,
            });
        }
        let thresholds = seven("thresholds", &file.thresholds)?;
        if thresholds.iter().any(|t| !(0.0..=1.0).contains(t)) {
            return Err(bad("a threshold is outside 0..=1"));
        }
        Ok(EmotionHead {
            version: file.version,
            text,
            mean: file.mean,
            std: file.std,
            layers,
            a: seven("calibration a", &file.calibration.a)?,
            b: seven("calibration b", &file.calibration.b)?,
            thresholds,
        })
    }

    /// For the annotation's `model`, e.g. "emotion-v1": which head said it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Each label's threshold in the calibrated space, in label order: a
    /// score at or over it means the label applies (for a marker's
    /// "passes its threshold").
    pub fn thresholds(&self) -> [f32; 7] {
        self.thresholds
    }

    /// All seven calibrated scores (0..=1), in label order, of one message
    /// from its stored vector (dequantized, [`DIM`] components) and its text
    /// (for reports and tests; the product uses [`EmotionHead::tag`]).
    pub fn scores(&self, vector: &[f32], text: &str) -> Result<[f32; 7], MlError> {
        if vector.len() != DIM {
            return Err(MlError::Length {
                expected: DIM,
                got: vector.len(),
            });
        }
        if vector.iter().any(|v| !v.is_finite()) {
            return Err(MlError::NotFinite);
        }
        let mut x: Vec<f32> = Vec::with_capacity(self.mean.len());
        x.extend_from_slice(vector);
        x.extend(self.text.iter().map(|f| f.value(text)));
        for ((v, m), s) in x.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
        for layer in &self.layers {
            x = layer.apply(&x);
        }
        let mut out = [0f32; LABELS];
        for (j, (o, z)) in out.iter_mut().zip(&x).enumerate() {
            *o = sigmoid(self.a[j] * z + self.b[j]);
        }
        Ok(out)
    }

    /// The tags of one message from its stored vector (dequantized, [`DIM`]
    /// f32) and its text (best the text that was embedded, e.g. the
    /// `common::markdown::excerpt` the `vectors` follower embeds; the text
    /// features only look at '?' and the length, so the raw body does
    /// nearly as well): (label index into [`EMOTION_LABELS`], calibrated
    /// score 0..=1) of the labels at or over their thresholds, in
    /// decreasing score; at least one: when none passes, the label closest
    /// to its threshold (highest score minus threshold). The first is the
    /// dominant emotion.
    pub fn tag(&self, vector: &[f32], text: &str) -> Result<Vec<(usize, f32)>, MlError> {
        let scores = self.scores(vector, text)?;
        let mut tags: Vec<(usize, f32)> = scores
            .iter()
            .zip(&self.thresholds)
            .enumerate()
            .filter(|(_, (s, t))| s >= t)
            .map(|(j, (s, _))| (j, *s))
            .collect();
        if tags.is_empty() {
            let closest = scores
                .iter()
                .zip(&self.thresholds)
                .enumerate()
                .map(|(j, (s, t))| (j, *s, s - t))
                .max_by(|x, y| x.2.total_cmp(&y.2));
            tags.extend(closest.map(|(j, s, _)| (j, s)));
        }
        // Stable: equal scores keep label order.
        tags.sort_by(|x, y| y.1.total_cmp(&x.1));
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_features_count_code_points_and_ascii_letters() {
        let value = |f: TextFeature, t: &str| f.value(t);
        assert_eq!(value(TextFeature::Question, "really?"), 1.0);
        assert_eq!(value(TextFeature::Question, "really."), 0.0);
        assert_eq!(value(TextFeature::Exclaim, "no!!"), 2.0 / 3.0);
        assert_eq!(value(TextFeature::Exclaim, "no!!!!!"), 1.0);
        assert_eq!(value(TextFeature::Caps, "WHY not"), 0.5);
        assert_eq!(value(TextFeature::Caps, "ÉÉ 123"), 0.0);
        assert_eq!(value(TextFeature::Emoji, "ok 😭"), 1.0);
        assert_eq!(value(TextFeature::Emoji, "ok ☺"), 1.0);
        assert_eq!(value(TextFeature::Emoji, "ok :)"), 0.0);
        assert_eq!(value(TextFeature::Length, "😭é"), (3f64).ln() as f32);
    }

    #[test]
    fn unknown_features_are_not_parsed() {
        assert_eq!(TextFeature::parse("emoji"), Some(TextFeature::Emoji));
        assert_eq!(TextFeature::parse("shouting"), None);
    }
}
