//! The embedder on the real model (scripts/fetch-models puts it in
//! .data/models; scripts/test always does). Without it these tests fail,
//! saying so: they never pass by skipping.

use std::sync::OnceLock;
use std::time::Instant;

use ml::{DIM, Embedder, MlError};

fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let dir = ml::models_dir();
        match Embedder::load(&dir) {
            Ok(embedder) => embedder,
            Err(e) => panic!(
                "cannot load the model from {}: {e}\n(run scripts/fetch-models)",
                dir.display()
            ),
        }
    })
}

fn embed(texts: &[&str]) -> Vec<Vec<f32>> {
    match embedder().embed(texts) {
        Ok(vectors) => vectors,
        Err(e) => panic!("embed: {e}"),
    }
}

fn one(text: &str) -> Vec<f32> {
    match embed(&[text]).pop() {
        Some(vector) => vector,
        None => panic!("no vector for {text:?}"),
    }
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f32]) -> f32 {
    cos(a, a).sqrt()
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

const QUESTION: &str = "When is the deploy scheduled?";
const PARAPHRASE: &str = "What time do we ship the release?";
const UNRELATED: [&str; 4] = [
    "The cat sits on the mat.",
    "I had pasta with tomatoes for lunch.",
    "My bicycle has a flat tyre again.",
    "Happy birthday, grandma!",
];

#[test]
fn paraphrase_outscores_unrelated() {
    let question = one(QUESTION);
    let paraphrase = one(PARAPHRASE);
    let close = cos(&question, &paraphrase);
    println!("cos(question, paraphrase) = {close:.3}");
    assert!(close > 0.45, "cos(question, paraphrase) = {close}");
    for text in UNRELATED {
        let other = one(text);
        for (name, v) in [("question", &question), ("paraphrase", &paraphrase)] {
            let far = cos(v, &other);
            println!("cos({name}, {text:?}) = {far:.3}");
            assert!(
                close > far,
                "cos(question, paraphrase) = {close} but cos({name}, {text:?}) = {far}"
            );
        }
    }
}

#[test]
fn vectors_are_unit_and_of_the_model_width() {
    for vector in embed(&[QUESTION, PARAPHRASE, "ok"]) {
        assert_eq!(vector.len(), DIM);
        assert!((norm(&vector) - 1.0).abs() < 1e-4, "norm {}", norm(&vector));
    }
}

#[test]
fn a_text_gets_the_same_vector_alone_and_in_a_padded_batch() {
    let alone = one(QUESTION);
    let long = "a much longer message about the release train, the staging \
                environment and who is on call this weekend, so that the \
                question is padded in its batch";
    // Texts at the length limit go in batches of fewer texts.
    let longest = "every word here is another word piece for the model ".repeat(40);
    let per_batch = ml::BATCH_TOKENS / ml::MAX_TOKENS;
    // More than one batch of each kind, the question among longer and
    // shorter texts.
    let mut texts = vec![long; ml::BATCH + 7];
    texts[3] = "hi";
    texts[ml::BATCH + 2] = QUESTION;
    texts.extend(std::iter::repeat_n(longest.as_str(), per_batch + 1));
    texts[ml::BATCH + 5] = "the last short one";
    let vectors = embed(&texts);
    assert_eq!(vectors.len(), texts.len());
    let in_batch = &vectors[ml::BATCH + 2];
    let difference = max_difference(&alone, in_batch);
    assert!(difference < 1e-4, "components differ by up to {difference}");
    // And the order of the answer is the order of the texts.
    for i in [0, 3, ml::BATCH + 5, texts.len() - 1] {
        let difference = max_difference(&vectors[i], &one(texts[i]));
        assert!(difference < 1e-4, "text {i} differs by up to {difference}");
    }
}

#[test]
fn quantised_dot_is_close_to_the_f32_dot() {
    let texts = [QUESTION, PARAPHRASE, UNRELATED[0], UNRELATED[1], ""];
    let vectors = embed(&texts);
    for a in &vectors {
        for b in &vectors {
            let stored = match ml::quantize(b) {
                Ok(q) => q,
                Err(e) => panic!("quantize: {e}"),
            };
            let back = match ml::Quantized::from_bytes(stored.scale, &stored.to_bytes()) {
                Ok(q) => q,
                Err(e) => panic!("from_bytes: {e}"),
            };
            let (exact, approx) = (cos(a, b), ml::dot(a, &back));
            assert!((exact - approx).abs() < 0.02, "{exact} vs {approx}");
        }
    }
}

#[test]
fn a_long_text_is_truncated_not_refused() {
    let sentence = "we should move the standup to ten because half the team is in lisbon. ";
    let long = sentence.repeat(10_000 / sentence.len() + 1);
    assert!(long.len() >= 10_000);
    let longer = sentence.repeat(2 * (10_000 / sentence.len() + 1));
    let vectors = embed(&[&long, &longer]);
    assert!((norm(&vectors[0]) - 1.0).abs() < 1e-4);
    // Both are cut to the same first word pieces, so they are the same vector.
    let difference = max_difference(&vectors[0], &vectors[1]);
    assert!(difference < 1e-4, "components differ by up to {difference}");
}

#[test]
fn word_pieces_up_to_the_trained_length_count() {
    // The tokenizer file cuts at 128 word pieces; the model was trained on
    // 256. Texts that differ only after the 128th must differ.
    let start = "ok ".repeat(150);
    let cats = format!("{start}my cats sleep all day on the warm windowsill");
    let money = format!("{start}the quarterly budget report is due on friday");
    let vectors = embed(&[&cats, &money]);
    let difference = max_difference(&vectors[0], &vectors[1]);
    assert!(difference > 1e-3, "the ends were ignored: {difference}");
}

#[test]
fn empty_and_blank_texts_get_vectors() {
    let vectors = embed(&["", "   ", "\n"]);
    assert_eq!(vectors.len(), 3);
    for vector in &vectors {
        assert_eq!(vector.len(), DIM);
        assert!((norm(vector) - 1.0).abs() < 1e-4);
    }
    assert!(embed(&[]).is_empty());
}

#[test]
fn a_missing_model_says_how_to_fetch_it() {
    let dir = std::env::temp_dir().join("parley-ml-no-models-here");
    match Embedder::load(&dir) {
        Err(e @ MlError::ModelMissing { .. }) => {
            assert!(e.to_string().contains("run scripts/fetch-models"), "{e}");
        }
        Err(e) => panic!("expected ModelMissing, got {e}"),
        Ok(_) => panic!("loaded a model from {}", dir.display()),
    }
}

/// Clock ticks of CPU this process has used (user + system), from
/// /proc/self/stat; USER_HZ is 100 on Linux.
fn cpu_seconds() -> f64 {
    let stat = match std::fs::read_to_string("/proc/self/stat") {
        Ok(stat) => stat,
        Err(e) => panic!("/proc/self/stat: {e}"),
    };
    // The fields after the command name (which may hold spaces).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Run by [`one_thread_uses_at_most_one_core`] in a process of its own
/// started with `RAYON_NUM_THREADS=1`; does nothing when run otherwise.
#[test]
#[ignore = "a child of one_thread_uses_at_most_one_core"]
fn child_embeds_on_one_thread() {
    if std::env::var(ml::THREADS_ENV).as_deref() != Ok("1") {
        return;
    }
    assert_eq!(ml::threads(), 1);
    let texts: Vec<String> = (0..64)
        .map(|i| format!("message number {i} about the deploy, the release and the weekend rota"))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    embed(&texts[..8]); // loads and warms up, not measured
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    embed(&texts);
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    println!("64 texts on one thread: {wall:.2} s wall, {cpu:.2} s CPU");
    // One thread cannot use more CPU than wall time; 0.05 s for the tick
    // granularity of the counters.
    assert!(cpu <= wall * 1.1 + 0.05, "{cpu:.2} s CPU in {wall:.2} s");
}

#[test]
fn one_thread_uses_at_most_one_core() {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => panic!("current_exe: {e}"),
    };
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "child_embeds_on_one_thread",
            "--ignored",
            "--nocapture",
        ])
        .env(ml::THREADS_ENV, "1")
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => panic!("starting the child: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "the child failed: {stdout}{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run: {stdout}"
    );
}
