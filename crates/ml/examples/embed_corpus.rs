//! Embeds a corpus once, so that heads on top of the sentence vector (the
//! emotion head of issue 12) can be trained offline without running MiniLM
//! again for every experiment.
//!
//! Reads a TSV whose first column is the text (one text per line, no
//! header), embeds every line with [`ml::Embedder`] exactly as search does,
//! and writes the vectors as little-endian `f32` rows of [`ml::DIM`]
//! components, in the order of the input lines. Prints texts per second.
//!
//! ```text
//! PARLEY_MODELS_DIR=.data/models RAYON_NUM_THREADS=2 \
//!     cargo run --release -p ml --example embed_corpus -- IN.tsv OUT.f32
//! ```

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

/// Texts handed to the embedder per call: enough for it to group by length,
/// small enough to report progress often.
const CHUNK: usize = 512;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: embed_corpus IN.tsv OUT.f32");
        return ExitCode::FAILURE;
    };
    match run(input, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embed_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: &str, output: &str) -> Result<(), Box<dyn Error>> {
    let mut texts = Vec::new();
    for line in BufReader::new(File::open(input)?).lines() {
        let line = line?;
        let text = line.split('\t').next().unwrap_or("").to_owned();
        texts.push(text);
    }
    let started = Instant::now();
    let embedder = ml::Embedder::load(&ml::models_dir())?;
    eprintln!(
        "loaded {} in {:.2?}, {} threads, {} texts",
        ml::MODEL_NAME,
        started.elapsed(),
        ml::threads(),
        texts.len()
    );
    let mut out = BufWriter::new(File::create(output)?);
    let started = Instant::now();
    let mut done = 0usize;
    for chunk in texts.chunks(CHUNK) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        for vector in embedder.embed(&refs)? {
            if vector.len() != ml::DIM {
                return Err(format!("vector of {} components", vector.len()).into());
            }
            for x in vector {
                out.write_all(&x.to_le_bytes())?;
            }
        }
        done += chunk.len();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{done}/{} texts, {:.1} texts/s",
            texts.len(),
            done as f64 / secs.max(1e-9)
        );
    }
    out.flush()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{input}: {done} texts in {secs:.1} s, {:.1} texts/s -> {output}",
        done as f64 / secs.max(1e-9)
    );
    Ok(())
}
