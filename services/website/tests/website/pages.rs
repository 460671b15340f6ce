//! The pages a person uses: landing, rooms, a room, sending without
//! JavaScript, deleting; the 404 page; static files.

use reqwest::StatusCode;

use crate::helpers::{TestApp, csrf_in};

#[tokio::test]
async fn the_landing_page_offers_sign_in_or_the_rooms() {
    let app = TestApp::spawn().await;
    let html = app.html(&app.browser(), "/").await;
    assert!(html.contains("href=\"/register\"") && html.contains("href=\"/login\""));
    let browser = app.signed_in_browser("ann").await;
    let html = app.html(&browser, "/").await;
    assert!(
        html.contains("href=\"/rooms\"")
            && html.contains("Welcome back, <span title=\"@ann\">ann</span>")
    );
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_login_with_next() {
    let app = TestApp::spawn().await;
    for (path, next) in [
        ("/rooms?q=a%20b", "/rooms%3Fq%3Da%2520b"),
        ("/rooms/1", "/rooms/1"),
    ] {
        let res = app.browser().get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            res.headers()["location"],
            format!("/login?next={next}").as_str()
        );
    }
}

#[tokio::test]
async fn rooms_are_created_found_opened_and_deleted_by_their_owner() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let csrf = app.csrf(&ann, "/rooms").await;
    let res = app
        .post_form_as(
            &ann,
            "/rooms",
            &[
                ("name", "Rustaceans"),
                ("topic", "Crabs & <friends>"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/rooms/"));

    let list = app.html(&ann, "/rooms?q=RUSTACEAN").await;
    assert!(list.contains(&format!("href=\"{location}\"")));
    assert!(list.contains("Crabs &#38; &#60;friends&#62;"), "escaped");
    assert!(list.contains("by <span title=\"@ann\">ann</span>") && list.contains("0 messages"));
    let by_topic = app.html(&ann, "/rooms?q=crabs").await;
    assert!(by_topic.contains(&location));
    let none = app.html(&ann, "/rooms?q=zzz").await;
    assert!(none.contains("No room matches"));

    let room = ann.get(app.url(&location)).send().await.unwrap();
    assert_eq!(room.status(), StatusCode::OK);
    let html = room.text().await.unwrap();
    assert!(html.contains("<h1>Rustaceans</h1>") && html.contains("Delete room"));

    let bob = app.signed_in_browser("bob").await;
    let bob_html = app.html(&bob, &location).await;
    assert!(
        !bob_html.contains("Delete room"),
        "only the owner sees delete"
    );
    let bob_csrf = csrf_in(&bob_html).unwrap();
    let res = app
        .post_form_as(
            &bob,
            &format!("{location}/delete"),
            &[("csrf_token", bob_csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("owner can delete it"));

    let csrf = csrf_in(&html).unwrap();
    let res = app
        .post_form_as(&ann, &format!("{location}/delete"), &[("csrf_token", csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/rooms");
    let after = app.html(&ann, "/rooms").await;
    assert!(after.contains("The room was deleted.") && !after.contains(&location));
    assert_eq!(
        ann.get(app.url(&location)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_room_list_shows_seeded_rooms_and_pages_with_a_cursor() {
    // One person creates all 30 rooms: more than a person may by default.
    let app = TestApp::spawn_with(crate::helpers::Options {
        limits: Some(website::config::Limits {
            room_create: common::ratelimit::Limit {
                max: 30,
                ..common::ratelimit::ROOM_CREATE_PER_USER
            },
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let token = app.user_token("ann").await;
    for i in 0..30 {
        app.room(&token, &format!("room-{i:02}")).await;
    }
    let browser = app.signed_in_browser("bob").await;
    let first = app.html(&browser, "/rooms").await;
    assert!(first.contains(">general<") && first.contains("Parley room"));
    let link_end = first.find("\" rel=\"next\"").expect("a next-page link");
    let href = first[..link_end]
        .rsplit("href=\"")
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(href.starts_with("/rooms?q=&cursor="), "{href}");
    let second = app.html(&browser, &href).await;
    assert!(second.contains("First page"));
    let count = |html: &str| html.matches("class=\"room-name\"").count();
    assert_eq!(
        count(&first) + count(&second),
        32,
        "30 rooms + general + random, no overlap"
    );
    let bad = browser
        .get(app.url("/rooms?cursor=%%%"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // The API's limit on the search text holds for the page too.
    let long = format!("/rooms?q={}", "a".repeat(65));
    let bad = browser.get(app.url(&long)).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let longest = format!("/rooms?q={}", "a".repeat(64));
    let ok = browser.get(app.url(&longest)).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn room_forms_reject_bad_names_with_the_input_kept() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let csrf = app.csrf(&ann, "/rooms").await;
    let long = "n".repeat(65);
    let long_topic = "t".repeat(257);
    let cases = [
        ("", "x", StatusCode::BAD_REQUEST, "Give the room a name."),
        (long.as_str(), "x", StatusCode::BAD_REQUEST, "at most 64"),
        (
            "ok",
            long_topic.as_str(),
            StatusCode::BAD_REQUEST,
            "at most 256",
        ),
        (
            "GENERAL",
            "dup",
            StatusCode::CONFLICT,
            "A public room with that name exists.",
        ),
    ];
    for (name, topic, status, message) in cases {
        let res = app
            .post_form_as(
                &ann,
                "/rooms",
                &[("name", name), ("topic", topic), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(res.status(), status, "{name}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{message}");
        assert!(html.contains(&format!("value=\"{topic}\"")), "topic kept");
    }
}

#[tokio::test]
async fn messages_sent_with_the_form_are_there_after_reloading() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let html = app.html(&ann, "/rooms").await;
    let general = html
        .split("href=\"/rooms/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let room_path = format!("/rooms/{general}");
    let page = app.html(&ann, &room_path).await;
    let csrf = csrf_in(&page).unwrap();
    let nonce = page
        .split("name=\"nonce\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let form = [
        ("body", "hello <b>world</b>\r\nsecond line"),
        ("nonce", nonce.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let res = app
        .post_form_as(&ann, &format!("{room_path}/messages"), &form)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        format!("{room_path}#m1").as_str()
    );
    // A double submit of the same form stores nothing new.
    let res = app
        .post_form_as(&ann, &format!("{room_path}/messages"), &form)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        format!("{room_path}#m1").as_str()
    );

    let bob = app.signed_in_browser("bob").await;
    let page = app.html(&bob, &room_path).await;
    assert!(
        page.contains("hello &lt;b&gt;world&lt;/b&gt;<br>") && page.contains("second line"),
        "raw HTML shown as text, the line break kept: {page}"
    );
    assert!(!page.contains("<b>world"));
    assert_eq!(page.matches("data-seq=").count(), 1);
    assert!(page.contains("data-last-seq=\"1\""));
}

#[tokio::test]
async fn bad_messages_come_back_with_the_error_beside_the_field() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let token = app.user_token("owner").await;
    let room = app.room(&token, "talk").await;
    let path = format!("/rooms/{room}");
    let csrf = app.csrf(&ann, &path).await;
    let long = "x".repeat(4001);
    for (body, message) in [
        ("   ", "message body is empty"),
        (long.as_str(), "over 4000"),
        ("bell\u{7}", "control characters"),
    ] {
        let res = app
            .post_form_as(
                &ann,
                &format!("{path}/messages"),
                &[("body", body), ("nonce", "n-1"), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{message}");
        if body.len() > 100 {
            assert!(html.contains(&long), "the text is kept");
        }
    }
    let missing = app
        .post_form_as(
            &ann,
            "/rooms/999999/messages",
            &[("body", "hi"), ("nonce", "n"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_room_page_shows_the_last_50_and_links_to_older_ones() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    let room = app.room(&token, "busy").await;
    let me: serde_json::Value = app
        .get_as(&token, "/api/v1/users/me")
        .await
        .json()
        .await
        .unwrap();
    let mut conn = app.db.connect().await;
    let ann = common::protocol::UserRef {
        id: me["user"]["id"].as_i64().unwrap(),
        name: "ann".into(),
    };
    let drafts: Vec<_> = (1..=60)
        .map(|i| common::store::events::EventDraft {
            user: ann.clone(),
            nonce: common::domain::Nonce::parse(&format!("n{i}")).unwrap(),
            change: common::store::events::Change::Message {
                body: common::domain::MessageBody::parse(&format!("message {i}")).unwrap(),
                html: format!("<p>message {i}</p>"),
                mentions: Vec::new(),
                reply_to: None,
                attachments: Vec::new(),
            },
        })
        .collect();
    common::store::events::append_batch(&mut conn, room, &drafts, &Default::default())
        .await
        .unwrap();
    let browser = app.signed_in_browser("bob").await;
    let html = app.html(&browser, &format!("/rooms/{room}")).await;
    assert_eq!(html.matches("data-seq=").count(), 50);
    assert!(html.contains("id=\"m60\"") && !html.contains("id=\"m10\""));
    let older = format!("/rooms/{room}?before=11");
    assert!(html.contains(&format!("href=\"{older}\"")));
    let html = app.html(&browser, &older).await;
    assert_eq!(html.matches("data-seq=").count(), 10);
    assert!(html.contains("Back to the latest messages") && !html.contains("Older messages"));
}

#[tokio::test]
async fn unknown_paths_get_the_404_page() {
    let app = TestApp::spawn().await;
    for path in ["/nope", "/rooms/abc", "/rooms/1/nope"] {
        let res = app.browser().get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(res.text().await.unwrap().contains("404"));
    }
}

#[tokio::test]
async fn static_files_and_the_favicon_are_served() {
    let app = TestApp::spawn().await;
    for (path, kind) in [
        ("/static/style.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
        ("/favicon.ico", "image/svg+xml"),
        ("/static/register.js", "javascript"),
    ] {
        let res = app.browser().get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains(kind),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_form_send_is_published_for_the_chat_instances_like_a_websocket_send() {
    let app = TestApp::spawn().await;
    let token = app.user_token("owner").await;
    let room = app.room(&token, "live").await;
    let mut published =
        test_support::Subscription::to(&common::fanout::room_channel(&app.redis_prefix, room))
            .await;
    let ann = app.signed_in_browser("ann").await;
    let path = format!("/rooms/{room}");
    let csrf = app.csrf(&ann, &path).await;
    let res = app
        .post_form_as(
            &ann,
            &format!("{path}/messages"),
            &[
                ("body", "from the form"),
                ("nonce", "f-1"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let payload = published
        .next_within(std::time::Duration::from_secs(5))
        .await
        .expect("published");
    let payload = String::from_utf8(payload).unwrap();
    let Some(common::fanout::Envelope::Sequenced { seq, frame }) =
        common::fanout::decode(payload.as_bytes())
    else {
        panic!("not a message envelope: {payload}")
    };
    assert_eq!(seq, 1);
    let frame: serde_json::Value = serde_json::from_str(&payload[frame]).unwrap();
    assert_eq!(
        (
            frame["type"].as_str(),
            frame["body"].as_str(),
            frame["nonce"].as_str()
        ),
        (Some("message"), Some("from the form"), Some("f-1"))
    );
    // Deleting the room is announced on the same channel.
    app.api()
        .delete(app.url(&format!("/api/v1/rooms/{room}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let deleted = published
        .next_within(std::time::Duration::from_secs(5))
        .await
        .expect("published");
    assert_eq!(deleted, b"D");
}

#[tokio::test]
async fn a_form_posted_after_the_session_ended_returns_to_its_page_after_login() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let csrf = app.csrf(&browser, "/login").await;
    let res = browser
        .post(app.url("/rooms/1/messages"))
        .header("referer", format!("{}/rooms/1", app.origin()))
        .form(&[
            ("body", "hi"),
            ("nonce", "n"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login?next=/rooms/1");
    let res = browser
        .post(app.url("/rooms/1/messages"))
        .header("referer", "https://evil.example/rooms/1")
        .form(&[
            ("body", "hi"),
            ("nonce", "n"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/login?next=/rooms");
}
