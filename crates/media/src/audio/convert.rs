//! Re-encoding what browsers play badly into Ogg/Opus.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::ogg_opus::{OPUS_RATE, OggOpusWriter};
use super::peaks::Envelope;
use super::resample::Resampler;
use super::stream::AudioStream;
use super::{AudioInfo, AudioLimits};
use crate::{MediaError, Sniffed};

/// Whether an audio upload should be stored as Ogg/Opus instead of as
/// it came: MediaRecorder's WebM/Matroska has no duration (players show
/// "Infinity" and cannot seek), WAV, FLAC, AIFF and CAF are large or not
/// played everywhere. MP3, M4A/AAC and Ogg play in every browser and are
/// kept.
pub fn needs_conversion(sniffed: &Sniffed) -> bool {
    matches!(
        sniffed.mime,
        "audio/webm"
            | "audio/x-matroska"
            | "audio/wav"
            | "audio/flac"
            | "audio/aiff"
            | "audio/x-caf"
    )
}

/// Decodes `input` and writes it to `output` as Ogg/Opus (48 kHz, mono
/// at 32 kbit/s or stereo at 48 kbit/s; more channels keep the first two)
/// with a correct length and seekable pages. Fails like
/// [`crate::probe_audio`] on anything that is not whole, real audio;
/// `output` may then hold a partial file, which the caller deletes. The
/// returned info describes the output (codec `opus`, 48 kHz), with the
/// waveform of the input.
pub fn convert_to_ogg_opus(
    input: &Path,
    output: &Path,
    limits: &AudioLimits,
) -> Result<AudioInfo, MediaError> {
    let mut stream = AudioStream::open(input, limits)?;
    let in_channels = stream.channels;
    let out_channels = in_channels.min(2);
    let mut envelope = Envelope::new(stream.sample_rate, in_channels);
    let mut resampler = Resampler::new(stream.sample_rate, OPUS_RATE, out_channels)?;
    let file = BufWriter::new(File::create(output)?);
    let mut writer = OggOpusWriter::new(file, out_channels, stream.sample_rate)?;
    let mut picked = Vec::new();
    let mut resampled = Vec::new();
    while let Some(chunk) = stream.next_chunk()? {
        envelope.push(chunk);
        let samples = if in_channels == out_channels {
            chunk
        } else {
            picked.clear();
            picked.extend(chunk.chunks(in_channels).flat_map(|f| [f[0], f[1]]));
            &picked[..]
        };
        resampled.clear();
        resampler.push(samples, &mut resampled)?;
        writer.push(&resampled)?;
    }
    resampled.clear();
    resampler.finish(&mut resampled)?;
    writer.push(&resampled)?;
    let mut file = writer.finish()?;
    std::io::Write::flush(&mut file)?;
    Ok(AudioInfo {
        duration_ms: stream.duration_ms(),
        peaks: envelope.finish(),
        sample_rate: OPUS_RATE,
        channels: out_channels as u16,
        codec: "opus".to_owned(),
        has_video: false,
    })
}
