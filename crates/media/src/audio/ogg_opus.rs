//! An Ogg/Opus file as RFC 7845 lays it out: OpusHead and OpusTags each
//! on a page of their own, then 20-ms Opus packets whose granule positions
//! count 48-kHz samples (pre-skip included), the last one trimmed to the
//! true length, so players know the duration and can seek.

use std::io::Write;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opusic_c::{Application, Bitrate, Channels, Encoder, SampleRate};

use crate::MediaError;

/// Opus always runs at 48 kHz.
pub(crate) const OPUS_RATE: u32 = 48_000;

/// Samples per channel in one 20-ms packet.
const FRAME: usize = 960;

/// Bit rate of a mono voice message: speech is transparent well below it.
const MONO_BITRATE: u32 = 32_000;

/// Bit rate of a stereo file (music someone shares).
const STEREO_BITRATE: u32 = 48_000;

/// Packets per Ogg page: a page a second, the granularity of seeking.
const PACKETS_PER_PAGE: u32 = 50;

/// Stream serial number; any constant works for a single-stream file.
const SERIAL: u32 = 0x5041_524C;

/// Encodes 48-kHz interleaved f32 audio into an Ogg/Opus stream.
pub(crate) struct OggOpusWriter<W: Write> {
    ogg: PacketWriter<'static, W>,
    encoder: Encoder,
    channels: usize,
    pre_skip: u64,
    pending: Vec<f32>,
    input_frames: u64,
    encoded_frames: u64,
    held: Option<(Vec<u8>, u64)>,
    in_page: u32,
}

fn internal(what: &str) -> impl Fn(opusic_c::ErrorCode) -> MediaError + '_ {
    move |e| MediaError::Internal(format!("Opus encoder, {what}: {e:?}"))
}

impl<W: Write> OggOpusWriter<W> {
    /// Starts the stream: `channels` is 1 or 2; `input_rate` is the
    /// original rate, recorded in OpusHead for players that care.
    pub fn new(out: W, channels: usize, input_rate: u32) -> Result<Self, MediaError> {
        let (opus_channels, bitrate) = if channels == 1 {
            (Channels::Mono, MONO_BITRATE)
        } else {
            (Channels::Stereo, STEREO_BITRATE)
        };
        let mut encoder = Encoder::new(opus_channels, SampleRate::Hz48000, Application::Audio)
            .map_err(internal("creating"))?;
        encoder
            .set_bitrate(Bitrate::Value(bitrate))
            .map_err(internal("bit rate"))?;
        let pre_skip = encoder.get_look_ahead().map_err(internal("look-ahead"))?;
        let mut ogg = PacketWriter::new(out);
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1); // version
        head.push(channels as u8);
        head.extend_from_slice(&(pre_skip as u16).to_le_bytes());
        head.extend_from_slice(&input_rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // mapping family 0: mono or stereo
        ogg.write_packet(head, SERIAL, PacketWriteEndInfo::EndPage, 0)?;
        let vendor = b"parley media (libopus)";
        let mut tags = Vec::with_capacity(8 + 4 + vendor.len() + 4);
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes()); // no comments
        ogg.write_packet(tags, SERIAL, PacketWriteEndInfo::EndPage, 0)?;
        Ok(Self {
            ogg,
            encoder,
            channels,
            pre_skip: u64::from(pre_skip),
            pending: Vec::new(),
            input_frames: 0,
            encoded_frames: 0,
            held: None,
            in_page: 0,
        })
    }

    /// Takes interleaved samples at 48 kHz with the writer's channels.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        self.input_frames += (samples.len() / self.channels) as u64;
        self.pending.extend_from_slice(samples);
        let need = FRAME * self.channels;
        let mut offset = 0;
        while self.pending.len() - offset >= need {
            let frame = self.pending[offset..offset + need].to_vec();
            self.encode(&frame)?;
            offset += need;
        }
        self.pending.drain(..offset);
        Ok(())
    }

    /// Encodes the rest (padded with silence past the encoder's delay)
    /// and ends the stream with the exact length in its last granule.
    pub fn finish(mut self) -> Result<W, MediaError> {
        let need = FRAME * self.channels;
        while self.encoded_frames < self.input_frames + self.pre_skip {
            let mut frame = std::mem::take(&mut self.pending);
            frame.resize(need, 0.0);
            self.encode(&frame)?;
        }
        let end = self.pre_skip + self.input_frames;
        if let Some((packet, _)) = self.held.take() {
            self.ogg
                .write_packet(packet, SERIAL, PacketWriteEndInfo::EndStream, end)?;
        }
        Ok(self.ogg.into_inner())
    }

    fn encode(&mut self, frame: &[f32]) -> Result<(), MediaError> {
        let mut packet = Vec::with_capacity(1500);
        self.encoder
            .encode_float_to_vec(frame, &mut packet)
            .map_err(internal("encoding"))?;
        self.encoded_frames += FRAME as u64;
        // Hold one packet back: only the last one ends the stream.
        if let Some((previous, granule)) = self.held.replace((packet, self.encoded_frames)) {
            self.in_page += 1;
            let end = if self.in_page == PACKETS_PER_PAGE {
                self.in_page = 0;
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            self.ogg.write_packet(previous, SERIAL, end, granule)?;
        }
        Ok(())
    }
}
