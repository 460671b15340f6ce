//! Proving an upload is audio and measuring it.

use std::path::Path;

use super::peaks::Envelope;
use super::stream::AudioStream;
use super::{AudioInfo, AudioLimits};
use crate::MediaError;

/// Demuxes and decodes the whole of an audio file: a file that is not
/// audio, is cut off or damaged fails (422), as does one with no audio
/// track or longer than [`AudioLimits::max_secs`] (decoding stops there).
/// The duration comes from the decoded samples, so it is right for
/// MediaRecorder's WebM, whose header has none.
pub fn probe_audio(path: &Path, limits: &AudioLimits) -> Result<AudioInfo, MediaError> {
    let mut stream = AudioStream::open(path, limits)?;
    let mut envelope = Envelope::new(stream.sample_rate, stream.channels);
    while let Some(chunk) = stream.next_chunk()? {
        envelope.push(chunk);
    }
    Ok(AudioInfo {
        duration_ms: stream.duration_ms(),
        peaks: envelope.finish(),
        sample_rate: stream.sample_rate,
        channels: stream.channels as u16,
        codec: stream.codec.clone(),
        has_video: stream.has_video,
    })
}
