//! Emotion tags on the website (issue 12): the marker on a message (and
//! not for whom hides them), the room's mood as a page with its chart and
//! as JSON, the preferences, and the owner's switch. Tags are appended as
//! the worker appends them: bot annotation events through the log's write
//! path (the worker's own tests cover how it decides them).

use common::store::events::{self, Policy};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, csrf_in, field_error};

/// Tags message `id` of `room` with `labels`, strongest first.
async fn tag(app: &TestApp, room: i64, id: i64, labels: &[(&str, f32)]) {
    let mut conn = app.db.connect().await;
    let bot = test_support::store::bot(&mut conn).await;
    let nonce = format!("emotion-{id}-{}", uuid::Uuid::new_v4().simple());
    let draft = test_support::store::emotion_tag(&bot, id, &nonce, labels, "emotion-v1");
    let done = events::append_batch(&mut conn, room, &[draft], &Policy::default())
        .await
        .unwrap();
    assert!(done[0].is_ok(), "{done:?}");
}

/// Sends `body` to `room` and returns the message's id.
async fn said(app: &TestApp, token: &str, room: i64, body: &str) -> i64 {
    let res = app.send_message(token, room, body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["message"]["id"]
        .as_i64()
        .unwrap()
}

/// The mood chart of a page (its SVG, without the meters around it).
fn chart_of(page: &str) -> &str {
    let start = page.find(r#"<svg class="mood-chart""#).expect("a chart");
    let end = page[start..].find("</svg>").expect("its end") + start;
    &page[start..end]
}

/// A room with three tagged messages: joy (strong), anger, neutral.
async fn seeded(app: &TestApp, token: &str) -> (i64, Vec<i64>) {
    let room = app.room(token, "lounge").await;
    let ids = vec![
        said(app, token, room, "What wonderful news, congratulations!").await,
        said(app, token, room, "This is infuriating").await,
        said(app, token, room, "The meeting is at noon").await,
    ];
    tag(app, room, ids[0], &[("joy", 0.93), ("surprise", 0.41)]).await;
    tag(app, room, ids[1], &[("anger", 0.71)]).await;
    tag(app, room, ids[2], &[("neutral", 0.88)]).await;
    (room, ids)
}

#[tokio::test]
async fn a_tagged_message_shows_its_marker_with_the_scores_unless_the_reader_hides_them() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.person("ann").await;
    let (room, ids) = seeded(&app, &token).await;
    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    let at = page.find(&format!("data-id=\"{}\"", ids[0])).unwrap();
    let joy = &page[at..at + page[at..].find("</li>").unwrap()];
    assert!(joy.contains(r#"class="mood""#), "{joy}");
    assert!(joy.contains(r#"data-emotion="joy""#), "{joy}");
    assert!(joy.contains("Joy 93% · Surprise 41%"), "{joy}");
    assert!(joy.contains("😊"));
    // Neutral shows no marker.
    let at = page.find(&format!("data-id=\"{}\"", ids[2])).unwrap();
    let neutral = &page[at..at + page[at..].find("</li>").unwrap()];
    assert!(!neutral.contains("class=\"mood\""), "{neutral}");
    // The mood panel: mostly joy and anger beside the neutral.
    assert!(page.contains(r#"id="room-mood""#));
    assert!(page.contains(r#"href="/rooms/"#) && page.contains("/mood\" id=\"mood-link\""));

    let res = app
        .request_as(
            reqwest::Method::PUT,
            &token,
            "/api/v1/me/preferences",
            Some(&json!({"show_emotions": false})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["preferences"]["show_emotions"], false);
    assert_eq!(body["preferences"]["emotion_tagging"], true);
    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    assert!(!page.contains(r#"class="mood""#));
    assert!(!page.contains(r#"id="room-mood""#));
    assert!(
        page.contains(r#"data-emotions="false""#),
        "the script hides live tags too"
    );
    // History over the API still carries the tags: hiding is the reader's view.
    let history = app
        .get_json_as(&token, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    let tagged = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == ids[1])
        .unwrap();
    assert_eq!(
        tagged["annotations"][0],
        json!({"room": room, "seq": 5, "id": ids[1], "kind": "emotion",
               "labels": [{"label": "anger", "score": 0.71}], "model": "emotion-v1"})
    );
}

#[tokio::test]
async fn the_mood_page_draws_the_chart_the_mix_and_the_messages_that_moved_it() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.person("ann").await;
    let (room, ids) = seeded(&app, &token).await;
    let page = app
        .html(&browser, &format!("/rooms/{room}/mood?by=hour"))
        .await;
    let chart = chart_of(&page);
    assert_eq!(chart.matches(r#"<rect class="e-"#).count(), 3, "{chart}");
    for emotion in ["joy", "anger", "neutral"] {
        assert!(
            chart.contains(&format!(r#"<rect class="e-{emotion}""#)),
            "{emotion}"
        );
    }
    assert!(page.contains("over the last 3 tagged messages"), "{page}");
    assert!(page.contains(r#"aria-current="page">Hours"#));
    // The strongest first, neutral left out, each linked to its place.
    let joy = page.find(&format!("?at={}#m", 1)).unwrap_or(usize::MAX);
    let anger = page.find(&format!("?at={}#m", 2)).unwrap_or(usize::MAX);
    assert!(joy < anger && anger < usize::MAX, "{page}");
    assert!(!page.contains("?at=3#m3"));
    // Days and weeks draw the same messages in one bar.
    for by in ["day", "week"] {
        let page = app
            .html(&browser, &format!("/rooms/{room}/mood?by={by}"))
            .await;
        assert_eq!(
            chart_of(&page).matches(r#"<rect class="e-"#).count(),
            3,
            "{by}"
        );
    }
    let res = browser
        .get(app.url(&format!("/rooms/{room}/mood?by=month")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("by is hour, day or week")
    );

    let mood = app
        .get_json_as(&token, &format!("/api/v1/rooms/{room}/mood?by=hour"))
        .await;
    let mood = &mood["mood"];
    assert_eq!(mood["by"], "hour");
    assert_eq!(mood["tagging"], true);
    assert_eq!(mood["buckets"].as_array().unwrap().len(), 24);
    let last = &mood["buckets"][23];
    assert_eq!(last["total"], 3);
    assert_eq!(last["counts"]["joy"], 1);
    assert_eq!(last["counts"]["disgust"], 0);
    assert_eq!(
        mood["now"],
        json!({"window": 3, "dominant": "anger",
        "counts": {"anger": 1, "disgust": 0, "fear": 0, "joy": 1, "neutral": 1, "sadness": 0, "surprise": 0}})
    );
    let movers: Vec<i64> = mood["movers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(movers, vec![ids[0], ids[1]]);
    assert_eq!(mood["movers"][0]["emotion"], "joy");
    let res = app
        .get_as(&token, &format!("/api/v1/rooms/{room}/mood?by=year"))
        .await;
    let (status, code, field) = field_error(res).await;
    assert_eq!(
        (status, code.as_str(), field.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_filter", "by")
    );
}

#[tokio::test]
async fn the_owner_turns_tags_off_for_the_room_in_its_settings() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.person("ann").await;
    let (room, _) = seeded(&app, &token).await;
    let members = format!("/rooms/{room}/members");
    let page = app.html(&browser, &members).await;
    assert!(
        page.contains(r#"name="emotions" value="true" checked"#),
        "{page}"
    );
    let csrf = csrf_in(&page).unwrap();
    let res = browser
        .post(app.url(&format!("/rooms/{room}/settings")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("topic", "all about lounge"),
            ("emotions_shown", "1"),
            ("nonce", "n-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let got = app
        .get_json_as(&token, &format!("/api/v1/rooms/{room}"))
        .await;
    assert_eq!(got["room"]["emotions"], false);
    let page = app.html(&browser, &members).await;
    assert!(page.contains(r#"name="emotions" value="true">"#), "{page}");
    let page = app.html(&browser, &format!("/rooms/{room}")).await;
    assert!(
        !page.contains(r#"id="room-mood""#),
        "no panel with tags off"
    );
    let mood = app.html(&browser, &format!("/rooms/{room}/mood")).await;
    assert!(mood.contains(r#"id="tagging-off""#));
    // Back on through the API.
    let res = app
        .request_as(
            reqwest::Method::PATCH,
            &token,
            &format!("/api/v1/rooms/{room}"),
            Some(&json!({"emotions": true})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["room"]["emotions"], true);
}

#[tokio::test]
async fn the_settings_card_saves_both_emotion_choices() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.person("ann").await;
    let page = app.html(&browser, "/settings").await;
    assert!(page.contains(r#"name="emotion_tagging" value="true" checked"#));
    assert!(page.contains(r#"name="show_emotions" value="true" checked"#));
    let csrf = csrf_in(&page).unwrap();
    let res = browser
        .post(app.url("/settings/preferences"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("card", "preferences"),
            ("theme", "system"),
            ("time_zone", "UTC"),
            ("clock", "24h"),
            ("density", "comfortable"),
            ("notify_default", "mentions"),
            ("sidebar_order", "usage"),
            ("show_emotions", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let prefs = app.get_json_as(&token, "/api/v1/me/preferences").await;
    assert_eq!(prefs["preferences"]["emotion_tagging"], false);
    assert_eq!(prefs["preferences"]["show_emotions"], true);
}
