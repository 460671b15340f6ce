//! A reader of CTranslate2's `model.bin`: the named arrays of a converted
//! model, as CTranslate2 (`src/models/model.cc`) writes them.
//!
//! The layout, little-endian throughout:
//!
//! ```text
//! u32 binary version (2..=6 read here)
//! string spec name, u32 spec revision          (version >= 2)
//! u32 n; n × variable:
//!   string name, u8 rank, rank × u32 dims,
//!   u8 type id, u32 byte count, the bytes      (version >= 4)
//! u32 n; n × (string alias, string target)     (version >= 3)
//! string = u16 length (counting a final NUL), the bytes
//! ```
//!
//! Every read is checked against the end of the buffer, so a truncated or
//! malformed file is an [`MlError::WhisperModel`] that says where, never a
//! panic.

use std::collections::HashMap;

use crate::MlError;

/// The oldest and newest binary versions read here. Version 4 brought the
/// type id and byte count this reader needs; 6 is what CTranslate2 4.x
/// writes.
const VERSIONS: std::ops::RangeInclusive<u32> = 4..=6;

/// An element type of a stored array (CTranslate2's `DataType` ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ct2Type {
    /// `float32` (id 0).
    F32,
    /// `int8` (id 1): quantised weights or flags.
    I8,
    /// `int16` (id 2): quantised weights or small integer settings.
    I16,
    /// `int32` (id 3).
    I32,
    /// `float16` (id 4): the weights of the model we ship.
    F16,
    /// `bfloat16` (id 5).
    Bf16,
}

impl Ct2Type {
    fn from_id(id: u8) -> Option<Ct2Type> {
        Some(match id {
            0 => Ct2Type::F32,
            1 => Ct2Type::I8,
            2 => Ct2Type::I16,
            3 => Ct2Type::I32,
            4 => Ct2Type::F16,
            5 => Ct2Type::Bf16,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Ct2Type::I8 => 1,
            Ct2Type::I16 | Ct2Type::F16 | Ct2Type::Bf16 => 2,
            Ct2Type::F32 | Ct2Type::I32 => 4,
        }
    }
}

/// One named array of the file, borrowing its bytes.
#[derive(Debug)]
pub(crate) struct Variable<'a> {
    /// Dimensions, outermost first (empty for a scalar).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Ct2Type,
    bytes: &'a [u8],
}

impl Variable<'_> {
    /// The elements as f32 (f16 and bf16 widened exactly). Integer arrays
    /// are quantised weights, which this crate does not read.
    pub fn to_f32(&self, name: &str) -> Result<Vec<f32>, MlError> {
        let words = |n: usize| self.bytes.chunks_exact(n);
        Ok(match self.dtype {
            Ct2Type::F32 => words(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Ct2Type::F16 => words(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            Ct2Type::Bf16 => words(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                .collect(),
            other => {
                return Err(MlError::WhisperModel(format!(
                    "{name} is {other:?}: quantised models are not supported, only float ones"
                )));
            }
        })
    }

    /// The value of an integer scalar (a setting such as `num_heads`).
    pub fn int_scalar(&self) -> Option<i64> {
        if !self.shape.is_empty() {
            return None;
        }
        let b = self.bytes;
        match (self.dtype, b.len()) {
            (Ct2Type::I8, 1) => Some(i64::from(i8::from_le_bytes([b[0]]))),
            (Ct2Type::I16, 2) => Some(i64::from(i16::from_le_bytes([b[0], b[1]]))),
            (Ct2Type::I32, 4) => Some(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            _ => None,
        }
    }
}

/// A parsed `model.bin`: its spec and its variables by name, aliases
/// resolved (an alias names the same array as its target).
#[derive(Debug)]
pub(crate) struct Ct2Model<'a> {
    /// The model specification, e.g. `WhisperSpec`.
    pub spec: String,
    /// The variables, by name (`encoder/conv1/weight`, ...).
    pub variables: HashMap<String, Variable<'a>>,
    /// Alias → the variable it names.
    pub aliases: HashMap<String, String>,
}

impl<'a> Ct2Model<'a> {
    /// Parses a whole file. Checks the structure only (sizes, types, the
    /// end of the buffer), not what the model is.
    pub fn parse(bytes: &'a [u8]) -> Result<Ct2Model<'a>, MlError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.u32("the binary version")?;
        if !VERSIONS.contains(&version) {
            return Err(MlError::WhisperModel(format!(
                "binary version {version}, this reader knows {}..={}",
                VERSIONS.start(),
                VERSIONS.end()
            )));
        }
        let spec = r.string("the spec name")?;
        let _revision = r.u32("the spec revision")?;
        let count = r.u32("the variable count")?;
        let mut variables = HashMap::new();
        for _ in 0..count {
            let name = r.string("a variable name")?;
            let rank = r.u8("a rank")?;
            let mut shape = Vec::with_capacity(usize::from(rank));
            for _ in 0..rank {
                shape.push(r.u32("a dimension")? as usize);
            }
            let id = r.u8("a type id")?;
            let dtype = Ct2Type::from_id(id).ok_or_else(|| {
                MlError::WhisperModel(format!("{name} has the unknown type id {id}"))
            })?;
            let len = r.u32("a byte count")? as usize;
            let elements = shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .and_then(|n| n.checked_mul(dtype.size()));
            if elements != Some(len) {
                return Err(MlError::WhisperModel(format!(
                    "{name} {shape:?} of {dtype:?} says it has {len} bytes"
                )));
            }
            let data = r.take(len, &name)?;
            if variables
                .insert(
                    name.clone(),
                    Variable {
                        shape,
                        dtype,
                        bytes: data,
                    },
                )
                .is_some()
            {
                return Err(MlError::WhisperModel(format!("{name} is there twice")));
            }
        }
        let mut aliases = HashMap::new();
        let count = r.u32("the alias count")?;
        for _ in 0..count {
            let alias = r.string("an alias")?;
            let target = r.string("an alias's target")?;
            if !variables.contains_key(&target) {
                return Err(MlError::WhisperModel(format!(
                    "the alias {alias} names {target}, which is not there"
                )));
            }
            aliases.insert(alias, target);
        }
        if r.at != bytes.len() {
            return Err(MlError::WhisperModel(format!(
                "{} bytes after the end of the model",
                bytes.len() - r.at
            )));
        }
        Ok(Ct2Model {
            spec,
            variables,
            aliases,
        })
    }

    /// The variable `name`, through an alias if it is one.
    pub fn get(&self, name: &str) -> Result<&Variable<'a>, MlError> {
        let target = self.aliases.get(name).map_or(name, String::as_str);
        self.variables
            .get(target)
            .ok_or_else(|| MlError::WhisperModel(format!("{name} is missing")))
    }
}

/// A cursor over the file that never reads past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], MlError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        match end {
            Some(end) => {
                let data = &self.bytes[self.at..end];
                self.at = end;
                Ok(data)
            }
            None => Err(MlError::WhisperModel(format!(
                "truncated: {what} needs {n} bytes at byte {} of {}",
                self.at,
                self.bytes.len()
            ))),
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, MlError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, MlError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, MlError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A u16-length string; the length counts a final NUL, dropped here.
    fn string(&mut self, what: &str) -> Result<String, MlError> {
        let len = usize::from(self.u16(what)?);
        let b = self.take(len, what)?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        String::from_utf8(b.to_vec())
            .map_err(|_| MlError::WhisperModel(format!("{what} is not UTF-8")))
    }
}

