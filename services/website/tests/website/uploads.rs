//! Attachments on the website (issue 13): uploads through the API and the
//! composer form, what the server makes of them (types from the content,
//! thumbnails, audio measured and converted), how files are served (to
//! whom, with which headers, by ranges), and every bad input refused with
//! nothing half-stored. Media are made at test time with ffmpeg and
//! espeak-ng.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, csrf_in};

/// A directory of media made for one test.
struct Media(tempfile::TempDir);

impl Media {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Runs a media tool, which must succeed.
    fn run(&self, program: &str, args: &[&str]) {
        let out = Command::new(program)
            .args(args)
            .current_dir(self.0.path())
            .output()
            .unwrap_or_else(|e| panic!("{program} (a Debian package scripts/test installs): {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A 1280×720 JPEG test card.
    fn photo(&self) -> Vec<u8> {
        self.run(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=1280x720",
                "-frames:v",
                "1",
                "photo.jpg",
            ],
        );
        std::fs::read(self.path("photo.jpg")).unwrap()
    }

    /// A sentence spoken by espeak-ng, as Chrome's MediaRecorder would
    /// record it (WebM/Opus, no duration in the header).
    fn voice(&self) -> Vec<u8> {
        self.run(
            "espeak-ng",
            &[
                "-v",
                "en-us",
                "-s",
                "150",
                "-w",
                "voice.wav",
                "The meeting is moved to Thursday at ten.",
            ],
        );
        self.run(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-i",
                "voice.wav",
                "-c:a",
                "libopus",
                "-f",
                "webm",
                "voice.webm",
            ],
        );
        std::fs::read(self.path("voice.webm")).unwrap()
    }

    /// The length of a file in seconds, as ffprobe reads it.
    fn seconds_of(&self, name: &str) -> f64 {
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
                name,
            ])
            .current_dir(self.0.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

/// Uploads `files` (name, client type, bytes) to `room` as `token`.
async fn upload(
    app: &TestApp,
    token: &str,
    room: i64,
    files: Vec<(&str, &str, Vec<u8>)>,
) -> reqwest::Response {
    let mut form = Form::new();
    for (name, mime, bytes) in files {
        form = form.part(
            "file",
            Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        );
    }
    app.api()
        .post(app.url(&format!("/api/v1/rooms/{room}/attachments")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Uploads one file, which must be accepted; returns its attachment.
async fn uploaded(
    app: &TestApp,
    token: &str,
    room: i64,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> Value {
    let res = upload(app, token, room, vec![(name, mime, bytes)]).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["attachment"], body["attachments"][0]);
    body["attachment"].clone()
}

/// Sends a message with `attachments`; returns the response.
async fn send_with(
    app: &TestApp,
    token: &str,
    room: i64,
    body: &str,
    ids: &[&str],
) -> reqwest::Response {
    let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
    app.post_json_as(
        token,
        &format!("/api/v1/rooms/{room}/messages"),
        &json!({"body": body, "nonce": nonce, "attachments": ids}),
    )
    .await
}

/// A private room of `owner`'s, with `member` (named `member_name`)
/// invited and in it.
async fn private_room(app: &TestApp, owner: &str, member: &str, member_name: &str) -> i64 {
    let res = app
        .post_json_as(
            owner,
            "/api/v1/rooms",
            &json!({"name": "studio", "topic": "hush", "visibility": "private"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room = res.json::<Value>().await.unwrap()["room"]["id"]
        .as_i64()
        .unwrap();
    let res = app
        .post_json_as(
            owner,
            &format!("/api/v1/rooms/{room}/invites"),
            &json!({"username": member_name}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let res = app
        .post_json_as(
            member,
            &format!("/api/v1/me/invites/{room}/accept"),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    room
}

async fn get(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut req = app.api().get(app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(range) = range {
        req = req.header("Range", range);
    }
    req.send().await.unwrap()
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn a_photo_gets_a_thumbnail_and_is_served_to_members_only() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    let (_, eve) = app.person("eve").await;
    let room = private_room(&app, &ann, &bob, "bob").await;
    let media = Media::new();
    let photo = media.photo();

    // The client's name and type are ignored: the content says JPEG.
    let a = uploaded(
        &app,
        &ann,
        room,
        "holiday.png",
        "application/octet-stream",
        photo.clone(),
    )
    .await;
    assert_eq!(a["kind"], "image");
    assert_eq!(a["content_type"], "image/jpeg");
    assert_eq!(
        (a["width"].as_i64(), a["height"].as_i64()),
        (Some(1280), Some(720))
    );
    assert_eq!(a["thumb"]["width"], 640);
    let id = a["id"].as_str().unwrap().to_owned();
    assert!(id.len() >= 22, "ids cannot be guessed: {id}");
    let url = a["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/files/{id}/holiday.png"));

    // Pending: its uploader's alone.
    assert_eq!(
        get(&app, Some(&ann), &url, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&app, Some(&bob), &url, None).await.status(),
        StatusCode::NOT_FOUND
    );

    let res = send_with(&app, &ann, room, "", &[&id]).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let message: Value = res.json().await.unwrap();
    assert_eq!(message["message"]["attachments"][0]["id"], id.as_str());
    assert_eq!(
        message["message"]["body"],
        Value::Null,
        "a message of files only"
    );

    // A member gets the file, inline, with the headers that keep it inert.
    let res = get(&app, Some(&bob), &url, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );
    assert_eq!(h["accept-ranges"], "bytes");
    assert!(h["cache-control"].to_str().unwrap().starts_with("private"));
    // What is stored is the photo without its metadata (ffmpeg's comment).
    let served = res.bytes().await.unwrap();
    assert_eq!(served.len() as i64, a["size"].as_i64().unwrap());
    assert!(served.len() < photo.len());
    let says = |bytes: &[u8]| bytes.windows(4).any(|w| w == b"Lavc");
    assert!(says(&photo) && !says(&served));
    // Revalidation answers 304 to a reader, and checks access again.
    let etag = h["etag"].to_str().unwrap().to_owned();
    let again = app
        .api()
        .get(app.url(&url))
        .bearer_auth(&bob)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let thumb = get(&app, Some(&bob), a["thumb"]["url"].as_str().unwrap(), None).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    assert!(thumb.bytes().await.unwrap().len() < photo.len());

    // Whoever may not read the room: 404, as for a file that never was.
    for who in [Some(eve.as_str()), None] {
        assert_eq!(
            get(&app, who, &url, None).await.status(),
            StatusCode::NOT_FOUND
        );
        let res = app
            .api()
            .get(app.url(&url))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let guessed = format!("/files/{}/holiday.png", "A".repeat(22));
    assert_eq!(
        get(&app, Some(&ann), &guessed, None).await.status(),
        StatusCode::NOT_FOUND
    );

    // A reply quotes it as what it is.
    let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
    let res = app
        .post_json_as(
            &bob,
            &format!("/api/v1/rooms/{room}/messages"),
            &json!({"body": "lovely", "nonce": nonce, "reply_to": message["message"]["id"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let reply: Value = res.json().await.unwrap();
    assert_eq!(
        reply["message"]["reply_to"]["excerpt"],
        common::markdown::FILES_ONLY
    );

    // History carries it too.
    let history = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    let shown = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == message["message"]["id"])
        .unwrap();
    assert_eq!(shown["attachments"][0]["url"], url.as_str());
}

#[tokio::test]
async fn ranges_serve_parts_and_refuse_what_is_past_the_end() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let room = app.room(&ann, "lounge").await;
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
    let a = uploaded(
        &app,
        &ann,
        room,
        "data.bin",
        "application/octet-stream",
        bytes.clone(),
    )
    .await;
    assert_eq!(a["kind"], "file");
    let url = a["url"].as_str().unwrap();

    let res = get(&app, Some(&ann), url, Some("bytes=100-199")).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 100-199/5000");
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(res.bytes().await.unwrap(), bytes[100..200]);
    let res = get(&app, Some(&ann), url, Some("bytes=-10")).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap(), bytes[4990..]);
    let res = get(&app, Some(&ann), url, Some("bytes=5000-")).await;
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(res.headers()["content-range"], "bytes */5000");
}

#[tokio::test]
async fn a_voice_note_is_measured_drawn_and_converted_for_players() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let room = app.room(&ann, "lounge").await;
    let media = Media::new();
    let voice = media.voice();
    let spoken = media.seconds_of("voice.wav");

    let a = uploaded(
        &app,
        &ann,
        room,
        "voice-message.webm",
        "audio/webm;codecs=opus",
        voice,
    )
    .await;
    assert_eq!(a["kind"], "audio");
    assert_eq!(a["content_type"], "audio/webm");
    let ms = a["duration_ms"].as_f64().unwrap();
    assert!((ms / 1000.0 - spoken).abs() < 0.1, "{ms} ms for {spoken} s");
    let peaks = a["peaks"].as_array().unwrap();
    assert_eq!(peaks.len(), 48);
    assert!(peaks.iter().any(|p| p == 255), "{peaks:?}");

    // MediaRecorder's WebM has no duration: players get Ogg/Opus that has.
    let play = get(
        &app,
        Some(&ann),
        a["play_url"].as_str().unwrap(),
        Some("bytes=0-"),
    )
    .await;
    assert_eq!(play.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(play.headers()["content-type"], "audio/ogg");
    std::fs::write(media.path("played.ogg"), play.bytes().await.unwrap()).unwrap();
    assert!((media.seconds_of("played.ogg") - spoken).abs() < 0.1);
}

#[tokio::test]
async fn bad_files_are_refused_with_a_reason_and_leave_nothing_behind() {
    let staging = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(Options {
        uploads: Some(website::uploads::UploadConfig {
            max_bytes: 200_000,
            max_files: 3,
            staging_dir: staging.path().to_owned(),
            ..Default::default()
        }),
        ..Options::default()
    })
    .await;
    let (_, ann) = app.person("ann").await;
    let room = app.room(&ann, "lounge").await;
    let media = Media::new();
    let voice = media.voice();

    let refused = |res: reqwest::Response, status: StatusCode, code: &'static str| async move {
        assert_eq!(res.status(), status);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        let message = body["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.ends_with('.'), "a sentence for people: {message}");
        message
    };

    // Over the limit: refused while it streams in.
    let big = vec![7u8; 300_000];
    let message = refused(
        upload(
            &app,
            &ann,
            room,
            vec![("big.bin", "application/octet-stream", big)],
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
    )
    .await;
    assert!(
        message.contains("195 KB") || message.contains("KB"),
        "{message}"
    );
    // A program calling itself a voice message.
    let program = std::fs::read("/bin/true").unwrap();
    refused(
        upload(
            &app,
            &ann,
            room,
            vec![(
                "song.webm",
                "audio/webm",
                program[..100_000.min(program.len())].to_vec(),
            )],
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "file_type",
    )
    .await;
    // A recording cut off in the middle.
    refused(
        upload(
            &app,
            &ann,
            room,
            vec![("cut.webm", "audio/webm", voice[..voice.len() / 2].to_vec())],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "file_invalid",
    )
    .await;
    // A PNG whose header claims 100,000 × 100,000 pixels.
    refused(
        upload(
            &app,
            &ann,
            room,
            vec![("bomb.png", "image/png", png_claiming(100_000, 100_000))],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "file_invalid",
    )
    .await;
    // A zip of a gigabyte of zeros in a few kilobytes.
    refused(
        upload(
            &app,
            &ann,
            room,
            vec![("bomb.zip", "application/zip", zip_bomb(&media))],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "file_invalid",
    )
    .await;
    // A name that is only a path.
    refused(
        upload(
            &app,
            &ann,
            room,
            vec![("../..", "text/plain", b"hello".to_vec())],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "file_name",
    )
    .await;
    // Too many at once.
    let four = (0..4)
        .map(|i| ("a.txt", "text/plain", vec![b'a' + i]))
        .collect();
    refused(
        upload(&app, &ann, room, four).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_files",
    )
    .await;
    // Not a form of files at all.
    let res = app
        .post_json_as(
            &ann,
            &format!("/api/v1/rooms/{room}/attachments"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Nothing half-stored: no staged file, no row, no bytes.
    assert!(
        files_under(staging.path()).is_empty(),
        "{:?}",
        files_under(staging.path())
    );
    assert!(files_under(&app.files_dir.path().join("store")).is_empty());
    let mut conn = app.db.connect().await;
    let pending = common::store::attachments::pending_count(
        &mut conn,
        app.user_id(&ann).await,
        chrono::Utc::now() - chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn names_are_made_safe_and_script_never_runs_inline() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let room = app.room(&ann, "lounge").await;
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    let a = uploaded(
        &app,
        &ann,
        room,
        "..\\..\\evil\u{202e}gvs.svg",
        "image/svg+xml",
        svg,
    )
    .await;
    assert_eq!(a["kind"], "file");
    assert_eq!(a["name"], "evilgvs.svg");
    let res = get(&app, Some(&ann), a["url"].as_str().unwrap(), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
}

#[tokio::test]
async fn an_upload_is_sent_once_by_its_uploader_and_deleting_the_message_deletes_the_file() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    let room = app.room(&ann, "lounge").await;
    let media = Media::new();
    let a = uploaded(&app, &ann, room, "photo.jpg", "image/jpeg", media.photo()).await;
    let id = a["id"].as_str().unwrap();

    // Someone else's upload, or an id never given out: refused, the text kept.
    let res = send_with(&app, &bob, room, "look", &[id]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        crate::helpers::error_code(res).await,
        "attachment_not_found"
    );
    let res = send_with(&app, &ann, room, "look", &["no/such id"]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = send_with(&app, &ann, room, "look", &[id]).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let message_id = res.json::<Value>().await.unwrap()["message"]["id"]
        .as_i64()
        .unwrap();
    // Sent: not again.
    let res = send_with(&app, &ann, room, "look again", &[id]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let url = a["url"].as_str().unwrap();
    assert_eq!(
        get(&app, Some(&bob), url, None).await.status(),
        StatusCode::OK
    );
    let stored = files_under(&app.files_dir.path().join("store"));
    assert_eq!(stored.len(), 2, "the photo and its thumbnail: {stored:?}");

    let res = app
        .request_as(
            reqwest::Method::DELETE,
            &ann,
            &format!("/api/v1/rooms/{room}/messages/{message_id}"),
            None,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    // The link dies with the message; the bytes go at the sweeper's pass.
    assert_eq!(
        get(&app, Some(&ann), url, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let report = files::sweep(
        &app.state.pool,
        &app.state.uploads.files,
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(report.deleted, 2);
    assert!(files_under(&app.files_dir.path().join("store")).is_empty());
    let history = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(history["messages"][0]["deleted"], true);
    assert_eq!(history["messages"][0]["attachments"], Value::Null);
}

#[tokio::test]
async fn the_composer_form_sends_files_without_javascript() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.person("ann").await;
    let room = app.room(&token, "lounge").await;
    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    let csrf = csrf_in(&page).unwrap();
    let media = Media::new();
    let form = Form::new()
        .text("csrf_token", csrf.clone())
        .text("nonce", "form-1")
        .text("reply_to", "")
        .text("body", "the card")
        .part(
            "file",
            Part::bytes(media.photo())
                .file_name("card.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let res = browser
        .post(app.url(&format!("/rooms/{room}/messages")))
        .header("Origin", app.origin())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let history = app
        .get_json_as(&token, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(history["messages"][0]["body"], "the card");
    assert_eq!(history["messages"][0]["attachments"][0]["name"], "card.jpg");

    // A refused file keeps the text and says why.
    let form = Form::new()
        .text("csrf_token", csrf)
        .text("nonce", "form-2")
        .text("body", "my words stay")
        .part(
            "file",
            Part::bytes(std::fs::read("/bin/true").unwrap())
                .file_name("song.mp3")
                .mime_str("audio/mpeg")
                .unwrap(),
        );
    let res = browser
        .post(app.url(&format!("/rooms/{room}/messages")))
        .header("Origin", app.origin())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("my words stay"));
    assert!(page.contains("choose the file again"), "{page}");
}

/// A PNG signature and an IHDR chunk claiming `w` × `h` (with its CRC),
/// then nothing.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip holding 50 MB of zeros (about 50 KB), made by Python's zipfile.
fn zip_bomb(media: &Media) -> Vec<u8> {
    media.run(
        "python3",
        &[
            "-c",
            "import zipfile\nwith zipfile.ZipFile('bomb.zip','w',zipfile.ZIP_DEFLATED) as z:\n  z.writestr('zeros.bin', bytes(50*1024*1024))",
        ],
    );
    std::fs::read(media.path("bomb.zip")).unwrap()
}
