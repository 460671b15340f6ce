//! Streaming sample-rate conversion: rubato's FFT resampler fed chunk by
//! chunk, with its start-up delay trimmed and its tail flushed, so the
//! output is exactly as long as the input (×ratio) and lines up with it.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

use crate::MediaError;

/// Input frames per FFT chunk: ~20 ms at 48 kHz, small enough to stream.
const CHUNK: usize = 1024;

/// Converts interleaved f32 audio from one rate to another.
pub(crate) struct Resampler {
    inner: Option<Fft<f32>>,
    channels: usize,
    pending: Vec<f32>,
    out: Vec<f32>,
    to_trim: usize,
    input_frames: u64,
    output_frames: u64,
    ratio: f64,
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz; the same rate passes through.
    pub fn new(from: u32, to: u32, channels: usize) -> Result<Self, MediaError> {
        let inner = if from == to {
            None
        } else {
            Some(
                Fft::<f32>::new(
                    from as usize,
                    to as usize,
                    CHUNK,
                    channels,
                    FixedSync::Input,
                )
                .map_err(|e| MediaError::Internal(format!("resampler: {e}")))?,
            )
        };
        let to_trim = inner.as_ref().map_or(0, |r| r.output_delay());
        let out_len = inner
            .as_ref()
            .map_or(0, |r| r.output_frames_max() * channels);
        Ok(Self {
            inner,
            channels,
            pending: Vec::new(),
            out: vec![0.0; out_len],
            to_trim,
            input_frames: 0,
            output_frames: 0,
            ratio: f64::from(to) / f64::from(from),
        })
    }

    /// Feeds interleaved samples; appends what is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), MediaError> {
        self.input_frames += (input.len() / self.channels) as u64;
        if self.inner.is_none() {
            out.extend_from_slice(input);
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        let need = CHUNK * self.channels;
        let mut offset = 0;
        while self.pending.len() - offset >= need {
            self.run(offset, None, out)?;
            offset += need;
        }
        self.pending.drain(..offset);
        Ok(())
    }

    /// Flushes the last partial chunk and the resampler's delay line.
    pub fn finish(mut self, out: &mut Vec<f32>) -> Result<(), MediaError> {
        if self.inner.is_none() {
            return Ok(());
        }
        let expected = (self.input_frames as f64 * self.ratio).round() as u64;
        let left = self.pending.len() / self.channels;
        self.pending.resize(CHUNK * self.channels, 0.0);
        self.run(0, Some(left), out)?;
        self.pending.iter_mut().for_each(|s| *s = 0.0);
        // Zeros until the delayed tail is out (a few chunks at most).
        let mut guard = 0;
        while self.output_frames < expected && guard < 64 {
            self.run(0, Some(0), out)?;
            guard += 1;
        }
        let extra = self.output_frames.saturating_sub(expected) as usize;
        out.truncate(out.len() - (extra * self.channels).min(out.len()));
        Ok(())
    }

    fn run(
        &mut self,
        offset: usize,
        partial: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<(), MediaError> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let err = |e: &dyn std::fmt::Display| MediaError::Internal(format!("resampler: {e}"));
        let input = InterleavedSlice::new(&self.pending[offset..], self.channels, CHUNK)
            .map_err(|e| err(&e))?;
        let frames_out = self.out.len() / self.channels;
        let mut output = InterleavedSlice::new_mut(&mut self.out[..], self.channels, frames_out)
            .map_err(|e| err(&e))?;
        let indexing = partial.map(|n| Indexing::new().partial_len(n));
        let (_, produced) = inner
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| err(&e))?;
        let skip = self.to_trim.min(produced);
        self.to_trim -= skip;
        out.extend_from_slice(&self.out[skip * self.channels..produced * self.channels]);
        self.output_frames += (produced - skip) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resample(from: u32, to: u32, channels: usize, input: &[f32], piece: usize) -> Vec<f32> {
        let mut r = match Resampler::new(from, to, channels) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let mut out = Vec::new();
        for chunk in input.chunks(piece * channels) {
            if let Err(e) = r.push(chunk, &mut out) {
                panic!("{e}");
            }
        }
        if let Err(e) = r.finish(&mut out) {
            panic!("{e}");
        }
        out
    }

    #[test]
    fn lengths_follow_the_ratio_whatever_the_pieces() {
        let input: Vec<f32> = (0..22_050 * 2)
            .map(|i| ((i / 2) as f32 * 0.05).sin())
            .collect();
        for piece in [1, 333, 1024, 5000] {
            let out = resample(22_050, 48_000, 2, &input, piece);
            assert_eq!(out.len(), 48_000 * 2, "piece {piece}");
        }
        let out = resample(44_100, 16_000, 2, &input[..441 * 2], 100);
        assert_eq!(out.len(), 160 * 2);
    }

    #[test]
    fn a_tone_stays_in_place() {
        // 1 kHz at 48 kHz to 16 kHz: same amplitude, no start-up delay.
        let input: Vec<f32> = (0..48_000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin())
            .collect();
        let out = resample(48_000, 16_000, 1, &input, 480);
        assert_eq!(out.len(), 16_000);
        let peak = out[1000..15_000].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
        for (i, &s) in out.iter().enumerate().skip(100).take(200) {
            let expected = 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin();
            assert!((s - expected).abs() < 0.05, "sample {i}: {s} vs {expected}");
        }
    }
}