/// IEEE half precision to single, exactly (subnormals, infinities, NaN).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        // Subnormal: man × 2^-24, exact in f32.
        (0, _) => {
            let v = man as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A string as the file stores it (length counting a final NUL).
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend(((s.len() + 1) as u16).to_le_bytes());
        out.extend(s.as_bytes());
        out.push(0);
    }

    fn variable(out: &mut Vec<u8>, name: &str, shape: &[u32], id: u8, data: &[u8]) {
        string(out, name);
        out.push(shape.len() as u8);
        for d in shape {
            out.extend(d.to_le_bytes());
        }
        out.push(id);
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
    }

    /// A small valid file: an f16 [2] array, an f32 [1], an int16 scalar
    /// and an alias.
    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(6u32.to_le_bytes());
        string(&mut out, "WhisperSpec");
        out.extend(3u32.to_le_bytes());
        out.extend(3u32.to_le_bytes());
        // 1.0 and -2.0 in f16.
        variable(&mut out, "a/weight", &[2], 4, &[0x00, 0x3c, 0x00, 0xc0]);
        variable(&mut out, "b/bias", &[1], 0, &0.5f32.to_le_bytes());
        variable(&mut out, "num_heads", &[], 2, &6i16.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        string(&mut out, "c/weight");
        string(&mut out, "a/weight");
        out
    }

    fn parse(bytes: &[u8]) -> Ct2Model<'_> {
        match Ct2Model::parse(bytes) {
            Ok(model) => model,
            Err(e) => panic!("parse: {e}"),
        }
    }

    fn floats(model: &Ct2Model<'_>, name: &str) -> Vec<f32> {
        match model.get(name).and_then(|v| v.to_f32(name)) {
            Ok(v) => v,
            Err(e) => panic!("{name}: {e}"),
        }
    }

    #[test]
    fn reads_names_shapes_types_and_aliases() {
        let bytes = sample();
        let model = parse(&bytes);
        assert_eq!(model.spec, "WhisperSpec");
        assert_eq!(model.variables.len(), 3);
        assert_eq!(floats(&model, "a/weight"), vec![1.0, -2.0]);
        assert_eq!(floats(&model, "c/weight"), vec![1.0, -2.0]);
        assert_eq!(floats(&model, "b/bias"), vec![0.5]);
        match model.get("num_heads") {
            Ok(v) => assert_eq!(v.int_scalar(), Some(6)),
            Err(e) => panic!("{e}"),
        }
        assert!(model.get("nothing").is_err());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = sample();
        for len in 0..bytes.len() {
            match Ct2Model::parse(&bytes[..len]) {
                Err(MlError::WhisperModel(_)) => {}
                Err(e) => panic!("cut at {len}: the wrong error {e}"),
                Ok(_) => panic!("cut at {len}: parsed"),
            }
        }
    }

    #[test]
    fn malformed_files_say_why() {
        let mut bytes = sample();
        bytes.push(0);
        let trailing = Ct2Model::parse(&bytes);
        assert!(matches!(trailing, Err(MlError::WhisperModel(m)) if m.contains("after the end")));

        let mut bytes = sample();
        bytes[0] = 9;
        let version = Ct2Model::parse(&bytes);
        assert!(matches!(version, Err(MlError::WhisperModel(m)) if m.contains("version 9")));

        // The first variable's byte count, one too many.
        let mut bytes = sample();
        let at = 4 + 2 + 12 + 4 + 4 + 2 + 9 + 1 + 4 + 1;
        bytes[at] = 5;
        let size = Ct2Model::parse(&bytes);
        assert!(matches!(size, Err(MlError::WhisperModel(m)) if m.contains("says it has 5 bytes")));

        // A huge byte count must not allocate or overflow.
        let mut bytes = sample();
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Ct2Model::parse(&bytes).is_err());
    }

    #[test]
    fn half_floats_widen_exactly() {
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
