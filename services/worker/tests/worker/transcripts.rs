//! Transcripts of voice messages with the real Whisper model (from
//! scripts/fetch-models): a voice note recorded as WebM/Opus (what
//! browsers' MediaRecorder makes) is stored as the website stores uploads,
//! sent, transcribed once as the bot's `transcript` annotation, and found
//! by search by its words. Restarts transcribe nothing twice; deleted,
//! plain and unreadable messages get none and never stall the follower.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::messaging::Ask;
use common::protocol::{Annotation, AttachmentKind, ServerFrame, UserRef};
use common::store::annotations::{self, TRANSCRIPT};
use common::store::{attachments, blobs, cursors, events, room_seqs};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use ml::whisper::score::word_error_rate;
use test_support::TestDb;
use test_support::store::*;
use worker::Worker;
use worker::config::{Transcribe, TranscribeConfig, WorkerConfig};

const SENTENCE: &str = "The meeting is moved to Thursday at ten in the morning.";

/// The worker's settings with transcripts on, or `None` (said loudly)
/// when the model was never fetched.
fn transcribing(db: &TestDb) -> Option<WorkerConfig> {
    let dir = ml::models_dir();
    if !dir.join("whisper").join("model.bin").is_file() {
        eprintln!(
            "\n!!!!!!!! SKIPPED: no Whisper model in {}/whisper: run scripts/fetch-models \
             (or set PARLEY_MODELS_DIR); scripts/test always does !!!!!!!!\n",
            dir.display()
        );
        return None;
    }
    let mut cfg =
        crate::helpers::config(db, &test_support::unique_redis_prefix(), Default::default());
    cfg.transcribe = TranscribeConfig {
        mode: Transcribe::On,
        models_dir: dir,
        ..TranscribeConfig::default()
    };
    Some(cfg)
}

