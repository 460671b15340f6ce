//! Zip bombs refused at upload. We never extract archives, but the people
//! who download them do: an archive that would fill their disk is refused
//! from its central directory alone (sizes as the archive declares them,
//! which is what an unzip tool trusts too), without decompressing a byte.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::human_bytes;
use crate::{MediaError, Sniffed};

/// Limits on zip archives, mapped to settings by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// The most bytes all entries may expand to. Default 1 GiB.
    pub max_expanded_bytes: u64,
    /// The most the whole archive may expand relative to its compressed
    /// entries (expanded ÷ compressed). Ordinary files compress 2–10×,
    /// text and logs up to ~50×; bombs 1000× and more. Default 100.
    pub max_ratio: u64,
    /// The most entries. Default 10,000.
    pub max_entries: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_expanded_bytes: 1024 * 1024 * 1024,
            max_ratio: 100,
            max_entries: 10_000,
        }
    }
}

/// The local file header signature every zip (and zip-based format:
/// docx, xlsx, odt, epub, jar, apk) starts with.
const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// Refuses a zip archive (or a zip-based document) whose central directory
/// declares more than [`ArchiveLimits`] allow: too many bytes expanded,
/// too high a ratio, too many entries. Anything that is not a zip passes
/// (other archive formats are stored as opaque files); only one level is
/// checked (a zip inside a zip counts at its compressed size).
pub fn check_archive(
    path: &Path,
    sniffed: &Sniffed,
    limits: &ArchiveLimits,
) -> Result<(), MediaError> {
    let mut file = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 4];
    let is_zip = file.read_exact(&mut magic).is_ok() && magic == ZIP_MAGIC;
    if !is_zip && sniffed.mime != "application/zip" {
        return Ok(());
    }
    let file = File::open(path)?;
    let archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| MediaError::CorruptArchive(e.to_string()))?;
    let entries = archive.len();
    if entries > limits.max_entries {
        return Err(MediaError::ArchiveRefused {
            reason: format!(
                "holds {entries} files, more than the limit of {}",
                limits.max_entries
            ),
        });
    }
    let mut expanded = 0u64;
    let mut compressed = 0u64;
    for i in 0..entries {
        let entry = archive
            .by_index_data(i)
            .map_err(|e| MediaError::CorruptArchive(e.to_string()))?;
        expanded = expanded.saturating_add(entry.size());
        compressed = compressed.saturating_add(entry.compressed_size());
    }
    if expanded > limits.max_expanded_bytes {
        return Err(MediaError::ArchiveRefused {
            reason: format!(
                "would expand to {}, more than the limit of {}",
                human_bytes(expanded),
                human_bytes(limits.max_expanded_bytes)
            ),
        });
    }
    let ratio = expanded / compressed.max(1);
    if ratio > limits.max_ratio {
        return Err(MediaError::ArchiveRefused {
            reason: format!(
                "would expand {ratio} times its size (a zip bomb?), more than the limit of {} times",
                limits.max_ratio
            ),
        });
    }
    Ok(())
}
