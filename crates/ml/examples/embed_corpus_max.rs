//! An experiment for the emotion head (docs/notes/emotion-head.md): the
//! MAX-pooled MiniLM vector of each line of a corpus, to measure whether a
//! second stored vector (mean + max from the same forward pass) would help
//! the head. The product does not use it: search and the head read the
//! mean-pooled vector of [`ml::Embedder`].
//!
//! Same model, tokenizer settings and batching as `Embedder`; the token
//! states are max-pooled over the real word pieces (padding masked out) and
//! L2-normalised, so they quantise like a stored vector. Writes
//! little-endian `f32` rows of [`ml::DIM`], in input order.
//!
//! ```text
//! PARLEY_MODELS_DIR=.data/models RAYON_NUM_THREADS=2 \
//!     cargo run --release -p ml --example embed_corpus_max -- IN.tsv OUT.f32
//! ```

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: embed_corpus_max IN.tsv OUT.f32");
        return ExitCode::FAILURE;
    };
    match run(input, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embed_corpus_max: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: &str, output: &str) -> Result<(), Box<dyn Error + Send + Sync>> {
    let texts: Vec<String> = BufReader::new(File::open(input)?)
        .lines()
        .map(|l| l.map(|l| l.split('\t').next().unwrap_or("").to_owned()))
        .collect::<Result<_, _>>()?;
    let dir = ml::models_dir().join("minilm");
    let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)?;
    let mut tokenizer = Tokenizer::from_bytes(std::fs::read(dir.join("tokenizer.json"))?)?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(Some(TruncationParams {
        max_length: ml::MAX_TOKENS.min(config.max_position_embeddings),
        ..TruncationParams::default()
    }))?;
    let device = Device::Cpu;
    let vb = VarBuilder::from_buffered_safetensors(
        std::fs::read(dir.join("model.safetensors"))?,
        DType::F32,
        &device,
    )?;
    let model = BertModel::load(vb, &config)?;

    let encodings =
        tokenizer.encode_batch_fast(texts.iter().map(String::as_str).collect(), true)?;
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    let mut vectors = vec![Vec::new(); encodings.len()];
    let started = Instant::now();
    let mut done = 0usize;
    let mut rest = order.as_slice();
    while !rest.is_empty() {
        // As Embedder batches: at most BATCH texts and BATCH_TOKENS padded pieces.
        let mut size = 1;
        while size < rest.len().min(ml::BATCH)
            && (size + 1) * encodings[rest[size]].len().max(1) <= ml::BATCH_TOKENS
        {
            size += 1;
        }
        let (chunk, after) = rest.split_at(size);
        let len = chunk
            .iter()
            .map(|&i| encodings[i].len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = vec![0u32; chunk.len() * len];
        let mut mask = vec![0u32; chunk.len() * len];
        for (row, &i) in chunk.iter().enumerate() {
            let n = encodings[i].len();
            ids[row * len..row * len + n].copy_from_slice(encodings[i].get_ids());
            mask[row * len..row * len + n].copy_from_slice(encodings[i].get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (chunk.len(), len), &device)?;
        let mask = Tensor::from_vec(mask, (chunk.len(), len), &device)?;
        let states = model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
        // Padding pushed far below any real state before the max.
        let pad = ((mask.to_dtype(DType::F32)? - 1.0)? * 1e4)?.unsqueeze(2)?;
        let maxes = states.broadcast_add(&pad)?.max(1)?;
        let norms = maxes.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12)?;
        for (&i, v) in chunk
            .iter()
            .zip(maxes.broadcast_div(&norms)?.to_vec2::<f32>()?)
        {
            vectors[i] = v;
        }
        done += chunk.len();
        rest = after;
        if done % 2048 < size {
            eprintln!(
                "{done}/{} texts, {:.1} texts/s",
                texts.len(),
                done as f64 / started.elapsed().as_secs_f64().max(1e-9)
            );
        }
    }
    let mut out = BufWriter::new(File::create(output)?);
    for v in vectors {
        for x in v {
            out.write_all(&x.to_le_bytes())?;
        }
    }
    out.flush()?;
    println!(
        "{input}: {done} texts in {:.1?} -> {output}",
        started.elapsed()
    );
    Ok(())
}
