//! The emotion head against the numbers of the script that trained it
//! (`scripts/train-emotions/train.py --golden`, this directory's
//! `emotion-golden.json`: dev examples with their raw vectors, numpy's int8
//! quantisation, text features and calibrated scores), and against broken
//! head files. No model is needed: the vectors are in the fixture.

use ml::{DIM, EMOTION_LABELS, EmotionHead, MlError, TextFeature};
use serde_json::Value;

const GOLDEN: &str = include_str!("emotion-golden.json");
const HEAD: &[u8] = include_bytes!("../models/emotion-head.json");

fn bundled() -> EmotionHead {
    match EmotionHead::bundled() {
        Ok(head) => head,
        Err(e) => panic!("the bundled head: {e}"),
    }
}

fn golden() -> Vec<Value> {
    let v: Value = match serde_json::from_str(GOLDEN) {
        Ok(v) => v,
        Err(e) => panic!("the fixture: {e}"),
    };
    match v["examples"].as_array() {
        Some(examples) if examples.len() >= 20 => examples.clone(),
        _ => panic!("the fixture has too few examples"),
    }
}

fn floats(v: &Value) -> Vec<f32> {
    match v.as_array() {
        Some(a) => a
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
            .collect(),
        None => panic!("not an array: {v}"),
    }
}

