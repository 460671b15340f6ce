//! What Parley says of a few chat lines, as the `emotions` follower would:
//! the short-line rules of `common::emotion` first, then, for lines with
//! words, the emotion head of `crates/ml` on the line's stored vector
//! (embedded as the `vectors` follower embeds it, then the int8 round
//! trip). Prints a Markdown table for docs/EMOTION.md and the time the head
//! takes per message (not a test: a measurement on this machine).
//!
//! ```text
//! PARLEY_MODELS_DIR=.data/models RAYON_NUM_THREADS=1 \
//!     cargo run --release -p worker --example emotion_lines
//! ```

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

use common::emotion::{ShortLine, short_line};
use ml::{EMOTION_LABELS, EmotionHead};

/// What the `vectors` follower embeds of a body (services/worker/src/follow.rs).
const EMBED_CHARS: usize = 2000;

/// Head calls timed, to average over.
const TIMED_CALLS: u32 = 20_000;

/// The lines: the short ones the issue names, then ordinary chat.
const LINES: &[&str] = &[
    "lol",
    "ugh",
    "thanks!!",
    "😭😭",
    "https://example.com/build/1234",
    "```\nfn main() { panic!(\"boom\") }\n```",
    "I can't believe we shipped it on time, great work everyone!",
    "The deploy failed again and nobody told me. This is ridiculous.",
    "Wait, the meeting moved to Thursday?",
    "I'm really worried the server won't survive the launch.",
    "My cat died this morning.",
    "That code is disgusting, who wrote this?",
    "Can you send me the report by 5pm?",
    "Wow, I did not expect that at all!",
    "Thanks so much, you saved my day",
    "I'm so tired of fixing the same bug every week",
    "ok",
    "See you tomorrow",
    "Why is the build red again??",
    "Best news I've heard all year 🎉",
    "I'm scared to tell the boss",
    "Nooo the game got cancelled 😭",
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emotion_lines: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let head = EmotionHead::bundled()?;
    let embedder = ml::Embedder::load(&ml::models_dir())?;
    let texts: Vec<String> = LINES
        .iter()
        .map(|l| common::markdown::excerpt(l, EMBED_CHARS))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let started = Instant::now();
    let vectors = embedder.embed(&refs)?;
    let embed_each = started.elapsed() / LINES.len() as u32;
    let stored: Vec<[f32; ml::DIM]> = vectors
        .iter()
        .map(|v| ml::quantize(v).map(|q| q.to_f32()))
        .collect::<Result<_, _>>()?;

    println!(
        "| line | short-line rule | head `{}`: tags (calibrated score) |",
        head.version()
    );
    println!("|---|---|---|");
    for ((line, text), vector) in LINES.iter().zip(&texts).zip(&stored) {
        let rule = short_line(line);
        let said = match rule {
            ShortLine::Nothing => "nothing to tag: no annotation".to_owned(),
            ShortLine::Says(e) => format!("**{}** (the head is not run)", e.as_str()),
            ShortLine::Model => "words: the head decides".to_owned(),
        };
        let tags = head
            .tag(vector, text)?
            .iter()
            .map(|(j, s)| format!("{} {s:.2}", EMOTION_LABELS[*j]))
            .collect::<Vec<_>>()
            .join(", ");
        let shown = line.replace('\n', "⏎").replace('|', "\\|");
        // What the head would have said where a rule decides, to show why
        // the rule is there.
        let tags = match rule {
            ShortLine::Model => tags,
            _ => format!("(not used: {tags})"),
        };
        println!("| `` {shown} `` | {said} | {tags} |");
    }

    let started = Instant::now();
    let mut n = 0usize;
    for i in 0..TIMED_CALLS {
        let k = i as usize % LINES.len();
        n += head.tag(&stored[k], &texts[k])?.len();
    }
    let per_call = started.elapsed() / TIMED_CALLS;
    eprintln!(
        "head: {per_call:?} per message ({TIMED_CALLS} calls, {n} tags); embedding: {embed_each:?} per message ({} lines in one batch, {} threads)",
        LINES.len(),
        ml::threads()
    );
    Ok(())
}
