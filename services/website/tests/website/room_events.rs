//! Room events over HTTP (http.md "Room events over HTTP"): replies, edits,
//! deletions, reactions, the event log, read marks, membership and my rooms;
//! each mistake gets its code and changes nothing; no XSS payload survives
//! into `html`, a stored frame or the room page.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A call with a bearer token: the status and the JSON body (null if none).
async fn call(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.api().request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn send(app: &TestApp, token: &str, room: i64, body: Value) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        token,
        &format!("/api/v1/rooms/{room}/messages"),
        Some(body),
    )
    .await
}

/// Sends and returns the stored message.
async fn say(app: &TestApp, token: &str, room: i64, text: &str) -> Value {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let (status, body) = send(app, token, room, json!({"body": text, "nonce": nonce})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["message"].clone()
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn replies_edits_and_deletions_follow_the_rules() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (app.user_token("ann").await, app.user_token("bob").await);
    let room = app.room(&ann, "r").await;
    let other = app.room(&ann, "other").await;
    let hello = say(&app, &ann, room, "**hello** @bob").await;
    let id = hello["id"].as_i64().unwrap();
    assert_eq!(hello["mentions"].as_array().unwrap().len(), 1);
    assert!(
        hello["html"]
            .as_str()
            .unwrap()
            .contains("<strong>hello</strong>")
    );
    let elsewhere = say(&app, &ann, other, "elsewhere").await["id"]
        .as_i64()
        .unwrap();

    let (status, reply) = send(
        &app,
        &bob,
        room,
        json!({"body": "hi", "nonce": "b1", "reply_to": id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(reply["message"]["reply_to"]["id"], id);
    assert_eq!(reply["message"]["reply_to"]["excerpt"], "hello @bob");
    let (status, body) = send(
        &app,
        &bob,
        room,
        json!({"body": "hi", "nonce": "b2", "reply_to": elsewhere}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "message_not_found")
    );

    let path = format!("/api/v1/rooms/{room}/messages/{id}");
    let edit = |text: &str, nonce: &str| Some(json!({"body": text, "nonce": nonce}));
    let (status, body) = call(&app, Method::PATCH, &bob, &path, edit("mine now", "b3")).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_author"));
    let (status, body) = call(&app, Method::PATCH, &ann, &path, edit("", "a1")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "empty")
    );
    let wrong_room = format!("/api/v1/rooms/{room}/messages/{elsewhere}");
    let (status, body) = call(&app, Method::PATCH, &ann, &wrong_room, edit("x", "a2")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "message_not_found")
    );
    let (status, body) = call(
        &app,
        Method::PATCH,
        &ann,
        &path,
        edit("hello _again_", "a3"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["body"], "hello _again_");
    assert_eq!(body["message"]["html"], "<p>hello <em>again</em></p>");
    assert!(body["message"]["edited_at"].is_string());
    assert_eq!(body["message"]["mentions"], json!([]));

    let (status, body) = call(&app, Method::DELETE, &bob, &path, None).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, _) = call(&app, Method::DELETE, &ann, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&app, Method::DELETE, &ann, &path, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "message_not_found")
    );
    let (status, body) = call(&app, Method::PATCH, &ann, &path, edit("back", "a4")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "message_not_found")
    );

    // History shows the deletion and the reply's quote without the text.
    let history = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["reply_to"]["deleted"], true);
    assert!(messages[0]["reply_to"].get("excerpt").is_none());
    assert_eq!(messages[1]["deleted"], true);
    assert!(messages[1].get("body").is_none() && messages[1].get("html").is_none());
    let room_json = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}"))
        .await;
    assert_eq!(
        (
            room_json["room"]["last_seq"].as_i64(),
            room_json["room"]["message_count"].as_i64()
        ),
        (Some(4), Some(1))
    );
}

#[tokio::test]
async fn the_room_owner_deletes_anyone_s_message_and_a_retry_with_its_key_changes_nothing() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (app.user_token("ann").await, app.user_token("bob").await);
    let room = app.room(&ann, "r").await;
    let id = say(&app, &bob, room, "spam").await["id"].as_i64().unwrap();
    let path = app.url(&format!("/api/v1/rooms/{room}/messages/{id}"));
    for _ in 0..2 {
        let res = app
            .api()
            .delete(&path)
            .bearer_auth(&ann)
            .header("Idempotency-Key", "del-1")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let events = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}/events"))
        .await;
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        2,
        "one deletion"
    );
}