async fn start(cfg: &WorkerConfig) -> Worker {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    Worker::start(cfg, listener).await.unwrap()
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed by this test (apt install it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `text` spoken by espeak-ng, as WebM/Opus in `dir`.
fn voice_note(dir: &Path, text: &str) -> PathBuf {
    let (wav, webm) = (dir.join("note.wav"), dir.join("note.webm"));
    let path = |p: &Path| p.to_string_lossy().into_owned();
    run(
        "espeak-ng",
        &["-v", "en-us", "-s", "150", "-w", &path(&wav), text],
    );
    run(
        "ffmpeg",
        &[
            "-y",
            "-loglevel",
            "error",
            "-i",
            &path(&wav),
            "-c:a",
            "libopus",
            "-f",
            "webm",
            &path(&webm),
        ],
    );
    webm
}

/// The lower-case hex sha256 of `bytes`: a blob's name.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stores the file at `path` as `who`'s pending upload in `room`, as the
/// website does: the rows in one transaction, then the bytes. Its token.
pub async fn upload(
    conn: &mut AsyncPgConnection,
    files: &files::Files,
    room: i64,
    who: i64,
    kind: AttachmentKind,
    path: &Path,
) -> String {
    let bytes = std::fs::read(path).unwrap();
    let sha = sha256_hex(&bytes);
    let token = format!("t{}", uuid::Uuid::new_v4().simple());
    let new = attachments::NewAttachment {
        token: token.clone(),
        room_id: room,
        user_id: who,
        kind,
        name: "note.webm".into(),
        mime: if kind == AttachmentKind::Audio {
            "audio/webm".into()
        } else {
            "application/octet-stream".into()
        },
        size: bytes.len() as i64,
        blob: sha.clone(),
        thumb_blob: None,
        play_blob: None,
        details: attachments::Details::default(),
    };
    conn.transaction::<_, common::Error, _>(async |conn| {
        blobs::register(conn, &sha, bytes.len() as i64).await?;
        attachments::insert_pending(conn, &new).await
    })
    .await
    .unwrap();
    files.put_file(&sha, path).await.unwrap();
    token
}

/// Sends `body` with `who`'s pending uploads; the message's id.
pub async fn send_files(
    worker: &Worker,
    who: &UserRef,
    room: i64,
    body: &str,
    attachments: &[String],
) -> i64 {
    crate::helpers::send_with(worker, who, room, body, attachments)
        .await
        .id
}

/// Every transcript event of the room's log, in order.
async fn transcript_events(conn: &mut AsyncPgConnection, room: i64) -> Vec<(i64, Annotation)> {
    let mut out = Vec::new();
    for (seq, json) in events::after(conn, room, 0, 10_000).await.unwrap() {
        let frame: ServerFrame = serde_json::from_str(&json).unwrap();
        if let ServerFrame::Annotation(a) = frame
            && a.kind == TRANSCRIPT
        {
            out.push((seq, a));
        }
    }
    out
}

/// The message's current transcript, if any.
async fn transcript(conn: &mut AsyncPgConnection, id: i64) -> Option<String> {
    let room = room_of(conn, id).await;
    annotations::of_messages(conn, &[room], &[id])
        .await
        .unwrap()
        .remove(&id)
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.kind == TRANSCRIPT)
        .map(|a| a.text)
}

/// Waits until `check` holds (the model takes a few seconds a note on a
/// busy machine).
async fn until<F>(what: &str, mut check: F)
where
    F: AsyncFnMut() -> bool,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the `consumer` follower has read the room's whole log.
async fn caught_up(conn: &mut AsyncPgConnection, consumer: &str, room: i64) {
    until(&format!("{consumer} caught up"), async || {
        let last = room_seqs::last_seqs(conn, &[room]).await.unwrap()[0].1;
        cursors::position(conn, consumer, room).await.unwrap() == last
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voice_message_gets_one_transcript_and_is_found_by_its_words() {
    let db = TestDb::migrated().await;
    let Some(cfg) = transcribing(&db) else { return };
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "standup", &ann).await;
    let worker = start(&cfg).await;
    let files = files::Files::open(&cfg.files).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let note = voice_note(scratch.path(), SENTENCE);
    let token = upload(
        &mut conn,
        &files,
        room,
        ann.id,
        AttachmentKind::Audio,
        &note,
    )
    .await;
    let id = send_files(&worker, &author(&ann), room, "", &[token]).await;

    until("the voice message is transcribed", async || {
        transcript(&mut conn, id).await.is_some()
    })
    .await;
    let text = transcript(&mut conn, id).await.unwrap();
    let wer = word_error_rate(SENTENCE, &text);
    eprintln!("heard {text:?}: word error rate {wer:.2}");
    assert!(wer <= 0.25, "{text:?}: word error rate {wer:.2}");

    // One event, by the bot, with the model's name and the same text.
    let bot = bot(&mut conn).await;
    let stored = transcript_events(&mut conn, room).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let (seq, a) = &stored[0];
    assert_eq!((a.id, a.model.as_str()), (id, ml::WHISPER_MODEL_NAME));
    assert_eq!(a.text, text);
    assert!(a.labels.is_empty());
    let by: i64 = {
        use common::schema::room_events;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        room_events::table
            .find((room, *seq))
            .select(room_events::user_id)
            .first(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(by, bot.id);
    // History carries it.
    let page = common::store::messages::page_before(&mut conn, room, None, 10, ann.id)
        .await
        .unwrap();
    let shown = page.iter().find(|m| m.id == id).unwrap();
    assert!(shown.annotations.iter().any(|a| a.kind == TRANSCRIPT));

    // Search finds the voice message by a word that was only spoken.
    let terms = common::search_text::terms("thursday");
    until("search finds the voice message", async || {
        common::store::search::lexical(
            &mut conn,
            ann.id,
            "thursday",
            &terms,
            &Default::default(),
            100,
            Duration::from_secs(5),
        )
        .await
        .unwrap()
        .iter()
        .any(|c| c.message_id == id && c.words)
    })
    .await;
    assert_eq!(worker.state.metrics.transcripts.get(), 1);
    assert!(worker.state.metrics.audio_seconds.get() > 2.0);
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_plain_and_unreadable_messages_get_none_and_a_restart_transcribes_nothing_twice() {
    let db = TestDb::migrated().await;
    let Some(cfg) = transcribing(&db) else { return };
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "voices", &ann).await;
    let files = files::Files::open(&cfg.files).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let note = voice_note(scratch.path(), SENTENCE);
    let garbage = scratch.path().join("garbage.webm");
    std::fs::write(&garbage, b"\x1a\x45\xdf\xa3 not really a recording at all").unwrap();

    // Everything is sent, and one deleted, before the worker first runs:
    // a sender with transcripts off (no follower) stands in for the
    // website.
    let mut quiet = cfg.clone();
    quiet.transcribe.mode = Transcribe::Off;
    let sender = start(&quiet).await;
    let me = author(&ann);
    let up = async |conn: &mut AsyncPgConnection, path: &Path| {
        upload(conn, &files, room, ann.id, AttachmentKind::Audio, path).await
    };
    let corrupt = up(&mut conn, &garbage).await;
    let corrupt = send_files(&sender, &me, room, "broken", &[corrupt]).await;
    let gone = up(&mut conn, &note).await;
    let gone = send_files(&sender, &me, room, "", &[gone]).await;
    sender
        .state
        .messenger
        .apply(&me, room, "delete-gone", Ask::Delete { id: gone })
        .await
        .unwrap();
    let plain = send_files(&sender, &me, room, "just words on Thursday", &[]).await;
    let kept = up(&mut conn, &note).await;
    let kept = send_files(&sender, &me, room, "listen", &[kept]).await;
    sender.shutdown().await;

    let worker = start(&cfg).await;
    until("the voice message is transcribed", async || {
        transcript(&mut conn, kept).await.is_some()
    })
    .await;
    caught_up(&mut conn, "transcripts", room).await;
    assert_eq!(transcript(&mut conn, corrupt).await, None, "unreadable");
    assert_eq!(transcript(&mut conn, gone).await, None, "deleted");
    assert_eq!(transcript(&mut conn, plain).await, None, "no audio");
    let about: Vec<i64> = transcript_events(&mut conn, room)
        .await
        .iter()
        .map(|(_, a)| a.id)
        .collect();
    assert_eq!(about, vec![kept]);
    assert_eq!(worker.state.metrics.transcripts_skipped.get(), 1);
    // The transcript is searchable with the text it was sent with.
    until("search indexes the transcript", async || {
        common::store::search::indexed(&mut conn, &[room], &[kept])
            .await
            .unwrap()
            .first()
            .is_some_and(|(_, text)| text.starts_with("listen\n") && text.len() > 20)
    })
    .await;
    worker.shutdown().await;

    // A worker that lost its cursor (a crash before its commit) reads the
    // log again and transcribes nothing.
    {
        use common::schema::log_cursors;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        diesel::delete(log_cursors::table.filter(log_cursors::consumer.eq("transcripts")))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let again = start(&cfg).await;
    caught_up(&mut conn, "transcripts", room).await;
    assert_eq!(transcript_events(&mut conn, room).await.len(), 1);
    assert_eq!(again.state.metrics.transcripts.get(), 0);
    assert_eq!(again.state.metrics.audio_seconds.get(), 0.0);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_speech_model_transcribe_on_refuses_to_start_and_unset_goes_without() {
    let db = TestDb::migrated().await;
    let empty = tempfile::tempdir().unwrap();
    let mut cfg = crate::helpers::config(
        &db,
        &test_support::unique_redis_prefix(),
        Default::default(),
    );
    cfg.transcribe.models_dir = empty.path().to_owned();
    cfg.transcribe.mode = Transcribe::On;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    match Worker::start(&cfg, listener).await {
        Err(e @ worker::StartError::Transcriber(_)) => {
            assert!(e.to_string().contains("TRANSCRIBE=off"), "{e}")
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("started without the speech model"),
    }
    cfg.transcribe.mode = Transcribe::Auto;
    let worker = start(&cfg).await;
    worker.shutdown().await;
}
