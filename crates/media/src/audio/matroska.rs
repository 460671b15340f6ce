//! Whether a Matroska/WebM file is whole. MediaRecorder streams WebM with
//! unknown-size Segment and Clusters, so the demuxer meets the end of the
//! file while looking for the next element and cannot tell a whole
//! recording from one cut off mid-upload. Walking the element headers
//! can: in a whole file every element of known size fits.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use crate::MediaError;

/// The EBML magic number a Matroska/WebM file starts with.
pub(crate) const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

const SEGMENT: u32 = 0x1853_8067;
const CLUSTER: u32 = 0x1F43_B675;

/// Fails when an element of the file reaches past its end.
pub(crate) fn check_complete(path: &Path) -> Result<(), MediaError> {
    let mut file = BufReader::new(File::open(path)?);
    let len = file.get_ref().metadata()?.len();
    let cut = || MediaError::CorruptAudio("the file ends in the middle of the audio".to_owned());
    let mut pos = 0u64;
    while pos < len {
        let Some((id, id_len)) = read_id(&mut file)? else {
            return Err(cut());
        };
        let Some((size, size_len)) = read_size(&mut file)? else {
            return Err(cut());
        };
        let body = pos + u64::from(id_len) + u64::from(size_len);
        match size {
            // Unknown size: the children follow; walk them as siblings.
            None if id == u64::from(SEGMENT) || id == u64::from(CLUSTER) => pos = body,
            // Any other element of unknown size cannot be checked.
            None => return Ok(()),
            Some(size) => {
                let end = body.checked_add(size).ok_or_else(cut)?;
                if end > len {
                    return Err(cut());
                }
                // A known-size Segment that fits holds everything.
                if id == u64::from(SEGMENT) {
                    return Ok(());
                }
                pos = end;
            }
        }
        file.seek(std::io::SeekFrom::Start(pos))?;
    }
    Ok(())
}

/// An EBML variable-length integer: `(value with its length marker, value
/// without it, bytes)`; `None` when the file ends first or the first byte
/// is not a valid start.
fn read_raw(file: &mut impl Read) -> Result<Option<(u64, u64, u8)>, MediaError> {
    let mut first = [0u8; 1];
    if file.read(&mut first)? == 0 {
        return Ok(None);
    }
    let len = first[0].leading_zeros() as u8 + 1;
    if len > 8 {
        return Ok(None);
    }
    let mut rest = [0u8; 7];
    let rest = &mut rest[..usize::from(len - 1)];
    if let Err(e) = file.read_exact(rest) {
        return match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Ok(None),
            _ => Err(e.into()),
        };
    }
    let with_marker = rest
        .iter()
        .fold(u64::from(first[0]), |v, &b| (v << 8) | u64::from(b));
    let without = with_marker & !(1u64 << (7 * u32::from(len)));
    Ok(Some((with_marker, without, len)))
}

/// An element ID (kept with its marker bits, as IDs are written).
fn read_id(file: &mut impl Read) -> Result<Option<(u64, u8)>, MediaError> {
    Ok(read_raw(file)?.map(|(id, _, len)| (id, len)))
}

/// An element size; `Some(None)` for "unknown" (all value bits set).
fn read_size(file: &mut impl Read) -> Result<Option<(Option<u64>, u8)>, MediaError> {
    Ok(read_raw(file)?.map(|(_, value, len)| {
        let unknown = value == (1u64 << (7 * u32::from(len))) - 1;
        (if unknown { None } else { Some(value) }, len)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vints_read_as_the_spec_says() {
        let mut ebml: &[u8] = &[0x1A, 0x45, 0xDF, 0xA3, 0x9F];
        assert!(matches!(read_id(&mut ebml), Ok(Some((0x1A45_DFA3, 4)))));
        assert!(matches!(read_size(&mut ebml), Ok(Some((Some(0x1F), 1)))));
        let mut unknown: &[u8] = &[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(matches!(read_size(&mut unknown), Ok(Some((None, 8)))));
        let mut short: &[u8] = &[0x40];
        assert!(matches!(read_size(&mut short), Ok(None)));
    }
}