#[tokio::test]
async fn reactions_are_one_per_user_and_emoji_and_answer_the_summary() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (app.user_token("ann").await, app.user_token("bob").await);
    let room = app.room(&ann, "r").await;
    let id = say(&app, &ann, room, "react to me").await["id"]
        .as_i64()
        .unwrap();
    let path = |emoji: &str| {
        format!(
            "/api/v1/rooms/{room}/messages/{id}/reactions/{}",
            urlencode(emoji)
        )
    };
    let (status, body) = call(&app, Method::PUT, &bob, &path("👍"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": true}])
    );
    let (_, body) = call(&app, Method::PUT, &ann, &path("👍"), None).await;
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "count": 2, "me": true}])
    );
    let (_, body) = call(&app, Method::PUT, &ann, &path("👍"), None).await;
    assert_eq!(body["reactions"][0]["count"], 2, "one per user and emoji");
    let (_, body) = call(&app, Method::DELETE, &bob, &path("👍"), None).await;
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": false}])
    );
    for bad in ["a", "👍👍", "", "🙂 "] {
        let (status, body) = call(&app, Method::PUT, &bob, &path(bad), None).await;
        assert!(
            (status == StatusCode::UNPROCESSABLE_ENTITY && code(&body) == "bad_emoji")
                || status == StatusCode::NOT_FOUND,
            "{bad:?}: {status} {body}"
        );
    }
    let (status, body) = call(
        &app,
        Method::PUT,
        &bob,
        &format!("/api/v1/rooms/{room}/messages/999999/reactions/%F0%9F%91%8D"),
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "message_not_found")
    );
    let history = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(
        history["messages"][0]["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": false}])
    );
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn the_event_log_lists_every_change_in_order_as_the_frames() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let room = app.room(&ann, "r").await;
    let id = say(&app, &ann, room, "one").await["id"].as_i64().unwrap();
    say(&app, &ann, room, "two").await;
    let path = format!("/api/v1/rooms/{room}/messages/{id}");
    call(
        &app,
        Method::PATCH,
        &ann,
        &path,
        Some(json!({"body": "one!", "nonce": "e"})),
    )
    .await;
    call(
        &app,
        Method::PUT,
        &ann,
        &format!("{path}/reactions/%F0%9F%8E%89"),
        None,
    )
    .await;
    let all = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}/events"))
        .await;
    let kinds: Vec<(&str, i64)> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["seq"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("message", 1),
            ("message", 2),
            ("edited", 3),
            ("reaction", 4)
        ]
    );
    let page = app
        .get_json_as(
            &ann,
            &format!("/api/v1/rooms/{room}/events?after_seq=2&limit=1"),
        )
        .await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert_eq!(page["events"][0]["seq"], 3);
    for bad in ["limit=0", "limit=1001", "after_seq=-1"] {
        let res = app
            .get_as(&ann, &format!("/api/v1/rooms/{room}/events?{bad}"))
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let res = app.get_as(&ann, "/api/v1/rooms/999999/events").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "room_not_found");
}

#[tokio::test]
async fn read_marks_unread_counts_and_membership() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (app.user_token("ann").await, app.user_token("bob").await);
    let room = app.room(&ann, "r").await;
    let read = |seq: i64| Some(json!({"seq": seq}));
    let read_path = format!("/api/v1/rooms/{room}/read");
    let (status, _) = call(&app, Method::POST, &bob, &read_path, read(0)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not a member");
    let membership = format!("/api/v1/rooms/{room}/membership");
    assert_eq!(
        call(&app, Method::POST, &bob, &membership, None).await.0,
        StatusCode::NO_CONTENT
    );
    say(&app, &ann, room, "one").await;
    say(&app, &ann, room, "two @bob").await;
    say(&app, &ann, room, "three").await;
    let mine = app.get_json_as(&bob, "/api/v1/me/rooms").await;
    let r = &mine["rooms"][0];
    assert_eq!(
        (
            r["room"]["id"].as_i64(),
            r["read_seq"].as_i64(),
            r["unread"].as_i64(),
            r["mentions"].as_i64()
        ),
        (Some(room), Some(0), Some(3), Some(1))
    );
    let (status, body) = call(&app, Method::POST, &bob, &read_path, read(4)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_read_mark")
    );
    assert_eq!(
        call(&app, Method::POST, &bob, &read_path, read(2)).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = call(&app, Method::POST, &bob, &read_path, read(1)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "read_mark_behind")
    );
    assert_eq!(
        call(&app, Method::POST, &bob, &read_path, read(2)).await.0,
        StatusCode::NO_CONTENT,
        "the same mark again is fine"
    );
    let mine = app.get_json_as(&bob, "/api/v1/me/rooms").await;
    assert_eq!(
        (
            mine["rooms"][0]["unread"].as_i64(),
            mine["rooms"][0]["mentions"].as_i64()
        ),
        (Some(1), Some(0))
    );
    // Leaving takes the room out of my rooms; its owner cannot leave.
    assert_eq!(
        call(&app, Method::DELETE, &bob, &membership, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_json_as(&bob, "/api/v1/me/rooms").await["rooms"],
        json!([])
    );
    let (status, body) = call(&app, Method::DELETE, &ann, &membership, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "owner_cannot_leave")
    );
    let (status, body) = call(
        &app,
        Method::POST,
        &bob,
        "/api/v1/rooms/999999/membership",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "room_not_found")
    );
}

