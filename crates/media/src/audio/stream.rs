//! One decoded audio stream, chunk by chunk: the loop every audio
//! function shares, with the length limit and the errors that make a file
//! "not real audio" in one place.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::{AudioLimits, matroska};
use crate::MediaError;

/// The most channels accepted (7.1); more is not a voice message.
const MAX_CHANNELS: usize = 8;

/// Sample rates accepted: telephone quality to studio masters. Outside
/// them a header is lying or the file is not for people.
const RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;

/// What every refusal of an unsupported codec suggests instead.
const AUDIO_HINT: &str = "a recording in WebM, Ogg, MP3, M4A, WAV or FLAC";

/// Symphonia's decoders plus libopus for Opus (symphonia has none).
fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
        registry
    })
}

/// An open audio file decoding to interleaved f32 samples.
pub(crate) struct AudioStream {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// Samples a second, from the first decoded buffer.
    pub sample_rate: u32,
    /// Channels, from the first decoded buffer.
    pub channels: usize,
    /// The codec's short name.
    pub codec: String,
    /// Whether the container has a video track too.
    pub has_video: bool,
    max_secs: u32,
    /// Matroska ends with an "unexpected" end of file when its sizes are
    /// unknown; [`matroska::check_complete`] has vouched for it.
    eof_is_end: bool,
    max_frames: u64,
    frames: u64,
    buf: Vec<f32>,
    /// The first chunk, decoded by `open` to learn the format.
    first: Option<Vec<f32>>,
}

impl AudioStream {
    /// Opens, probes and decodes up to the first samples, so that the
    /// format is known and a file that is not audio fails here.
    pub fn open(path: &Path, limits: &AudioLimits) -> Result<Self, MediaError> {
        let mut file = File::open(path)?;
        let mut magic = [0u8; 4];
        let matroska = file.read_exact(&mut magic).is_ok() && magic == matroska::EBML_MAGIC;
        if matroska {
            matroska::check_complete(path)?;
        }
        file.seek(SeekFrom::Start(0))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let format = symphonia::default::get_probe()
            .probe(
                &Hint::new(),
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| match e {
                SymError::Unsupported(what) => MediaError::Unsupported {
                    what: "audio",
                    detail: what.to_owned(),
                    hint: AUDIO_HINT,
                },
                other => corrupt(other),
            })?;
        let tracks = format.tracks();
        let has_video = tracks
            .iter()
            .any(|t| matches!(t.codec_params, Some(CodecParameters::Video(_))));
        let Some((track_id, params, declared)) =
            tracks.iter().find_map(|t| match &t.codec_params {
                Some(CodecParameters::Audio(p)) => {
                    let secs = t
                        .num_frames
                        .zip(p.sample_rate)
                        .map(|(n, rate)| n / u64::from(rate.max(1)));
                    Some((t.id, p.clone(), secs))
                }
                _ => None,
            })
        else {
            return Err(MediaError::NoAudioTrack);
        };
        if declared.is_some_and(|secs| secs > u64::from(limits.max_secs)) {
            return Err(MediaError::AudioTooLong {
                max_secs: limits.max_secs,
            });
        }
        let decoder = codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| MediaError::Unsupported {
                what: "audio",
                detail: format!("codec {}: {e}", params.codec),
                hint: AUDIO_HINT,
            })?;
        let codec = decoder.codec_info().short_name.to_owned();
        let mut stream = Self {
            format,
            decoder,
            track_id,
            sample_rate: 0,
            channels: 0,
            codec,
            has_video,
            max_secs: limits.max_secs,
            eof_is_end: matroska,
            max_frames: u64::MAX,
            frames: 0,
            buf: Vec::new(),
            first: None,
        };
        match stream.decode_next()? {
            Some(()) => {
                stream.first = Some(std::mem::take(&mut stream.buf));
                Ok(stream)
            }
            None => Err(MediaError::CorruptAudio(
                "there is no sound in it".to_owned(),
            )),
        }
    }

    /// The next chunk of interleaved samples, `None` at the end. Fails
    /// on a damaged or cut-off stream and past the length limit.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>, MediaError> {
        if let Some(first) = self.first.take() {
            self.buf = first;
            return Ok(Some(&self.buf));
        }
        Ok(self.decode_next()?.map(|()| &self.buf[..]))
    }

    /// Decodes packets until one gives samples, into `self.buf`.
    fn decode_next(&mut self) -> Result<Option<()>, MediaError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) | Err(SymError::ResetRequired) => return Ok(None),
                Err(SymError::IoError(e))
                    if self.eof_is_end && e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(corrupt(e)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = self.decoder.decode(&packet).map_err(corrupt)?;
            if decoded.frames() == 0 {
                continue;
            }
            let spec = decoded.spec();
            let (rate, channels) = (spec.rate(), spec.channels().count());
            if self.sample_rate == 0 {
                if !RATES.contains(&rate) || !(1..=MAX_CHANNELS).contains(&channels) {
                    return Err(MediaError::Unsupported {
                        what: "audio",
                        detail: format!("{channels} channels at {rate} Hz"),
                        hint: AUDIO_HINT,
                    });
                }
                self.sample_rate = rate;
                self.channels = channels;
                self.max_frames = u64::from(self.max_secs) * u64::from(rate);
            } else if (rate, channels) != (self.sample_rate, self.channels) {
                return Err(MediaError::CorruptAudio(
                    "its format changes in the middle".to_owned(),
                ));
            }
            self.buf.resize(decoded.samples_interleaved(), 0.0);
            decoded.copy_to_slice_interleaved(&mut self.buf[..]);
            self.frames += decoded.frames() as u64;
            if self.frames > self.max_frames {
                return Err(MediaError::AudioTooLong {
                    max_secs: self.max_secs,
                });
            }
            return Ok(Some(()));
        }
    }

    /// How long the decoded audio plays, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        if self.sample_rate == 0 {
            return 0;
        }
        self.frames * 1000 / u64::from(self.sample_rate)
    }
}

fn corrupt(e: SymError) -> MediaError {
    let detail = match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the file ends in the middle of the audio".to_owned()
        }
        other => other.to_string(),
    };
    MediaError::CorruptAudio(detail)
}
