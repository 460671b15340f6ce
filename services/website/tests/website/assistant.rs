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

/// Starts a chat through the API; its id.
async fn new_chat(app: &TestApp, token: &str, name: Option<&str>) -> i64 {
    let body = match name {
        Some(n) => json!({"name": n}),
        None => json!({}),
    };
    let res = app
        .post_json_as(token, "/api/v1/assistant/chats", &body)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room = res.json::<Value>().await.unwrap()["room"].clone();
    assert_eq!(room["kind"], "assistant");
    assert_eq!(room["visibility"], "private");
    assert_eq!(room["my_role"], "owner");
    room["id"].as_i64().unwrap()
}

/// The part of a page before `<main`: the header and the sidebar.
fn sidebar_of(html: &str) -> &str {
    &html[..html.find("<main").unwrap()]
}

#[tokio::test]
async fn a_chat_is_started_listed_in_my_sidebar_only_renamed_and_deleted_without_javascript() {
    let app = TestApp::spawn().await;
    let (ann_browser, ann) = app.person("ann").await;
    let (bob_browser, _bob) = app.person("bob").await;
    app.room(&ann, "launchpad").await;

    // The page lists nothing yet, and starts a chat with the form.
    let html = app.html(&ann_browser, "/assistant").await;
    assert!(html.contains("id=\"no-chats\""), "{html}");
    assert!(sidebar_of(&html).contains("href=\"/assistant#new-chat\""));
    let csrf = csrf_in(&html).unwrap();
    let res = app
        .post_form_as(
            &ann_browser,
            "/assistant",
            &[("csrf_token", csrf.as_str()), ("name", "Release notes")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let chat: i64 = location.strip_prefix("/rooms/").unwrap().parse().unwrap();

    // The chat's page: its own composer, rename and delete, no members.
    let html = app.html(&ann_browser, &location).await;
    assert!(html.contains("placeholder=\"Ask about your rooms…\""));
    assert!(html.contains(&format!("action=\"/assistant/{chat}/rename\"")));
    assert!(html.contains(&format!("action=\"/assistant/{chat}/delete\"")));
    assert!(!html.contains("id=\"members-link\""), "no members UI");
    assert!(!html.contains("/delete\" class=\"danger\" data-confirm=\"Delete the room"));
    // In Ann's sidebar under Assistant, not among her rooms; never in Bob's.
    let link = format!("href=\"/rooms/{chat}\"");
    let side = sidebar_of(&html);
    let chats_at = side.find("id=\"my-chats\"").unwrap();
    let rooms_at = side.find("id=\"my-rooms\"").unwrap();
    let dms_at = side.find("id=\"my-dms\"").unwrap();
    assert!(
        side.find(&link).unwrap() > chats_at,
        "listed under Assistant"
    );
    assert!(!side[rooms_at..dms_at].contains(&link));
    assert!(side.contains("Release notes"));
    let html = app.html(&bob_browser, "/assistant").await;
    assert!(!html.contains(&link) && !html.contains("Release notes"));
    let html = app.html(&bob_browser, &location).await;
    assert!(!html.contains("Release notes"), "a chat of Ann's is hidden");
    // Listed on the assistant page; never in the directory.
    let html = app.html(&ann_browser, "/assistant").await;
    assert!(html[html.find("<main").unwrap()..].contains(&link));
    let html = app.html(&ann_browser, "/rooms").await;
    assert!(!html[html.find("<main").unwrap()..].contains(&link));

    // Rename: an empty or too long name is said beside the field (422),
    // what was typed kept.
    let csrf = app.csrf(&ann_browser, &location).await;
    for (name, code_words) in [
        ("   ", "Give the chat a name."),
        (&*"x".repeat(65), "at most 64"),
    ] {
        let res = app
            .post_form_as(
                &ann_browser,
                &format!("/assistant/{chat}/rename"),
                &[("csrf_token", csrf.as_str()), ("name", name)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().await.unwrap();
        let error = &html[html.find("id=\"chat-name-error\"").unwrap()..];
        assert!(error[..200].contains(code_words), "{error}");
        assert!(html.contains("id=\"chat-rename\" open"));
        assert!(html.contains(&format!("value=\"{}\"", name)));
    }
    let res = app
        .post_form_as(
            &ann_browser,
            &format!("/assistant/{chat}/rename"),
            &[("csrf_token", csrf.as_str()), ("name", "Shipping")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.html(&ann_browser, &location).await;
    assert!(html.contains("Shipping") && !html.contains("Release notes"));
    // Bob may not rename or delete it: it does not exist for him.
    let bob_csrf = app.csrf(&bob_browser, "/assistant").await;
    for action in ["rename", "delete"] {
        let res = app
            .post_form_as(
                &bob_browser,
                &format!("/assistant/{chat}/{action}"),
                &[("csrf_token", bob_csrf.as_str()), ("name", "mine")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{action}");
    }

    // Delete: gone from the page, the sidebar and the store.
    let res = app
        .post_form_as(
            &ann_browser,
            &format!("/assistant/{chat}/delete"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/assistant");
    let html = app.html(&ann_browser, "/assistant").await;
    assert!(!html.contains(&link), "{html}");
    assert!(html.contains("The chat was deleted."));
    let res = ann_browser.get(app.url(&location)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_chats_api_starts_lists_renames_and_deletes_my_chats_and_hides_others() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    let room = app.room(&ann, "launchpad").await;
    let first = new_chat(&app, &ann, None).await;
    let second = new_chat(&app, &ann, Some("  Deploys  ")).await;
    new_chat(&app, &bob, Some("Bob's")).await;

    // Mine only, newest activity first; the default name.
    let ask = app.send_message(&ann, first, "anything new?").await;
    assert_eq!(ask.status(), StatusCode::CREATED);
    let list = app.get_json_as(&ann, "/api/v1/assistant/chats").await;
    let names: Vec<&str> = list["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["New chat", "Deploys"]);
    // Not in the directory nor among shared rooms' suggestions.
    let dir = app.get_json_as(&ann, "/api/v1/rooms").await;
    assert!(
        dir["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["kind"] == "room")
    );

    // Rename: the name rules, beside `name`.
    let path = format!("/api/v1/assistant/chats/{second}");
    for (name, code) in [("", "name_missing"), (&*"y".repeat(65), "name_length")] {
        let res = app
            .request_as(Method::PATCH, &ann, &path, Some(&json!({"name": name})))
            .await;
        let (status, got, field) = crate::helpers::field_error(res).await;
        assert_eq!(
            (status, got.as_str(), field.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, code, "name")
        );
    }
    let res = app
        .request_as(Method::PATCH, &ann, &path, Some(&json!({"name": "Ops"})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["room"]["name"], "Ops");

    // Someone else's chat, a room that is not a chat, and no room at all
    // answer alike, byte for byte.
    let missing = app
        .request_as(
            Method::PATCH,
            &bob,
            "/api/v1/assistant/chats/987654321",
            Some(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing = missing.text().await.unwrap();
    assert!(missing.contains("room_not_found"));
    for (who, id) in [(&bob, second), (&ann, room)] {
        let res = app
            .request_as(
                Method::PATCH,
                who,
                &format!("/api/v1/assistant/chats/{id}"),
                Some(&json!({"name": "x"})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.text().await.unwrap(), missing);
        let res = app
            .call_as(
                Method::DELETE,
                who,
                &format!("/api/v1/assistant/chats/{id}"),
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let res = app.get_as(&bob, &format!("/api/v1/rooms/{second}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Nobody is invited to a chat.
    let res = app
        .post_json_as(
            &ann,
            &format!("/api/v1/rooms/{second}/invites"),
            &json!({"username": "bob"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Delete.
    let res = app.call_as(Method::DELETE, &ann, &path).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let list = app.get_json_as(&ann, "/api/v1/assistant/chats").await;
    assert_eq!(list["chats"].as_array().unwrap().len(), 1);
    let res = app.get_as(&ann, &format!("/api/v1/rooms/{second}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // In a chat, every message of its owner asks the assistant.
    let (question, _) = self::ask(&app, &ann, first, "what did we decide?").await;
    app.queue_questions().await;
    let job = app
        .get_json_as(&ann, &format!("/api/v1/messages/{question}/assistant"))
        .await;
    assert_eq!(job["job"]["state"], "queued", "{job}");
}
