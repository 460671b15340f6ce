//! Message search through the API and the page: words, parts of words,
//! links and ids; operators and filters; edits and deletions; and never a
//! message of a room the searcher may not read.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, field_error};

/// The bodies of the hits of `GET /api/v1/search?{query}`, best first.
async fn bodies(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let res = app.get_as(token, &format!("/api/v1/search?{query}")).await;
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    let page: Value = res.json().await.unwrap();
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"]["body"].as_str().unwrap().to_owned())
        .collect()
}

fn q(text: &str) -> String {
    serde_urlencoded::to_string([("q", text)]).unwrap()
}

async fn private_room(app: &TestApp, token: &str, name: &str) -> i64 {
    let body = json!({"name": name, "topic": "", "visibility": "private"});
    let res = app.post_json_as(token, "/api/v1/rooms", &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["room"]["id"]
        .as_i64()
        .unwrap()
}

async fn say(app: &TestApp, token: &str, room: i64, body: &str) -> Value {
    let res = app.send_message(token, room, body).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{body}");
    res.json::<Value>().await.unwrap()["message"].clone()
}

#[tokio::test]
async fn words_parts_of_words_links_and_ids_are_found_and_marked() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let room = app.room(&ann, "ops").await;
    for body in [
        "we deploy tonight",
        "redeploying the cluster",
        "docs at https://example.com/runbooks/restart please",
        "mail ops@example.org for access",
        "incident INC-2041 is closed",
        "Привет, команда",
        "lunch at noon?",
        "<script>alert(1)</script> deploy",
    ] {
        say(&app, &ann, room, body).await;
    }
    app.index().await;

    // Whole words rank first; a part of a word is found after them.
    let found = bodies(&app, &ann, &q("deploy")).await;
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[2], "redeploying the cluster");
    assert_eq!(bodies(&app, &ann, &q("runbooks/restart")).await.len(), 1);
    assert_eq!(
        bodies(&app, &ann, &q("ops@example.org")).await,
        ["mail ops@example.org for access"]
    );
    assert_eq!(
        bodies(&app, &ann, &q("INC-2041")).await,
        ["incident INC-2041 is closed"]
    );
    assert_eq!(bodies(&app, &ann, &q("привет")).await, ["Привет, команда"]);
    // Operators: a phrase, a left-out word, or.
    assert_eq!(
        bodies(&app, &ann, &q("\"at noon\"")).await,
        ["lunch at noon?"]
    );
    assert_eq!(
        bodies(&app, &ann, &q("deploy -tonight -cluster")).await,
        ["<script>alert(1)</script> deploy"]
    );
    assert_eq!(bodies(&app, &ann, &q("noon or команда")).await.len(), 2);
    assert!(bodies(&app, &ann, &q("nothing-like-this")).await.is_empty());

    // The snippet is escaped text with the matches marked.
    let page: Value = app
        .get_json_as(&ann, &format!("/api/v1/search?{}", q("alert")))
        .await;
    let snippet = page["results"][0]["snippet"].as_str().unwrap();
    assert_eq!(
        snippet,
        "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt; deploy"
    );
    assert_eq!(page["results"][0]["room"]["title"], "ops");
}

