//! Throughput of the embedder: embeddings per second in batches of 32, on 1
//! and on 2 threads, plus load time, CPU use and memory. Each thread count
//! runs in a child process of its own, as `RAYON_NUM_THREADS` is read when a
//! process starts.
//!
//! `cargo run --release -p ml --example embed_bench [-- TEXTS]` (default 256
//! texts; the model from scripts/fetch-models). Numbers recorded in
//! docs/notes/ml-runtime.md.

#[path = "shared/proc_status.rs"]
mod proc_status;
use std::process::{Command, ExitCode};
use std::time::Instant;

const CHILD: &str = "PARLEY_EMBED_BENCH_CHILD";

fn main() -> ExitCode {
    let texts = std::env::args()
        .nth(1)
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(256);
    if std::env::var_os(CHILD).is_some() {
        return match measure(texts) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("embed_bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("embed_bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    for threads in ["1", "2"] {
        let status = Command::new(&exe)
            .arg(texts.to_string())
            .env(CHILD, "1")
            .env(ml::THREADS_ENV, threads)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("embed_bench: the run on {threads} thread(s) failed: {status:?}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Chat-like lines of 4 to 30 words, all different.
fn corpus(n: usize) -> Vec<String> {
    const WORDS: [&str; 40] = [
        "deploy", "release", "tomorrow", "the", "staging", "server", "is", "down", "again", "who",
        "can", "look", "at", "ticket", "please", "lunch", "meeting", "moved", "to", "three",
        "thanks", "for", "review", "merged", "branch", "tests", "fail", "on", "main", "weekend",
        "rota", "holiday", "coffee", "anyone", "new", "build", "green", "now", "docs", "updated",
    ];
    (0..n)
        .map(|i| {
            let len = 4 + (i * 7) % 27;
            (0..len)
                .map(|j| WORDS[(i * 31 + j * 17 + j * j) % WORDS.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
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

fn measure(n: usize) -> Result<(), ml::MlError> {
    let texts = corpus(n);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let rss_before = proc_status::status("VmRSS");
    let started = Instant::now();
    let embedder = ml::Embedder::load(&ml::models_dir())?;
    let load = started.elapsed().as_secs_f64();
    let rss_loaded = proc_status::status("VmRSS");
    let vectors = embedder.embed(&texts[..ml::BATCH.min(texts.len())])?; // warm-up
    let (cpu, started) = (cpu_seconds(), Instant::now());
    for batch in texts.chunks(ml::BATCH) {
        embedder.embed(batch)?;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    // Texts at the truncation limit, the worst case per text.
    let long: Vec<String> = corpus(n / 4)
        .iter()
        .map(|t| format!("{t} ").repeat(20))
        .collect();
    let long: Vec<&str> = long.iter().map(String::as_str).collect();
    let started_long = Instant::now();
    for batch in long.chunks(ml::BATCH) {
        embedder.embed(batch)?;
    }
    let long_rate = long.len() as f64 / started_long.elapsed().as_secs_f64();
    let (single_cpu, single) = (cpu_seconds(), Instant::now());
    for text in texts.iter().take(32) {
        embedder.embed(&[text])?;
    }
    let single = single.elapsed().as_secs_f64() / 32.0;
    let single_cpu = (cpu_seconds() - single_cpu) / 32.0;
    // A brute-force scan of 100,000 stored vectors, as the worker's cache does.
    let stored = vectors
        .iter()
        .map(|v| ml::quantize(v))
        .collect::<Result<Vec<_>, _>>()?;
    let stored: Vec<&ml::Quantized> = stored.iter().cycle().take(100_000).collect();
    let scan = Instant::now();
    let best = stored
        .iter()
        .map(|q| ml::dot(&vectors[0], q))
        .fold(f32::MIN, f32::max);
    let scan_ms = scan.elapsed().as_secs_f64() * 1000.0;
    println!(
        "threads {} (candle says {}): scan of 100,000 int8 vectors {scan_ms:.1} ms (best {best:.3}); load {load:.2} s; {n} texts in batches of {}: \
         {:.1} embeddings/s, CPU/wall {:.2}; {} texts of {} word pieces: {long_rate:.1}/s; \
         one text alone: {:.1} ms ({:.1} ms CPU); \
         RSS {} MiB before load, {} MiB loaded, peak {} MiB; OS threads {}",
        std::env::var(ml::THREADS_ENV).unwrap_or_default(),
        ml::threads(),
        ml::BATCH,
        n as f64 / wall,
        cpu / wall,
        long.len(),
        ml::MAX_TOKENS,
        single * 1000.0,
        single_cpu * 1000.0,
        rss_before / 1024,
        rss_loaded / 1024,
        proc_status::status("VmHWM") / 1024,
        proc_status::status("Threads"),
    );
    Ok(())
}
