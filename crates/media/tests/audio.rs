//! Audio made at test time with Debian's tools, the way browsers and
//! phones make it: espeak-ng speech, sox tones, ffmpeg's WebM/Opus as
//! Chrome's MediaRecorder writes it (no duration, no cues), Ogg/Opus,
//! M4A/AAC, MP3, FLAC. Durations are checked against sox's and ffprobe's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use media::{AudioLimits, Kind, MediaError, PEAKS, check_claim, sniff};

/// Whether a tool is installed; says so LOUDLY when it is not, so a
/// skipped test is never mistaken for a passing one.
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg(if tool == "espeak-ng" {
            "--version"
        } else {
            "-h"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!(
            "\n!!!!!!!! SKIPPED: `{tool}` is not installed (apt-get install ffmpeg espeak-ng sox) !!!!!!!!\n"
        );
    }
    found
}

fn tools() -> bool {
    ["ffmpeg", "ffprobe", "sox", "soxi", "espeak-ng"]
        .iter()
        .all(|t| have(t))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn speech(dir: &Path) -> PathBuf {
    let wav = dir.join("speech.wav");
    run(Command::new("espeak-ng")
        .args(["-v", "en-us", "-w"])
        .arg(&wav)
        .arg("The meeting is moved to Thursday at ten in the morning. Please send me the logs."));
    wav
}

fn ffmpeg(input: &Path, output: &Path, args: &[&str]) {
    run(Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-i"])
        .arg(input)
        .args(args)
        .arg(output));
}

/// WebM/Opus as MediaRecorder writes it: streamed, so no Duration element
/// and no Cues (ffmpeg writes to a pipe and cannot go back to add them).
fn media_recorder_webm(input: &Path, output: &Path) {
    let file = std::fs::File::create(output).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(input)
        .args([
            "-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-f", "webm", "-live", "1", "pipe:1",
        ])
        .stdout(file)
        .status()
        .unwrap();
    assert!(status.success());
}

fn soxi_secs(path: &Path) -> f64 {
    let out = Command::new("soxi").arg("-D").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// ffprobe's idea of a file: (format duration if any, codec name).
fn ffprobe(path: &Path) -> (Option<f64>, String) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "default=nw=1",
        ])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut duration = None;
    let mut codec = String::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("duration=") {
            duration = d.parse().ok();
        }
        if let Some(c) = line.strip_prefix("codec_name=") {
            codec = c.to_owned();
        }
    }
    (duration, codec)
}

fn sniff_file(path: &Path) -> media::Sniffed {
    let bytes = std::fs::read(path).unwrap();
    sniff(&bytes[..bytes.len().min(media::SNIFF_LEN)])
}

fn assert_close(label: &str, got_ms: u64, want_secs: f64) {
    let diff = (got_ms as f64 - want_secs * 1000.0).abs();
    assert!(
        diff <= 60.0,
        "{label}: {got_ms} ms vs {:.0} ms (off by {diff:.0} ms)",
        want_secs * 1000.0
    );
}