#[tokio::test]
async fn no_xss_payload_survives_into_html_frames_or_the_page() {
    let app = TestApp::spawn_with(Options {
        send_limit: Some(10_000),
        ..Options::default()
    })
    .await;
    let ann = app.user_token("ann").await;
    let room = app.room(&ann, "r").await;
    let target = say(&app, &ann, room, "quote me").await["id"]
        .as_i64()
        .unwrap();
    let mut stored = 0;
    for (i, payload) in common::markdown::XSS_PAYLOADS.iter().enumerate() {
        // As a new message, as a reply, and as an edit.
        let (status, sent) = send(
            &app,
            &ann,
            room,
            json!({"body": payload, "nonce": format!("s{i}")}),
        )
        .await;
        if status != StatusCode::CREATED {
            // Refused input (e.g. control characters) stores nothing.
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{payload:?}");
            continue;
        }
        stored += 1;
        let html = sent["message"]["html"].as_str().unwrap();
        assert_eq!(
            common::markdown::unsafe_html_reason(html),
            None,
            "{payload:?} -> {html}"
        );
        let (status, _) = send(
            &app,
            &ann,
            room,
            json!({"body": payload, "nonce": format!("r{i}"), "reply_to": target}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = sent["message"]["id"].as_i64().unwrap();
        let (status, edited) = call(
            &app,
            Method::PATCH,
            &ann,
            &format!("/api/v1/rooms/{room}/messages/{id}"),
            Some(json!({"body": format!("edited {payload}"), "nonce": format!("e{i}")})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        let html = edited["message"]["html"].as_str().unwrap();
        assert_eq!(
            common::markdown::unsafe_html_reason(html),
            None,
            "edit {payload:?} -> {html}"
        );
    }
    assert!(
        stored * 10 >= common::markdown::XSS_PAYLOADS.len() * 9,
        "{stored} stored: the payloads really went through"
    );
    // Every stored frame, as clients get them.
    let mut after = 0;
    loop {
        let page = app
            .get_json_as(
                &ann,
                &format!("/api/v1/rooms/{room}/events?after_seq={after}&limit=1000"),
            )
            .await;
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        for e in events {
            if let Some(html) = e["html"].as_str() {
                assert_eq!(
                    common::markdown::unsafe_html_reason(html),
                    None,
                    "frame {e}"
                );
            }
            after = e["seq"].as_i64().unwrap();
        }
    }
    // The page: each message's HTML is exactly the sanitized HTML (text
    // elsewhere is escaped by the templates), and only our scripts run.
    let browser = app.signed_in_browser("bob").await;
    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    let scripts = page.matches("<script").count();
    let ours = page.matches("<script src=\"/static/").count()
        + page
            .matches("<script type=\"module\" src=\"/static/")
            .count();
    assert!(
        scripts >= 1 && scripts == ours,
        "only our own scripts: {scripts} vs {ours}"
    );
    let history = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}/messages?limit=50"))
        .await;
    for m in history["messages"].as_array().unwrap() {
        if let Some(html) = m["html"].as_str() {
            assert!(page.contains(html), "the page shows {html} as sanitized");
        }
    }
}
