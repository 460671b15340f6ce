//! The waveform of a voice message: the loudest sample in each of
//! [`PEAKS`] equal slices of time, gathered while decoding in 10-ms blocks
//! (the total length is only known at the end).

/// Bars in a waveform: enough to see speech and pauses, few enough to
/// draw as an inline SVG at phone width and store in 48 bytes.
pub const PEAKS: usize = 48;

/// Collects the loudest sample of every 10-ms block.
pub(crate) struct Envelope {
    block_frames: usize,
    channels: usize,
    in_block: usize,
    current: f32,
    blocks: Vec<f32>,
}

impl Envelope {
    pub fn new(sample_rate: u32, channels: usize) -> Self {
        Self {
            block_frames: (sample_rate as usize / 100).max(1),
            channels: channels.max(1),
            in_block: 0,
            current: 0.0,
            blocks: Vec::new(),
        }
    }

    /// Takes interleaved samples.
    pub fn push(&mut self, samples: &[f32]) {
        for frame in samples.chunks(self.channels) {
            for &s in frame {
                let a = s.abs();
                if a.is_finite() && a > self.current {
                    self.current = a;
                }
            }
            self.in_block += 1;
            if self.in_block == self.block_frames {
                self.blocks.push(self.current);
                self.current = 0.0;
                self.in_block = 0;
            }
        }
    }

    /// The [`PEAKS`] bars, the loudest at 255; silence (nothing above
    /// -80 dBFS) stays near 0 instead of being blown up to noise.
    pub fn finish(mut self) -> Vec<u8> {
        if self.in_block > 0 {
            self.blocks.push(self.current);
        }
        let n = self.blocks.len();
        if n == 0 {
            return vec![0; PEAKS];
        }
        let bars: Vec<f32> = (0..PEAKS)
            .map(|i| {
                let start = i * n / PEAKS;
                let end = ((i + 1) * n / PEAKS).max(start + 1).min(n);
                self.blocks[start.min(n - 1)..end]
                    .iter()
                    .fold(0.0f32, |m, &v| m.max(v))
            })
            .collect();
        let loudest = bars.iter().fold(0.0f32, |m, &v| m.max(v));
        let scale = if loudest > 1e-4 { loudest } else { 1.0 };
        bars.iter()
            .map(|&v| ((v / scale).min(1.0) * 255.0).round() as u8)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_then_silence_is_high_then_low() {
        let mut env = Envelope::new(1000, 1);
        let tone: Vec<f32> = (0..1000).map(|i| 0.5 * (i as f32 * 0.3).sin()).collect();
        env.push(&tone);
        env.push(&vec![0.0; 1000]);
        let bars = env.finish();
        assert_eq!(bars.len(), PEAKS);
        assert!(bars[..PEAKS / 2 - 1].iter().all(|&b| b > 200), "{bars:?}");
        assert!(bars[PEAKS / 2 + 1..].iter().all(|&b| b == 0), "{bars:?}");
        assert_eq!(bars.iter().max(), Some(&255));
    }

    #[test]
    fn silence_stays_flat_and_short_clips_fill_every_bar() {
        let mut env = Envelope::new(48_000, 2);
        env.push(&vec![0.00001; 2 * 4800]);
        assert!(env.finish().iter().all(|&b| b == 0));
        let mut env = Envelope::new(8000, 1);
        env.push(&[0.9; 100]);
        let bars = env.finish();
        assert_eq!(bars, vec![255; PEAKS]);
        assert_eq!(Envelope::new(8000, 1).finish(), vec![0; PEAKS]);
    }
}
