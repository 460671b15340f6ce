//! Audio to Whisper's input: the 80-bin log-mel spectrogram of a 30-s
//! window, as OpenAI's `whisper.audio.log_mel_spectrogram` computes it.
//!
//! A short-time Fourier transform (400-sample Hann window every 160 samples,
//! frames centred, the start reflected), the power of each of the 201
//! frequency bins, an 80 × 201 mel filter bank (librosa's Slaney-style
//! filters, what whisper ships as `mel_filters.npz`, computed here instead
//! of shipped), `log10` clamped 8 below the window's loudest value, and
//! `(x + 4) / 4`. The Fourier transform is one matrix product with a
//! precomputed (windowed) DFT matrix: ~1 GFLOP per window, a few tens of
//! milliseconds, and candle spreads it over its threads.

use candle_core::{Device, Tensor};

use super::weights::MEL_BINS;
use crate::MlError;

/// The Fourier window, in samples (25 ms at 16 kHz).
const N_FFT: usize = 400;
/// Samples between two frames (10 ms).
const HOP: usize = 160;
/// Frequency bins of a real transform of [`N_FFT`] samples.
const FREQ_BINS: usize = N_FFT / 2 + 1;
/// Samples in one window of the model: 30 s.
pub(crate) const WINDOW_SAMPLES: usize = (super::WINDOW_SECS * super::SAMPLE_RATE) as usize;
/// Frames in one window: what the encoder takes.
const FRAMES: usize = WINDOW_SAMPLES / HOP;

/// The mel filter bank, `MEL_BINS` rows of [`FREQ_BINS`] weights, as
/// `librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)` (Slaney's mel
/// scale, linear below 1 kHz and logarithmic above, and Slaney's area
/// normalisation), computed in f64 and rounded to f32 as librosa returns it.
pub(crate) fn filter_bank() -> Vec<f32> {
    let sample_rate = f64::from(super::SAMPLE_RATE);
    let low = hz_to_mel(0.0);
    let high = hz_to_mel(sample_rate / 2.0);
    // MEL_BINS + 2 edges, evenly spaced in mels.
    let edges: Vec<f64> = (0..MEL_BINS + 2)
        .map(|i| mel_to_hz(low + (high - low) * i as f64 / (MEL_BINS + 1) as f64))
        .collect();
    let mut bank = Vec::with_capacity(MEL_BINS * FREQ_BINS);
    for m in 0..MEL_BINS {
        let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
        let norm = 2.0 / (right - left);
        for k in 0..FREQ_BINS {
            let hz = sample_rate / 2.0 * k as f64 / (FREQ_BINS - 1) as f64;
            let rising = (hz - left) / (centre - left);
            let falling = (right - hz) / (right - centre);
            bank.push((rising.min(falling).max(0.0) * norm) as f32);
        }
    }
    bank
}

/// Slaney's mel scale: 3 mels per 200 Hz up to 1 kHz (15 mels), then
/// logarithmic, 27 mels per factor 6.4.
const MELS_PER_HZ: f64 = 3.0 / 200.0;
const LOG_START_HZ: f64 = 1000.0;
const LOG_START_MEL: f64 = LOG_START_HZ * MELS_PER_HZ;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= LOG_START_HZ {
        LOG_START_MEL + (hz / LOG_START_HZ).ln() / log_step()
    } else {
        hz * MELS_PER_HZ
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= LOG_START_MEL {
        LOG_START_HZ * (log_step() * (mel - LOG_START_MEL)).exp()
    } else {
        mel / MELS_PER_HZ
    }
}

/// What turns a window of samples into the encoder's input; built once.
pub(crate) struct LogMel {
    /// [`N_FFT`] × 2·[`FREQ_BINS`]: the Hann window times the cosines, then
    /// times the sines.
    dft: Tensor,
    /// [`FREQ_BINS`] × `MEL_BINS`: the filter bank, transposed.
    filters: Tensor,
    device: Device,
}

impl LogMel {
    /// The DFT matrix and the filter bank as tensors on `device`.
    pub fn new(device: &Device) -> Result<LogMel, MlError> {
        let mut dft = vec![0f32; N_FFT * 2 * FREQ_BINS];
        for n in 0..N_FFT {
            let angle = std::f64::consts::TAU * n as f64 / N_FFT as f64;
            // torch.hann_window(400): periodic.
            let hann = 0.5 * (1.0 - angle.cos());
            for k in 0..FREQ_BINS {
                let phase = angle * k as f64;
                dft[n * 2 * FREQ_BINS + k] = (hann * phase.cos()) as f32;
                dft[n * 2 * FREQ_BINS + FREQ_BINS + k] = (hann * phase.sin()) as f32;
            }
        }
        let dft = Tensor::from_vec(dft, (N_FFT, 2 * FREQ_BINS), device)?;
        let filters = Tensor::from_vec(filter_bank(), (MEL_BINS, FREQ_BINS), device)?
            .t()?
            .contiguous()?;
        Ok(LogMel {
            dft,
            filters,
            device: device.clone(),
        })
    }

