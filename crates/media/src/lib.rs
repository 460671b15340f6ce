//! Uploaded files, checked and prepared for a chat: what a file really is,
//! a name safe to show, images without location data and with thumbnails,
//! audio proven to be audio with its duration and waveform and in a format
//! every browser plays, and zip bombs refused.
//!
//! Pure functions over bytes or files given by path: no async, no
//! database. They block and use the CPU, so callers run them in
//! `spawn_blocking` or in the worker.
//!
//! | job | entry point | library |
//! | --- | --- | --- |
//! | type from content | [`sniff`] | `infer` (magic numbers) |
//! | safe names | [`safe_file_name`] | std |
//! | images: bombs, decoding, thumbnails | [`process_image`] | `image` (PNG, JPEG via zune-jpeg, GIF, WebP) |
//! | images: metadata stripped losslessly | [`process_image`] | `img-parts` |
//! | audio: demux and decode | [`probe_audio`], [`decode_mono_16k`] | `symphonia` (WebM/MKV, Ogg, MP4, MP3, WAV, FLAC, AIFF, CAF; Vorbis, AAC, MP3, FLAC, PCM) |
//! | audio: Opus decoding | [`probe_audio`] | `symphonia-adapter-libopus` (system libopus) |
//! | audio: resampling | [`convert_to_ogg_opus`], [`decode_mono_16k`] | `rubato` (FFT resampler) |
//! | audio: Opus encoding, Ogg pages | [`convert_to_ogg_opus`] | `opusic-c` (system libopus), `ogg` |
//! | zip bombs | [`check_archive`] | `zip` (central directory only) |
//!
//! Every limit is a field of [`ImageLimits`], [`AudioLimits`] or
//! [`ArchiveLimits`] with a documented default; every refusal is a
//! [`MediaError`] with a message for the uploader and a status.
//!
//! Building needs the system's libopus (`libopus-dev` on Debian; `opusic-sys`
//! links `-lopus` without its bundled copy, so no cmake); running needs
//! `libopus0`. The audio tests make their media with `ffmpeg`, `sox` and
//! `espeak-ng` and say loudly when one is missing.

mod archive;
mod audio;
mod error;
mod images;
mod names;
mod sniff;

pub use archive::{ArchiveLimits, check_archive};
pub use audio::{
    AudioInfo, AudioLimits, PEAKS, WHISPER_RATE, convert_to_ogg_opus, decode_mono_16k,
    needs_conversion, probe_audio,
};
pub use error::MediaError;
pub use images::{ImageLimits, ProcessedImage, THUMB_JPEG_QUALITY, Thumbnail, process_image};
pub use names::{MAX_NAME_CHARS, safe_file_name};
pub use sniff::{Kind, SNIFF_LEN, Sniffed, check_claim, sniff};