#[tokio::test]
async fn an_edit_is_found_by_its_new_words_and_a_deleted_message_never() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let room = app.room(&ann, "edits").await;
    let edited = say(&app, &ann, room, "the old wording").await;
    let deleted = say(&app, &ann, room, "a regrettable remark").await;
    app.index().await;
    assert_eq!(bodies(&app, &ann, &q("wording")).await.len(), 1);
    assert_eq!(bodies(&app, &ann, &q("regrettable")).await.len(), 1);

    let id = edited["id"].as_i64().unwrap();
    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            &format!("/api/v1/rooms/{room}/messages/{id}"),
            Some(&json!({"body": "the fresh phrasing", "nonce": "edit-1"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let id = deleted["id"].as_i64().unwrap();
    let res = app
        .call_as(
            Method::DELETE,
            &ann,
            &format!("/api/v1/rooms/{room}/messages/{id}"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Deleted: gone at once, before the follower runs.
    assert!(bodies(&app, &ann, &q("regrettable")).await.is_empty());
    app.index().await;
    assert!(bodies(&app, &ann, &q("wording")).await.is_empty());
    assert_eq!(
        bodies(&app, &ann, &q("phrasing")).await,
        ["the fresh phrasing"]
    );
    assert!(bodies(&app, &ann, &q("regrettable")).await.is_empty());
}

#[tokio::test]
async fn private_rooms_dms_and_bans_keep_their_text_from_whoever_may_not_read_it() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    let (_, cat) = app.person("cat").await;
    let bob_id = app.user_id(&bob).await;
    let public = app.room(&ann, "open plan").await;
    let private = private_room(&app, &ann, "board").await;
    let res = app
        .post_json_as(&ann, "/api/v1/dms", &json!({"usernames": ["cat"]}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let dm = res.json::<Value>().await.unwrap()["room"]["id"]
        .as_i64()
        .unwrap();
    say(&app, &ann, public, "canary-public").await;
    say(&app, &ann, private, "canary-private").await;
    say(&app, &ann, dm, "canary-dm").await;
    app.index().await;

    let mut all = bodies(&app, &ann, &q("canary")).await;
    all.sort();
    assert_eq!(all, ["canary-dm", "canary-private", "canary-public"]);
    assert_eq!(bodies(&app, &bob, &q("canary")).await, ["canary-public"]);
    assert_eq!(
        bodies(&app, &cat, &q("canary")).await,
        ["canary-dm", "canary-public"]
    );

    // A hidden room as a filter answers exactly like a missing one.
    let hidden = app
        .get_as(&bob, &format!("/api/v1/search?q=canary&room={private}"))
        .await;
    let missing = app
        .get_as(&bob, "/api/v1/search?q=canary&room=999999")
        .await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    assert_eq!(hidden.text().await.unwrap(), missing.text().await.unwrap());

    // Banned from the public room: its text is no longer Bob's to find.
    let res = app
        .post_json_as(
            &ann,
            &format!("/api/v1/rooms/{public}/bans"),
            &json!({"user_id": bob_id}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert!(bodies(&app, &bob, &q("canary")).await.is_empty());
}

#[tokio::test]
async fn filters_narrow_by_room_person_date_and_replies() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    let one = app.room(&ann, "first").await;
    let two = app.room(&ann, "second").await;
    let asked = say(&app, &ann, one, "release plan?").await;
    say(&app, &bob, two, "release notes").await;
    let res = app
        .post_json_as(
            &bob,
            &format!("/api/v1/rooms/{one}/messages"),
            &json!({"body": "friday", "nonce": "r1", "reply_to": asked["id"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.index().await;

    assert_eq!(
        bodies(&app, &ann, &format!("q=release&room={two}")).await,
        ["release notes"]
    );
    assert_eq!(
        bodies(&app, &ann, "q=release&from=ann").await,
        ["release plan?"]
    );
    assert_eq!(
        bodies(&app, &ann, "q=release&has=reply").await,
        ["release plan?"]
    );
    assert!(
        bodies(&app, &ann, "q=release&after=2999-01-01")
            .await
            .is_empty()
    );
    assert_eq!(
        bodies(&app, &ann, "q=release&before=2999-01-01")
            .await
            .len(),
        2
    );

    // Paging: one at a time, then no more.
    let first: Value = app
        .get_json_as(&ann, "/api/v1/search?q=release&limit=1")
        .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get_json_as(
            &ann,
            &format!("/api/v1/search?q=release&limit=1&cursor={cursor}"),
        )
        .await;
    assert!(second["next_cursor"].is_null());
    assert_ne!(
        first["results"][0]["message"]["id"],
        second["results"][0]["message"]["id"]
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_error_beside_its_field() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    for (query, field, code) in [
        ("q=", "q", "bad_query"),
        ("q=%20%20", "q", "bad_query"),
        (&format!("q={}", "x".repeat(257)) as &str, "q", "bad_query"),
        ("q=a&limit=0", "limit", "bad_limit"),
        ("q=a&cursor=nope", "cursor", "bad_cursor"),
        ("q=a&after=yesterday", "after", "bad_date"),
        ("q=a&has=attachments", "has", "bad_filter"),
        ("q=a&from=nobody", "from", "user_not_found"),
    ] {
        let res = app.get_as(&ann, &format!("/api/v1/search?{query}")).await;
        let (status, got_code, got_field) = field_error(res).await;
        assert_eq!(
            (status, got_field.as_str(), got_code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, field, code),
            "{query}"
        );
    }
    let res = app
        .api()
        .get(app.url("/api/v1/search?q=a"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_page_finds_marks_and_opens_the_room_at_the_message() {
    let app = TestApp::spawn_with(Options {
        send_limit: Some(1000),
        ..Options::default()
    })
    .await;
    let (browser, ann) = app.person("ann").await;
    let room = app.room(&ann, "garden").await;
    for i in 0..80 {
        say(&app, &ann, room, &format!("filler {i}")).await;
    }
    let target = say(&app, &ann, room, "the tomato <b>harvest</b> is in").await;
    for i in 0..80 {
        say(&app, &ann, room, &format!("later {i}")).await;
    }
    app.index().await;
    let seq = target["seq"].as_i64().unwrap();

    let html = app.html(&browser, "/search?q=harvest").await;
    assert!(html.contains("<mark>harvest</mark>"), "{html}");
    assert!(html.contains("&lt;b&gt;"), "the snippet is escaped");
    let link = format!("/rooms/{room}?at={seq}#m{seq}");
    assert!(html.contains(&link), "{html}");

    // The room opens with the message among the history around it.
    let html = app.html(&browser, &format!("/rooms/{room}?at={seq}")).await;
    assert!(
        html.contains(&format!("id=\"m{seq}\"")),
        "the message is on the page"
    );
    assert!(html.contains("Back to the latest messages"));
    assert!(html.contains(&format!("id=\"m{}\"", seq - 20)));
    assert!(html.contains(&format!("id=\"m{}\"", seq + 20)));

    // Nothing asked: the form and a hint; a bad field: said beside it.
    let html = app.html(&browser, "/search").await;
    assert!(html.contains("Search every room you can read"));
    let res = browser
        .get(app.url("/search?q=a&after=soon"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("after must be a date"), "{html}");
    assert!(html.contains("value=\"soon\""), "what was typed stays");
}

#[tokio::test]
async fn a_paraphrase_is_found_through_the_worker_and_without_it_words_still_are() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let worker_url = format!("http://{}", listener.local_addr().unwrap());
    let app = TestApp::spawn_with(Options {
        worker_url: Some(worker_url),
        ..Options::default()
    })
    .await;
    let (_, ann) = app.person("ann").await;
    let room = app.room(&ann, "release train").await;
    let ship = say(&app, &ann, room, "What time do we ship the release?").await;
    say(&app, &ann, room, "The cat sleeps on the sofa").await;
    let config = worker::config::WorkerConfig {
        common: app.state.config.common.clone(),
        follow: worker::config::FollowConfig {
            interval: std::time::Duration::from_millis(20),
            ..Default::default()
        },
        assistant: Default::default(),
        semantic: Default::default(),
        transcribe: worker::config::TranscribeConfig {
            mode: worker::config::Transcribe::Off,
            ..Default::default()
        },
        // The website's own store: the worker shares it.
        files: app.state.config.files.clone(),
        sweep: Default::default(),
    };
    let worker = worker::Worker::start(&config, listener).await.unwrap();

    // No word in common with the message: found by meaning, once embedded.
    let query = format!("/api/v1/search?{}", q("when is the deploy scheduled"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let page = loop {
        let page: Value = app.get_json_as(&ann, &query).await;
        if page["results"].as_array().is_some_and(|r| !r.is_empty()) {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "never found: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(page["semantic"], true);
    assert_eq!(page["results"][0]["message"]["id"], ship["id"]);
    assert_eq!(
        page["results"].as_array().unwrap().len(),
        1,
        "the cat is not near"
    );

    worker.shutdown().await;

    // A website whose worker is down: words alone, and it says so (never
    // a 5xx).
    let nobody = format!("http://127.0.0.1:{}", test_support::free_port());
    let alone = TestApp::spawn_with(Options {
        db: Some(app.db.clone()),
        redis_prefix: Some(app.redis_prefix.clone()),
        key_b64: Some(app.key_b64.clone()),
        worker_url: Some(nobody),
        ..Options::default()
    })
    .await;
    let res = alone.get_as(&ann, &query).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["semantic"], false);
    assert!(page["results"].as_array().unwrap().is_empty());
    assert_eq!(
        bodies(&alone, &ann, &q("ship")).await,
        ["What time do we ship the release?"]
    );
}
