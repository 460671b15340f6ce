//! The assistant as the website shows it: the line under a question it is
//! answering (Reload, Stop) or will not answer (why), Stop through the page
//! and the API, and jobs hidden with their rooms. The worker's own tests
//! cover the answering.

use common::store::assistant::{self, State};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, csrf_in, error_code};

/// Sends `body` and returns the stored message's id.
async fn ask(app: &TestApp, token: &str, room: i64, body: &str) -> (i64, i64) {
    let res = app.send_message(token, room, body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let m = res.json::<Value>().await.unwrap()["message"].clone();
    (m["id"].as_i64().unwrap(), m["seq"].as_i64().unwrap())
}

#[tokio::test]
async fn a_question_shows_answering_with_stop_for_its_asker_until_stopped() {
    let app = TestApp::spawn().await;
    let (ann_browser, ann) = app.person("ann").await;
    let (bob_browser, bob) = app.person("bob").await;
    let room = app.room(&ann, "questions").await;
    let (question, seq) = ask(&app, &ann, room, "@assistant when do we ship?").await;
    let (plain, _) = ask(&app, &ann, room, "no question here").await;
    app.queue_questions().await;

    let html = app.html(&ann_browser, &format!("/rooms/{room}")).await;
    assert!(html.contains("The assistant is answering…"), "{html}");
    assert!(html.contains(&format!("action=\"/messages/{question}/assistant/stop\"")));
    assert!(html.contains(&format!(
        "href=\"/rooms/{room}?at={seq}#m{seq}\" class=\"assistant-reload\""
    )));
    // Bob sees that it is answering, but may not stop Ann's question.
    let html = app.html(&bob_browser, &format!("/rooms/{room}")).await;
    assert!(html.contains("The assistant is answering…"));
    assert!(!html.contains("assistant/stop"));

    // The API says the same.
    let job: Value = app
        .get_json_as(&ann, &format!("/api/v1/messages/{question}/assistant"))
        .await;
    assert_eq!(job["job"]["state"], "queued");
    assert_eq!(job["job"]["can_stop"], true);
    let res = app
        .call_as(
            Method::GET,
            &ann,
            &format!("/api/v1/messages/{plain}/assistant"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "job_not_found");
    let res = app
        .call_as(
            Method::POST,
            &bob,
            &format!("/api/v1/messages/{question}/assistant/stop"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Stop without JavaScript: back to the question.
    let csrf = csrf_in(&app.html(&ann_browser, &format!("/rooms/{room}")).await).unwrap();
    let res = ann_browser
        .post(app.url(&format!("/messages/{question}/assistant/stop")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        format!("/rooms/{room}?at={seq}#m{seq}").as_str()
    );
    let mut conn = app.db.connect().await;
    let id = job["job"]["id"].as_i64().unwrap();
    assert!(assistant::stop_requested(&mut conn, id).await.unwrap());

    // Once it ended (the worker's part), Stop has nothing to stop.
    assistant::finish(&mut conn, id, State::Cancelled, "stopped", None)
        .await
        .unwrap();
    let res = app
        .call_as(
            Method::POST,
            &ann,
            &format!("/api/v1/messages/{question}/assistant/stop"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "job_finished");
    let html = app.html(&ann_browser, &format!("/rooms/{room}")).await;
    assert!(
        html.contains("Stopped before the assistant answered."),
        "{html}"
    );
    assert!(!html.contains("The assistant is answering…"));
}

#[tokio::test]
async fn a_refusal_says_why_and_a_hidden_room_s_job_does_not_exist() {
    let app = TestApp::spawn().await;
    let (ann_browser, ann) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    let body = json!({"name": "board", "topic": "", "visibility": "private"});
    let res = app.post_json_as(&ann, "/api/v1/rooms", &body).await;
    let room = res.json::<Value>().await.unwrap()["room"]["id"]
        .as_i64()
        .unwrap();
    let (question, _) = ask(&app, &ann, room, "@assistant what did we decide?").await;
    app.queue_questions().await;
    let job: Value = app
        .get_json_as(&ann, &format!("/api/v1/messages/{question}/assistant"))
        .await;
    let id = job["job"]["id"].as_i64().unwrap();
    let mut conn = app.db.connect().await;
    assistant::finish(&mut conn, id, State::Refused, "assistant_not_in_room", None)
        .await
        .unwrap();
    let html = app.html(&ann_browser, &format!("/rooms/{room}")).await;
    assert!(html.contains("invite @assistant to ask it here"), "{html}");
    let job: Value = app
        .get_json_as(&ann, &format!("/api/v1/messages/{question}/assistant"))
        .await;
    assert_eq!(job["job"]["code"], "assistant_not_in_room");
    assert_eq!(job["job"]["can_stop"], false);

    // Bob may not read the private room: its job is as missing as none.
    let hidden = app
        .call_as(
            Method::GET,
            &bob,
            &format!("/api/v1/messages/{question}/assistant"),
        )
        .await;
    let missing = app
        .call_as(Method::GET, &bob, "/api/v1/messages/999999/assistant")
        .await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    assert_eq!(hidden.text().await.unwrap(), missing.text().await.unwrap());
}

#[tokio::test]
async fn the_bot_cannot_sign_in() {
    let app = TestApp::spawn().await;
    for login in ["assistant", "assistant@parley.invalid"] {
        let res = app
            .api()
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"login": login, "password": "!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{login}");
    }
}
