//! Transcribes an audio file and measures what it costs: load time, wall
//! and CPU time per minute of audio, and resident memory, on 1 and on 2
//! threads. Each thread count runs in a child process of its own, as
//! `RAYON_NUM_THREADS` is read when a process starts.
//!
//! `cargo run --release -p ml --example transcribe -- FILE [RUNS]`: any
//! file `sox` reads (it resamples to 16-kHz mono f32); RUNS transcriptions
//! are timed after one warm-up (default 3). The model from
//! scripts/fetch-models. Numbers recorded in docs/notes/whisper.md.

#[path = "shared/proc_status.rs"]
mod proc_status;
use std::process::{Command, ExitCode};
use std::time::Instant;

const CHILD: &str = "PARLEY_TRANSCRIBE_CHILD";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        eprintln!("usage: transcribe FILE [RUNS]");
        return ExitCode::FAILURE;
    };
    let runs = args
        .get(1)
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(3);
    if std::env::var_os(CHILD).is_some() {
        return match measure(file, runs) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("transcribe: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("transcribe: {e}");
            return ExitCode::FAILURE;
        }
    };
    for threads in ["1", "2"] {
        let status = Command::new(&exe)
            .args(&args)
            .env(CHILD, "1")
            .env(ml::THREADS_ENV, threads)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("transcribe: the run on {threads} thread(s) failed: {status:?}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The file as 16-kHz mono f32 samples, through sox.
fn samples(file: &str) -> Result<Vec<f32>, String> {
    let out = Command::new("sox")
        .args([file, "-r", "16000", "-c", "1", "-b", "32"])
        .args(["-e", "floating-point", "-t", "raw", "-"])
        .output()
        .map_err(|e| format!("sox: {e}"))?;
    if !out.status.success() {
        return Err(format!("sox: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// CPU seconds used by this process so far (utime + stime, USER_HZ 100).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn measure(file: &str, runs: usize) -> Result<(), String> {
    let pcm = samples(file)?;
    let minutes = pcm.len() as f64 / f64::from(ml::whisper::SAMPLE_RATE) / 60.0;
    let rss_before = proc_status::status("VmRSS");
    let started = Instant::now();
    let transcriber =
        ml::whisper::Transcriber::load(&ml::models_dir()).map_err(|e| e.to_string())?;
    let load = started.elapsed().as_secs_f64();
    let rss_loaded = proc_status::status("VmRSS");
    let peak_loading = proc_status::status("VmHWM");
    let transcript = transcriber.transcribe(&pcm).map_err(|e| e.to_string())?; // warm-up
    let (cpu, started) = (cpu_seconds(), Instant::now());
    for _ in 0..runs {
        transcriber.transcribe(&pcm).map_err(|e| e.to_string())?;
    }
    let wall = started.elapsed().as_secs_f64() / runs as f64;
    let cpu = (cpu_seconds() - cpu) / runs as f64;
    println!(
        "threads {} (candle says {}): {:.1} s of audio, {} window(s); load {load:.2} s; \
         transcription {wall:.2} s wall, {cpu:.2} s CPU: {:.1} s wall and {:.1} s CPU per \
         minute of audio; RSS {} MiB before load, {} MiB loaded, peak {} MiB while loading, {} MiB in all\n  {:?}",
        std::env::var(ml::THREADS_ENV).unwrap_or_default(),
        ml::threads(),
        minutes * 60.0,
        transcript.windows,
        wall / minutes,
        cpu / minutes,
        rss_before / 1024,
        rss_loaded / 1024,
        peak_loading / 1024,
        proc_status::status("VmHWM") / 1024,
        transcript.text,
    );
    Ok(())
}
