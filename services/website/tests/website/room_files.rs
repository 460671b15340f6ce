//! A message's files on the room page (issue 13): a voice message sent as
//! its file alone (no text) shows a player that works without JavaScript
//! (`<audio controls>`), its waveform as SVG bars and its length; another
//! file shows as a row with its size and a download link; the transcript
//! the worker appends shows under the player; a deleted message shows none
//! of it. The composer posts files without JavaScript and tells the script
//! its limits.

use common::domain::Nonce;
use common::store::events::{self, Change, EventDraft, Policy};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const BOUNDARY: &str = "parley-test-boundary";

/// One second of a 440 Hz tone: 16-bit PCM WAV, 8 kHz mono.
fn tone_wav() -> Vec<u8> {
    let rate: u32 = 8000;
    let samples: Vec<i16> = (0..rate)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            ((t * 440.0 * std::f64::consts::TAU).sin() * 12000.0) as i16
        })
        .collect();
    let data_len = u32::try_from(samples.len() * 2).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// A small PDF of 2,400 bytes.
fn pdf() -> Vec<u8> {
    let mut text =
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
            .to_vec();
    text.resize(2400, b'%');
    text
}

/// A multipart body of `files` (name, type, bytes) under the field `file`.
fn multipart(files: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, mime, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Uploads files into `room` through the API: their attachments.
async fn upload(app: &TestApp, token: &str, room: i64, files: &[(&str, &str, Vec<u8>)]) -> Value {
    let res = app
        .api()
        .post(app.url(&format!("/api/v1/rooms/{room}/attachments")))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(files))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["attachments"].clone()
}

/// Appends a transcript to message `id`, as the worker does.
async fn transcribe(app: &TestApp, room: i64, id: i64, text: &str) {
    let mut conn = app.db.connect().await;
    let bot = test_support::store::bot(&mut conn).await;
    let draft = EventDraft {
        user: bot,
        nonce: Nonce::parse(&format!(
            "transcript-{id}-{}",
            uuid::Uuid::new_v4().simple()
        ))
        .unwrap(),
        change: Change::Annotate {
            id,
            kind: common::protocol::TRANSCRIPT.into(),
            labels: Vec::new(),
            model: "whisper-tiny.en".into(),
            text: text.into(),
        },
    };
    let done = events::append_batch(&mut conn, room, &[draft], &Policy::default())
        .await
        .unwrap();
    assert!(done[0].is_ok(), "{done:?}");
}

#[tokio::test]
async fn a_voice_message_alone_shows_a_player_with_its_waveform_length_and_transcript() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.person("vera").await;
    let room = app.room(&token, "voices").await;
    let files = upload(
        &app,
        &token,
        room,
        &[
            ("voice-message.wav", "audio/wav", tone_wav()),
            ("report.pdf", "application/pdf", pdf()),
        ],
    )
    .await;
    let voice = &files[0];
    let ids = [voice["id"].clone(), files[1]["id"].clone()];
    // The files alone, without a word: a message all the same.
    let res = app
        .post_json_as(
            &token,
            &format!("/api/v1/rooms/{room}/messages"),
            &json!({"body": "", "nonce": "voice-1", "attachments": ids}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let id = res.json::<Value>().await.unwrap()["message"]["id"]
        .as_i64()
        .unwrap();
    transcribe(&app, room, id, "  The meeting is moved to Thursday.  ").await;

    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    let play_url = voice["play_url"].as_str().unwrap();
    let plain = format!(r#"<audio controls preload="none" src="{play_url}""#);
    assert!(page.contains(&plain), "a player without JavaScript: {page}");
    assert!(
        page.contains(r#"<svg class="wave" viewBox="0 0 192 32""#),
        "the waveform's 48 bars: {page}"
    );
    let wave = &page[page.find(r#"<svg class="wave""#).unwrap()..];
    let wave = &wave[..wave.find("</svg>").unwrap()];
    assert_eq!(wave.matches("<rect x=").count(), 48, "{wave}");
    assert!(
        page.contains(r#"<span class="player-time">0:01</span>"#),
        "{page}"
    );
    assert!(page.contains(r#"data-duration-ms=""#));
    assert!(
        page.contains(r#"<span class="transcript-label">Transcript</span> <span class="transcript-text">The meeting is moved to Thursday.</span>"#),
        "the transcript under the player: {page}"
    );
    let pdf_url = files[1]["url"].as_str().unwrap();
    assert!(page.contains(&format!(r#"<a class="att-name" href="{pdf_url}">report.pdf</a><span class="att-size">2.4 KB</span>"#)), "{page}");
    assert!(
        page.contains(&format!(r#"href="{pdf_url}?download=1""#)),
        "{page}"
    );

    // A transcript taken back goes; a deleted message shows no files.
    transcribe(&app, room, id, "").await;
    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    assert!(!page.contains("transcript-text"), "{page}");
    let res = app
        .call_as(
            reqwest::Method::DELETE,
            &token,
            &format!("/api/v1/rooms/{room}/messages/{id}"),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    assert!(!page.contains("data-att="), "{page}");
}

#[tokio::test]
async fn the_composer_posts_files_without_javascript_and_tells_the_script_its_limits() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.person("fred").await;
    let room = app.room(&token, "filing").await;
    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    assert!(page.contains(r#"enctype="multipart/form-data""#), "{page}");
    assert!(
        page.contains(
            r#"<input type="file" name="file" id="file-input" class="file-input" multiple"#
        ),
        "{page}"
    );
    assert!(
        page.contains(r#"data-max-files="10" data-max-bytes="26214400" data-voice-max-secs="300""#),
        "{page}"
    );
    assert!(
        page.contains(r#"id="record" hidden"#),
        "the recorder waits for the script"
    );
}