/// The raw embedding (little-endian f32, hex) of a fixture example.
fn raw_vector(example: &Value) -> Vec<f32> {
    let hex = example["vector_f32le_hex"].as_str().unwrap_or_default();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
        .collect();
    assert_eq!(bytes.len(), DIM * 4);
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn quantized(v: &[f32]) -> ml::Quantized {
    match ml::quantize(v) {
        Ok(q) => q,
        Err(e) => panic!("quantize: {e}"),
    }
}

#[test]
fn the_bundled_head_loads() {
    let head = bundled();
    assert!(
        head.version().starts_with("emotion-v"),
        "{}",
        head.version()
    );
    assert_eq!(EMOTION_LABELS[3], "joy");
    assert!(head.thresholds().iter().all(|t| (0.0..=1.0).contains(t)));
}

#[test]
fn numpy_quantises_as_rust_does() {
    for example in golden() {
        let q = quantized(&raw_vector(&example));
        let scale = example["scale"].as_f64().unwrap_or(f64::NAN) as f32;
        assert_eq!(q.scale, scale, "scale of {}", example["text"]);
        let numpy: Vec<i8> = match example["q"].as_array() {
            Some(a) => a.iter().map(|x| x.as_i64().unwrap_or(999) as i8).collect(),
            None => panic!("no q"),
        };
        assert_eq!(q.v.to_vec(), numpy, "components of {}", example["text"]);
    }
}

#[test]
fn text_features_match_the_script() {
    let head_file: Value = match serde_json::from_slice(HEAD) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    let names: Vec<TextFeature> = match head_file["features"]["text"].as_array() {
        Some(a) => a
            .iter()
            .map(|n| match n.as_str().and_then(TextFeature::parse) {
                Some(f) => f,
                None => panic!("unknown feature {n}"),
            })
            .collect(),
        None => panic!("no text features"),
    };
    for example in golden() {
        let text = example["text"].as_str().unwrap_or_default();
        let rust: Vec<f32> = names.iter().map(|f| f.value(text)).collect();
        assert_eq!(rust, floats(&example["text_features"]), "{text}");
    }
}

#[test]
fn scores_and_tags_match_the_script() {
    let head = bundled();
    for example in golden() {
        let text = example["text"].as_str().unwrap_or_default();
        let stored = quantized(&raw_vector(&example)).to_f32();
        let scores = match head.scores(&stored, text) {
            Ok(s) => s,
            Err(e) => panic!("scores: {e}"),
        };
        for (rust, numpy) in scores.iter().zip(floats(&example["scores"])) {
            assert!((rust - numpy).abs() < 1e-4, "{text}: {scores:?} vs {numpy}");
        }
        let tags = match head.tag(&stored, text) {
            Ok(t) => t,
            Err(e) => panic!("tag: {e}"),
        };
        assert!(!tags.is_empty());
        assert!(tags.windows(2).all(|w| w[0].1 >= w[1].1), "{tags:?}");
        // Equal up to float noise: only when no score sits on a threshold.
        if example["threshold_margin"].as_f64().unwrap_or(0.0) > 1e-3 {
            let labels: Vec<u64> = tags.iter().map(|(j, _)| *j as u64).collect();
            let numpy: Vec<u64> = match example["tags"].as_array() {
                Some(a) => a.iter().filter_map(Value::as_u64).collect(),
                None => panic!("no tags"),
            };
            assert_eq!(labels, numpy, "{text}");
        }
    }
}

#[test]
fn tags_are_the_passing_labels_or_the_closest_one() {
    let head = bundled();
    let thresholds = head.thresholds();
    for example in golden() {
        let text = example["text"].as_str().unwrap_or_default();
        let stored = quantized(&raw_vector(&example)).to_f32();
        let (scores, tags) = match (head.scores(&stored, text), head.tag(&stored, text)) {
            (Ok(s), Ok(t)) => (s, t),
            _ => panic!("scoring {text}"),
        };
        let passing = (0..7).filter(|j| scores[*j] >= thresholds[*j]).count();
        if passing == 0 {
            assert_eq!(tags.len(), 1);
            let best = (0..7).max_by(|x, y| {
                (scores[*x] - thresholds[*x]).total_cmp(&(scores[*y] - thresholds[*y]))
            });
            assert_eq!(Some(tags[0].0), best);
        } else {
            assert_eq!(tags.len(), passing);
            assert!(
                tags.iter()
                    .all(|(j, s)| *s >= thresholds[*j] && scores[*j] == *s)
            );
        }
    }
}

#[test]
fn bad_vectors_are_errors() {
    let head = bundled();
    assert!(matches!(
        head.scores(&[0.1; 383], "x"),
        Err(MlError::Length {
            expected: 384,
            got: 383
        })
    ));
    let mut v = [0.01f32; DIM];
    v[7] = f32::NAN;
    assert!(matches!(head.tag(&v, "x"), Err(MlError::NotFinite)));
    // Any text is fine, even none at all.
    let zero = [0.0f32; DIM];
    for text in ["", "!!!!!!", "😭😭😭", &"word ".repeat(10_000)] {
        match head.tag(&zero, text) {
            Ok(tags) => assert!(!tags.is_empty()),
            Err(e) => panic!("{text:.20}: {e}"),
        }
    }
}

/// The bundled head's JSON, changed by `edit`, then loaded.
fn load_edited(edit: impl FnOnce(&mut Value)) -> Result<EmotionHead, MlError> {
    let mut v: Value = match serde_json::from_slice(HEAD) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    edit(&mut v);
    EmotionHead::from_bytes(v.to_string().as_bytes())
}

fn says(result: Result<EmotionHead, MlError>, words: &str) {
    match result {
        Ok(_) => panic!("a broken head loaded (expected {words:?})"),
        Err(MlError::EmotionHead(why)) => assert!(why.contains(words), "{why:?} lacks {words:?}"),
        Err(e) => panic!("another error: {e}"),
    }
}

#[test]
fn corrupt_and_truncated_files_are_errors() {
    says(EmotionHead::from_bytes(b""), "not a head file");
    says(
        EmotionHead::from_bytes(b"\x00\xff garbage"),
        "not a head file",
    );
    says(
        EmotionHead::from_bytes(&HEAD[..HEAD.len() / 2]),
        "not a head file",
    );
    says(
        EmotionHead::from_bytes(b"{\"version\":\"x\"}"),
        "not a head file",
    );
}

#[test]
fn wrong_shapes_are_errors() {
    says(
        load_edited(|v| v["features"]["vector"] = 512.into()),
        "512-dimensional",
    );
    says(load_edited(|v| v["labels"][0] = "rage".into()), "labels");
    says(
        load_edited(|v| v["features"]["text"] = serde_json::json!(["shouting"])),
        "unknown text feature",
    );
    says(
        load_edited(|v| {
            if let Some(m) = v["mean"].as_array_mut() {
                m.pop();
            }
        }),
        "mean has",
    );
    says(
        load_edited(|v| {
            if let Some(w) = v["layers"][0]["weights"].as_array_mut() {
                w.truncate(10);
            }
        }),
        "weights",
    );
    says(
        load_edited(|v| v["layers"] = serde_json::json!([])),
        "layers",
    );
    says(
        load_edited(|v| v["layers"][0]["activation"] = "tanh".into()),
        "activation",
    );
    says(
        load_edited(|v| v["thresholds"][2] = 1.5.into()),
        "threshold",
    );
    says(
        load_edited(|v| v["calibration"]["a"] = serde_json::json!([1.0, 1.0])),
        "calibration a",
    );
    // A number too big for an f32 reads as infinity: refused.
    says(load_edited(|v| v["std"][3] = 1e39.into()), "std[3]");
    says(
        load_edited(|v| v["std"][3] = 0.0.into()),
        "std is not positive",
    );
}