    /// The log-mel spectrogram of the window of `pcm` that starts at sample
    /// `start` (zeros past the end), shaped (1, 80, 3000) for the encoder.
    pub fn window(&self, pcm: &[f32], start: usize) -> Result<Tensor, MlError> {
        let half = N_FFT / 2;
        // Sample `i` of the padded stream: reflected before the start of the
        // audio (torch.stft's `center=True`), zeros after its end.
        let sample = |i: isize| -> f32 {
            let i = if i < 0 { -i } else { i };
            pcm.get(i as usize).copied().unwrap_or(0.0)
        };
        let mut frames = vec![0f32; FRAMES * N_FFT];
        for (f, frame) in frames.chunks_exact_mut(N_FFT).enumerate() {
            let first = (start + f * HOP) as isize - half as isize;
            for (j, x) in frame.iter_mut().enumerate() {
                *x = sample(first + j as isize);
            }
        }
        let frames = Tensor::from_vec(frames, (FRAMES, N_FFT), &self.device)?;
        let spectrum = frames.matmul(&self.dft)?;
        let re = spectrum.narrow(1, 0, FREQ_BINS)?;
        let im = spectrum.narrow(1, FREQ_BINS, FREQ_BINS)?;
        let power = (re.sqr()? + im.sqr()?)?;
        // (FRAMES, MEL_BINS), log10 of at least 1e-10.
        let mel = power.matmul(&self.filters)?;
        let log = (mel.maximum(1e-10)?.log()? / std::f64::consts::LN_10)?;
        let loudest = log.max_all()?.to_scalar::<f32>()?;
        let log = log.maximum(f64::from(loudest) - 8.0)?;
        let log = ((log + 4.0)? / 4.0)?;
        Ok(log.t()?.contiguous()?.unsqueeze(0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f32, want: f64) -> bool {
        (f64::from(got) - want).abs() <= 1e-6 * want.abs().max(1e-3)
    }

    /// Values printed by a throw-away plain-Python transcription of
    /// librosa's `filters.mel` (Slaney), rounded to f32; the same numbers as
    /// whisper's `mel_filters.npz` (`mel_80[0, 1]` = 0.02486259...).
    #[test]
    fn filter_bank_matches_librosa() {
        let bank = filter_bank();
        assert_eq!(bank.len(), 80 * 201);
        let at = |m: usize, k: usize| bank[m * 201 + k];
        let known: [(usize, usize, f64); 13] = [
            (0, 1, 0.024_862_595),
            (1, 1, 0.001_990_821_9),
            (1, 2, 0.022_871_772),
            (10, 11, 0.004_954_375_3),
            (20, 20, 0.013_890_394),
            (40, 43, 0.014_735_566),
            (40, 44, 0.006_518_189_8),
            (60, 93, 0.006_591_092_8),
            (60, 94, 0.004_660_011_7),
            (79, 190, 0.002_232_055),
            (79, 192, 0.003_164_711_6),
            (79, 193, 0.003_141_313),
            (79, 199, 0.000_448_759_03),
        ];
        for (m, k, want) in known {
            assert!(
                close(at(m, k), want),
                "[{m}, {k}] = {}, not {want}",
                at(m, k)
            );
        }
        for (m, k) in [
            (0, 0),
            (0, 2),
            (20, 21),
            (20, 24),
            (40, 62),
            (60, 120),
            (79, 200),
        ] {
            assert_eq!(at(m, k), 0.0, "[{m}, {k}]");
        }
        assert_eq!(bank.iter().filter(|&&w| w > 0.0).count(), 391);
        let sum: f32 = bank.iter().sum();
        assert!((sum - 1.999_024).abs() < 1e-4, "sum {sum}");
    }

    #[test]
    fn a_tone_lights_its_mel_bin() {
        let mel = match LogMel::new(&Device::Cpu) {
            Ok(mel) => mel,
            Err(e) => panic!("{e}"),
        };
        // 1 s of 1 kHz: bin 25 of the transform, which filters 25 (centre
        // 968 Hz) and 26 (1011 Hz) cover.
        let pcm: Vec<f32> = (0..16_000)
            .map(|i| (std::f32::consts::TAU * 1000.0 * i as f32 / 16_000.0).sin() * 0.5)
            .collect();
        let window = match mel.window(&pcm, 0).and_then(|w| Ok(w.to_vec3::<f32>()?)) {
            Ok(w) => w,
            Err(e) => panic!("{e}"),
        };
        let frame = 50;
        let column: Vec<f32> = window[0].iter().map(|row| row[frame]).collect();
        assert_eq!(column.len(), 80);
        let loudest = (0..80).fold(0, |b, m| if column[m] > column[b] { m } else { b });
        assert!((25..=26).contains(&loudest), "loudest bin {loudest}");
        // After the tone: the floor, (max - 8 + 4) / 4.
        let after = window[0][loudest][2000];
        assert!(
            after < column[loudest] - 1.9,
            "{after} vs {}",
            column[loudest]
        );
        assert_eq!(window[0].len(), 80);
        assert_eq!(window[0][0].len(), 3000);
    }
}
