//! The storage form of a sentence vector: int8 components and one scale.
//!
//! 384 bytes instead of 1,536, and a scan over them is a short integer to
//! float multiply-add per component. Symmetric per-vector quantisation
//! (`scale = max |x| / 127`) loses about 0.005 of cosine on MiniLM vectors,
//! which does not change which messages rank first.

use crate::{DIM, MlError};

/// A quantised unit vector: `component[i] ≈ scale * v[i]`.
///
/// Stored as [`Quantized::to_bytes`] (the 384 components) with `scale` beside
/// them (a `real` column), and rebuilt with [`Quantized::from_bytes`].
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    /// What one step of a component is worth.
    pub scale: f32,
    /// The components, in steps of `scale`.
    pub v: [i8; DIM],
}

/// Quantises an embedding (as [`crate::Embedder::embed`] returns it).
///
/// Errors when `vector` does not have [`DIM`] components. An all-zero vector
/// gives scale 0 (and dots to 0 with anything).
pub fn quantize(vector: &[f32]) -> Result<Quantized, MlError> {
    if vector.len() != DIM {
        return Err(MlError::Length {
            expected: DIM,
            got: vector.len(),
        });
    }
    let max = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max.is_finite() && max > 0.0 {
        max / 127.0
    } else {
        0.0
    };
    let mut v = [0i8; DIM];
    if scale > 0.0 {
        for (q, x) in v.iter_mut().zip(vector) {
            // |x / scale| <= 127 by construction; the clamp also maps NaN to 0.
            *q = (x / scale).round().clamp(-127.0, 127.0) as i8;
        }
    }
    Ok(Quantized { scale, v })
}

impl Quantized {
    /// The components as bytes (two's complement), for a `bytea` column.
    pub fn to_bytes(&self) -> [u8; DIM] {
        self.v.map(|q| q.to_ne_bytes()[0])
    }

    /// The vector as stored, read back: `scale * component` for each one.
    ///
    /// What a head on the stored vector reads (the emotion head of issue
    /// 12 is trained on exactly this round trip, so what is measured is what
    /// runs); `scripts/train-emotions/train.py` computes the same in numpy.
    pub fn to_f32(&self) -> [f32; DIM] {
        self.v.map(|q| self.scale * f32::from(q))
    }

    /// Rebuilds a vector from its scale and [`Quantized::to_bytes`].
    ///
    /// Errors when `bytes` is not [`DIM`] long (a row written by another
    /// model, or damaged).
    pub fn from_bytes(scale: f32, bytes: &[u8]) -> Result<Quantized, MlError> {
        let bytes: &[u8; DIM] = bytes.try_into().map_err(|_| MlError::Length {
            expected: DIM,
            got: bytes.len(),
        })?;
        Ok(Quantized {
            scale,
            v: bytes.map(|b| i8::from_ne_bytes([b])),
        })
    }
}

/// Lanes summed separately so the compiler can keep them in SIMD registers
/// (a single running sum of floats may not be reordered).
const LANES: usize = 16;

/// The dot product of a query vector with a stored one: their cosine, as
/// both are unit vectors. The inner loop of a brute-force scan.
///
/// `query` must have [`DIM`] components (as an embedding has); extra
/// components are ignored and missing ones count as 0.
pub fn dot(query: &[f32], stored: &Quantized) -> f32 {
    let mut acc = [0f32; LANES];
    let q = query.chunks_exact(LANES);
    let s = stored.v.chunks_exact(LANES);
    for (qc, sc) in q.zip(s) {
        for ((a, x), y) in acc.iter_mut().zip(qc).zip(sc) {
            *a += x * f32::from(*y);
        }
    }
    // DIM is a multiple of LANES: no remainder to add.
    acc.iter().sum::<f32>() * stored.scale
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit vector with varied components, signs and a zero.
    fn unit(seed: u32) -> Vec<f32> {
        let raw: Vec<f32> = (0..DIM as u32)
            .map(|i| {
                let x = ((i * 7919 + seed * 104_729) % 1000) as f32 / 500.0 - 1.0;
                if i == 5 { 0.0 } else { x }
            })
            .collect();
        let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
        raw.iter().map(|x| x / norm).collect()
    }

    fn exact_dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn quantized(v: &[f32]) -> Quantized {
        match quantize(v) {
            Ok(q) => q,
            Err(e) => panic!("quantize: {e}"),
        }
    }

    #[test]
    fn bytes_round_trip() {
        let q = quantized(&unit(1));
        let bytes = q.to_bytes();
        assert_eq!(bytes.len(), 384);
        match Quantized::from_bytes(q.scale, &bytes) {
            Ok(back) => assert_eq!(back, q),
            Err(e) => panic!("from_bytes: {e}"),
        }
    }

    #[test]
    fn negative_components_survive_the_bytes() {
        let mut v = vec![0.0f32; DIM];
        v[0] = -1.0;
        v[1] = 0.5;
        let q = quantized(&v);
        assert_eq!((q.v[0], q.v[1]), (-127, 64));
        assert_eq!(q.to_bytes()[0], 0x81);
        match Quantized::from_bytes(q.scale, &q.to_bytes()) {
            Ok(back) => assert_eq!(back.v[0], -127),
            Err(e) => panic!("from_bytes: {e}"),
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert!(matches!(
            quantize(&[0.5; 10]),
            Err(MlError::Length {
                expected: 384,
                got: 10
            })
        ));
        assert!(matches!(
            Quantized::from_bytes(1.0, &[0; 385]),
            Err(MlError::Length {
                expected: 384,
                got: 385
            })
        ));
    }

    #[test]
    fn dot_is_close_to_the_exact_cosine() {
        let (a, b) = (unit(1), unit(2));
        let exact = exact_dot(&a, &b);
        let approx = dot(&a, &quantized(&b));
        assert!((exact - approx).abs() < 0.01, "{exact} vs {approx}");
        let own = dot(&a, &quantized(&a));
        assert!((own - 1.0).abs() < 0.01, "self-similarity {own}");
    }

    #[test]
    fn each_component_is_within_half_a_step() {
        let a = unit(3);
        let q = quantized(&a);
        for (x, s) in a.iter().zip(q.v) {
            assert!((x - q.scale * f32::from(s)).abs() <= q.scale / 2.0 + 1e-7);
        }
        assert_eq!(q.v.iter().map(|s| s.unsigned_abs()).max(), Some(127));
    }

    #[test]
    fn to_f32_reads_back_within_half_a_step() {
        let a = unit(4);
        let q = quantized(&a);
        let back = q.to_f32();
        for ((x, y), s) in a.iter().zip(back).zip(q.v) {
            assert_eq!(y, q.scale * f32::from(s));
            assert!((x - y).abs() <= q.scale / 2.0 + 1e-7);
        }
        assert_eq!(quantized(&[0.0; DIM]).to_f32(), [0.0; DIM]);
    }

    #[test]
    fn zero_and_nan_vectors_quantise_to_zero() {
        let q = quantized(&[0.0; DIM]);
        assert_eq!((q.scale, q.v), (0.0, [0; DIM]));
        assert_eq!(dot(&unit(1), &q), 0.0);
        let mut v = unit(1);
        v[3] = f32::NAN;
        let q = quantized(&v);
        assert!(q.scale > 0.0);
        assert_eq!(q.v[3], 0);
    }
}