#[test]
fn every_browser_format_probes_to_the_right_duration() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = speech(dir.path());
    let truth = soxi_secs(&wav);
    assert!(truth > 3.0, "espeak spoke {truth} s");
    let webm = dir.path().join("chrome.webm");
    media_recorder_webm(&wav, &webm);
    assert_eq!(
        ffprobe(&webm).0,
        None,
        "the MediaRecorder-like WebM should have no duration"
    );
    let cases: Vec<(PathBuf, &str, &str, bool)> = {
        let mut v = vec![
            (wav.clone(), "audio/wav", "pcm_s16le", true),
            (webm, "audio/webm", "opus", true),
        ];
        for (name, args, mime, codec, convert) in [
            (
                "firefox.ogg",
                &["-c:a", "libopus", "-b:a", "32k"][..],
                "audio/ogg",
                "opus",
                false,
            ),
            (
                "safari.m4a",
                &["-c:a", "aac", "-b:a", "64k", "-ar", "48000"][..],
                "audio/mp4",
                "aac",
                false,
            ),
            (
                "old.mp3",
                &["-c:a", "libmp3lame", "-b:a", "64k"][..],
                "audio/mpeg",
                "mp3",
                false,
            ),
            (
                "big.flac",
                &["-c:a", "flac"][..],
                "audio/flac",
                "flac",
                true,
            ),
        ] {
            let path = dir.path().join(name);
            ffmpeg(&wav, &path, args);
            v.push((path, mime, codec, convert));
        }
        v
    };
    for (path, mime, codec, convert) in cases {
        let label = path.file_name().unwrap().to_string_lossy().to_string();
        let sniffed = sniff_file(&path);
        assert_eq!((sniffed.mime, sniffed.kind), (mime, Kind::Audio), "{label}");
        assert_eq!(media::needs_conversion(&sniffed), convert, "{label}");
        let info = media::probe_audio(&path, &AudioLimits::default())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(info.codec, codec, "{label}");
        assert_eq!(info.peaks.len(), PEAKS);
        assert_eq!(info.peaks.iter().max(), Some(&255), "{label}");
        assert!(!info.has_video);
        assert_close(&label, info.duration_ms, truth);
        if let (Some(ff), false) = (ffprobe(&path).0, path.extension().unwrap() == "webm") {
            assert_close(&format!("{label} vs ffprobe"), info.duration_ms, ff);
        }
    }
}

#[test]
fn a_tone_then_silence_draws_high_bars_then_low() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    run(Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "1", "-b", "16"])
        .arg(&wav)
        .args(["synth", "1", "sine", "440", "pad", "0", "1"]));
    let info = media::probe_audio(&wav, &AudioLimits::default()).unwrap();
    assert_eq!(info.duration_ms, 2000);
    assert_eq!((info.sample_rate, info.channels), (48_000, 1));
    let (first, second) = info.peaks.split_at(PEAKS / 2);
    assert!(first.iter().all(|&b| b > 200), "{:?}", info.peaks);
    assert!(second[1..].iter().all(|&b| b < 10), "{:?}", info.peaks);
}

#[test]
fn webm_converts_to_ogg_opus_that_players_can_measure() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = speech(dir.path());
    let truth = soxi_secs(&wav);
    let webm = dir.path().join("chrome.webm");
    media_recorder_webm(&wav, &webm);
    let out = dir.path().join("voice.ogg");
    let info = media::convert_to_ogg_opus(&webm, &out, &AudioLimits::default()).unwrap();
    assert_eq!(
        (info.codec.as_str(), info.sample_rate, info.channels),
        ("opus", 48_000, 1)
    );
    assert_close("conversion", info.duration_ms, truth);
    let (duration, codec) = ffprobe(&out);
    assert_eq!(codec, "opus");
    assert_close(
        "ffprobe of the Ogg",
        info.duration_ms,
        duration.expect("the Ogg has a duration"),
    );
    // (Debian's sox has no Opus handler: ffprobe is the second opinion.)
    let again = media::probe_audio(&out, &AudioLimits::default()).unwrap();
    assert_close("probing the Ogg", again.duration_ms, truth);
    assert_eq!(sniff_file(&out).mime, "audio/ogg");
    // Same waveform within the codec's loss.
    for (a, b) in info.peaks.iter().zip(&again.peaks) {
        assert!(
            (i16::from(*a) - i16::from(*b)).abs() < 40,
            "{:?} vs {:?}",
            info.peaks,
            again.peaks
        );
    }
    // A 32 kbit/s voice note: ~4 KB a second.
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(size < (truth * 6000.0) as u64, "{size} bytes for {truth} s");
}

