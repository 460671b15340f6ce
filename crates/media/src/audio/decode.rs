//! Samples for speech recognition.

use std::path::Path;

use super::AudioLimits;
use super::resample::Resampler;
use super::stream::AudioStream;
use crate::MediaError;

/// The sample rate Whisper's feature extractor expects.
pub const WHISPER_RATE: u32 = 16_000;

/// The whole file decoded, mixed down to mono and resampled to
/// [`WHISPER_RATE`], as f32 in -1..1: what Whisper takes. Mixing down
/// before resampling keeps the work to one channel. At most
/// [`AudioLimits::max_secs`] (64 KB a second).
pub fn decode_mono_16k(path: &Path, limits: &AudioLimits) -> Result<Vec<f32>, MediaError> {
    let mut stream = AudioStream::open(path, limits)?;
    let channels = stream.channels;
    let mut resampler = Resampler::new(stream.sample_rate, WHISPER_RATE, 1)?;
    let mut mono = Vec::new();
    let mut out = Vec::with_capacity(WHISPER_RATE as usize * 30);
    while let Some(chunk) = stream.next_chunk()? {
        mono.clear();
        mono.extend(
            chunk
                .chunks(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        resampler.push(&mono, &mut out)?;
    }
    resampler.finish(&mut out)?;
    Ok(out)
}