#[test]
fn stereo_flac_converts_to_stereo_opus_and_decodes_for_whisper() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let flac = dir.path().join("noise.flac");
    run(Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "2", "-b", "16"])
        .arg(&flac)
        .args(["synth", "3", "pinknoise", "vol", "0.5"]));
    let out = dir.path().join("noise.ogg");
    let info = media::convert_to_ogg_opus(&flac, &out, &AudioLimits::default()).unwrap();
    assert_eq!(info.channels, 2);
    assert_eq!(info.duration_ms, 3000);
    let (duration, codec) = ffprobe(&out);
    assert_eq!(codec, "opus");
    assert_close("ffprobe", 3000, duration.unwrap());
    let samples = media::decode_mono_16k(&flac, &AudioLimits::default()).unwrap();
    assert_eq!(samples.len(), 3 * 16_000);
    assert!(samples.iter().all(|s| s.is_finite() && s.abs() <= 1.5));
    let wav = speech(dir.path());
    let speech16 = media::decode_mono_16k(&wav, &AudioLimits::default()).unwrap();
    assert_close(
        "16 kHz speech",
        speech16.len() as u64 * 1000 / 16_000,
        soxi_secs(&wav),
    );
}

#[test]
fn too_long_audio_is_refused_early() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("long.wav");
    run(Command::new("sox")
        .args(["-n", "-r", "8000", "-c", "1"])
        .arg(&wav)
        .args(["synth", "10", "sine", "300"]));
    let webm = dir.path().join("long.webm");
    media_recorder_webm(&wav, &webm);
    let limits = AudioLimits { max_secs: 5 };
    for path in [&wav, &webm] {
        match media::probe_audio(path, &limits) {
            Err(e @ MediaError::AudioTooLong { max_secs: 5 }) => {
                assert_eq!(e.status_hint(), 422);
                assert!(e.to_string().contains("5 seconds"), "{e}");
            }
            other => panic!("{path:?}: expected AudioTooLong, got {other:?}"),
        }
    }
    assert!(matches!(
        media::convert_to_ogg_opus(&webm, &dir.path().join("x.ogg"), &limits),
        Err(MediaError::AudioTooLong { .. })
    ));
}

#[test]
fn a_truncated_webm_is_refused() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = speech(dir.path());
    let webm = dir.path().join("chrome.webm");
    media_recorder_webm(&wav, &webm);
    let bytes = std::fs::read(&webm).unwrap();
    let cut = dir.path().join("cut.webm");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(sniff_file(&cut).kind, Kind::Audio);
    match media::probe_audio(&cut, &AudioLimits::default()) {
        Err(e @ MediaError::CorruptAudio(_)) => assert_eq!(e.status_hint(), 422),
        other => panic!("expected CorruptAudio, got {other:?}"),
    }
}

#[test]
fn random_bytes_and_programs_named_webm_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let random: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = dir.path().join("x.webm");
    std::fs::write(&path, &random).unwrap();
    let sniffed = sniff_file(&path);
    assert_eq!(sniffed.kind, Kind::File);
    let e = check_claim("x.webm", None, &sniffed).unwrap_err();
    assert_eq!(e.status_hint(), 415);
    // And if a caller probed it anyway, it is not audio.
    assert!(media::probe_audio(&path, &AudioLimits::default()).is_err());

    let elf = sniff_file(Path::new("/bin/true"));
    assert_eq!(
        (elf.kind, elf.mime),
        (Kind::File, "application/x-executable")
    );
    let e = check_claim("x.webm", Some("audio/webm"), &elf).unwrap_err();
    assert_eq!(e.status_hint(), 415);
    assert!(e.to_string().contains("a program"), "{e}");
    let e = check_claim("notes.bin", Some("audio/webm;codecs=opus"), &elf).unwrap_err();
    assert_eq!(e.status_hint(), 415);
}

#[test]
fn a_video_without_sound_has_no_audio_track() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let webm = dir.path().join("silent-film.webm");
    run(Command::new("ffmpeg")
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=10:duration=1",
            "-c:v",
            "libvpx",
        ])
        .arg(&webm));
    assert_eq!(
        sniff_file(&webm).kind,
        Kind::Audio,
        "a WebM is audio until probed"
    );
    match media::probe_audio(&webm, &AudioLimits::default()) {
        Err(e @ MediaError::NoAudioTrack) => assert_eq!(e.status_hint(), 422),
        other => panic!("expected NoAudioTrack, got {other:?}"),
    }
}
