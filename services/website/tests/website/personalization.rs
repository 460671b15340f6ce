//! Personalization: the sidebar ordered by use (or by name, by choice or
//! with personalization off), quick reactions from one's most used emoji,
//! suggested public rooms, the catch-up view; what is learned comes only
//! from the rooms one is in now, and turning it off deletes it.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, csrf_in};
use website::config::Limits;

/// An app that writes every use (no throttle), so a test can make one room
/// used more than another.
async fn eager_app() -> TestApp {
    TestApp::spawn_with(Options {
        limits: Some(Limits {
            usage_write_interval: Duration::ZERO,
            ..Limits::default()
        }),
        ..Options::default()
    })
    .await
}

/// Creates a room with a topic and visibility; its id.
async fn room(app: &TestApp, token: &str, name: &str, topic: &str, visibility: &str) -> i64 {
    let body = json!({"name": name, "topic": topic, "visibility": visibility});
    let res = app.post_json_as(token, "/api/v1/rooms", &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["room"]["id"]
        .as_i64()
        .unwrap()
}

async fn join(app: &TestApp, token: &str, room: i64) {
    let res = app
        .post_json_as(
            token,
            &format!("/api/v1/rooms/{room}/membership"),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
}

/// Sends a message; its id.
async fn say(app: &TestApp, token: &str, room: i64, body: &str) -> i64 {
    let res = app.send_message(token, room, body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["message"]["id"]
        .as_i64()
        .unwrap()
}

async fn react(app: &TestApp, token: &str, room: i64, message: i64, emoji: &str) {
    let path = format!(
        "/api/v1/rooms/{room}/messages/{message}/reactions/{}",
        urlencoding(emoji)
    );
    let res = app
        .api()
        .put(app.url(&path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

fn urlencoding(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Uses a room: moves the read mark to its last seq (what a reader does).
async fn use_room(app: &TestApp, token: &str, room: i64) {
    let last = app
        .get_json_as(token, &format!("/api/v1/rooms/{room}"))
        .await["room"]["last_seq"]
        .as_i64()
        .unwrap();
    let res = app
        .post_json_as(
            token,
            &format!("/api/v1/rooms/{room}/read"),
            &json!({ "seq": last }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

/// The names of my rooms, in the order the API (and the sidebar) gives.
async fn my_rooms(app: &TestApp, token: &str) -> Vec<String> {
    app.get_json_as(token, "/api/v1/me/rooms").await["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["room"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn put_prefs(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.request_as(
        reqwest::Method::PUT,
        token,
        "/api/v1/me/preferences",
        Some(body),
    )
    .await
}

/// Rows of `room_usage` stored for the user.
async fn learned(app: &TestApp, user: i64) -> i64 {
    let mut conn = app.state.pool.get().await.unwrap();
    common::store::usage::stored(&mut conn, user).await.unwrap()
}

async fn suggestions(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.get_as(token, "/api/v1/me/suggestions").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["suggestions"]
        .as_array()
        .unwrap()
        .clone()
}

fn names_of(suggested: &[Value]) -> Vec<String> {
    suggested
        .iter()
        .map(|s| s["room"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Removes a member as a kick does (the store's membership, at once).
async fn kick(app: &TestApp, room: i64, user: i64) {
    let mut conn = app.state.pool.get().await.unwrap();
    assert!(
        common::store::members::remove(&mut conn, room, user)
            .await
            .unwrap()
    );
}

/// The room page's `data-emoji`: the picker's emoji in order.
fn picker_emoji(html: &str) -> Vec<String> {
    let start = html.find("data-emoji=\"").expect("data-emoji") + "data-emoji=\"".len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].split(' ').map(str::to_owned).collect()
}

#[tokio::test]
async fn the_rooms_follow_use_and_turn_alphabetical_by_choice_or_when_off() {
    let app = eager_app().await;
    let ann = app.user_token("ann").await;
    let ann_id = app.user_id(&ann).await;
    let alpha = room(&app, &ann, "alpha", "", "public").await;
    let beta = room(&app, &ann, "Beta", "", "public").await;
    let gamma = room(&app, &ann, "gamma", "", "public").await;
    assert_eq!(my_rooms(&app, &ann).await, ["alpha", "Beta", "gamma"]);

    for _ in 0..3 {
        use_room(&app, &ann, gamma).await;
    }
    use_room(&app, &ann, beta).await;
    assert_eq!(my_rooms(&app, &ann).await, ["gamma", "Beta", "alpha"]);
    assert_eq!(learned(&app, ann_id).await, 2);

    // By choice: alphabetical, and back.
    let res = put_prefs(&app, &ann, &json!({"sidebar_order": "alphabetical"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["preferences"]["sidebar_order"],
        "alphabetical"
    );
    assert_eq!(my_rooms(&app, &ann).await, ["alpha", "Beta", "gamma"]);
    put_prefs(&app, &ann, &json!({"sidebar_order": "usage"})).await;
    assert_eq!(my_rooms(&app, &ann).await, ["gamma", "Beta", "alpha"]);

    // Off: alphabetical whatever sidebar_order says, what was learned is
    // deleted, and nothing more is learned.
    let res = put_prefs(&app, &ann, &json!({"personalization": false})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(learned(&app, ann_id).await, 0);
    assert_eq!(my_rooms(&app, &ann).await, ["alpha", "Beta", "gamma"]);
    use_room(&app, &ann, alpha).await;
    assert_eq!(learned(&app, ann_id).await, 0, "nothing learned while off");

    // On again: learning starts over.
    put_prefs(&app, &ann, &json!({"personalization": true})).await;
    assert_eq!(my_rooms(&app, &ann).await, ["alpha", "Beta", "gamma"]);
    use_room(&app, &ann, beta).await;
    assert_eq!(my_rooms(&app, &ann).await, ["Beta", "alpha", "gamma"]);
}

#[tokio::test]
async fn a_bad_sidebar_order_is_refused_with_its_field() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let res = put_prefs(&app, &ann, &json!({"sidebar_order": "sideways"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_preference");
    assert_eq!(body["error"]["field"], "sidebar_order");
}

#[tokio::test]
async fn uses_are_written_at_most_once_per_interval() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let ann_id = app.user_id(&ann).await;
    let r = room(&app, &ann, "r", "", "public").await;
    say(&app, &ann, r, "one").await;
    say(&app, &ann, r, "two").await;
    use_room(&app, &ann, r).await;
    use_room(&app, &ann, r).await;
    let mut conn = app.state.pool.get().await.unwrap();
    let usage = common::store::usage::of_member(&mut conn, ann_id)
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].opens, 1, "the second use is within the interval");
    assert_eq!(usage[0].posts, 2, "her messages are counted with the use");
}

/// A browser signed in as `name`, and a bearer token for the same user.
async fn person(app: &TestApp, name: &str) -> (Client, String) {
    let browser = app.signed_in_browser(name).await;
    let token = app.login_token(name, "correct horse", &[]).await;
    (browser, token)
}

#[tokio::test]
async fn opening_a_room_page_is_a_use_and_the_settings_switch_forgets() {
    let app = eager_app().await;
    let (ann, ann_token) = person(&app, "ann").await;
    let ann_id = app.user_id(&ann_token).await;
    let a = room(&app, &ann_token, "aaa", "", "public").await;
    let z = room(&app, &ann_token, "zzz", "", "public").await;
    app.html(&ann, &format!("/rooms/{z}")).await;
    assert_eq!(learned(&app, ann_id).await, 1);

    // The sidebar says how it is ordered, and the used room comes first.
    let page = app.html(&ann, "/rooms").await;
    assert!(page.contains("Sorted by use"), "{page}");
    let (zi, ai) = (
        page.find(&format!("data-room-id=\"{z}\"")).unwrap(),
        page.find(&format!("data-room-id=\"{a}\"")).unwrap(),
    );
    assert!(zi < ai, "zzz is used, so first");

    // The settings card says what is stored; unticking the box deletes it.
    let settings = app.html(&ann, "/settings").await;
    assert!(settings.contains("your use of 1 room."), "{settings}");
    let csrf = csrf_in(&settings).unwrap();
    let form = [
        ("csrf_token", csrf.as_str()),
        ("card", "preferences"),
        ("theme", "system"),
        ("time_zone", "UTC"),
        ("clock", "24h"),
        ("density", "comfortable"),
        ("sidebar_order", "usage"),
        ("show_typing", "true"),
    ];
    let res = app.post_form_as(&ann, "/settings/preferences", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(learned(&app, ann_id).await, 0);
    app.html(&ann, &format!("/rooms/{z}")).await;
    assert_eq!(learned(&app, ann_id).await, 0);
    let page = app.html(&ann, "/rooms").await;
    assert!(page.contains("Sorted A–Z"));
    assert!(page.contains("Personalization is off"), "the aside says so");
    let (zi, ai) = (
        page.find(&format!("data-room-id=\"{z}\"")).unwrap(),
        page.find(&format!("data-room-id=\"{a}\"")).unwrap(),
    );
    assert!(ai < zi);
}

#[tokio::test]
async fn quick_reactions_are_my_most_used_emoji_from_rooms_i_am_in() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let (bob, bob_token) = person(&app, "bob").await;
    let bob_id = app.user_id(&bob_token).await;
    let r1 = room(&app, &ann, "one", "", "public").await;
    let r2 = room(&app, &ann, "two", "", "public").await;
    join(&app, &bob_token, r1).await;
    join(&app, &bob_token, r2).await;
    let defaults: Vec<String> = common::emoji::COMMON
        .iter()
        .map(|e| (*e).to_owned())
        .collect();
    assert_eq!(
        picker_emoji(&app.html(&bob, &format!("/rooms/{r1}")).await),
        defaults
    );

    for i in 0..3 {
        let m = say(&app, &ann, r1, &format!("m{i}")).await;
        react(&app, &bob_token, r1, m, "🚀").await;
        if i < 2 {
            react(&app, &bob_token, r1, m, "🦊").await;
        }
    }
    for i in 0..5 {
        let m = say(&app, &ann, r2, &format!("n{i}")).await;
        react(&app, &bob_token, r2, m, "🦀").await;
    }
    let picker = picker_emoji(&app.html(&bob, &format!("/rooms/{r1}")).await);
    assert_eq!(picker[..3], ["🦀", "🚀", "🦊"]);
    assert_eq!(picker.iter().filter(|e| *e == "🚀").count(), 1, "once");
    assert_eq!(picker.len(), defaults.len(), "whole rows");
    assert_eq!(picker[3..], defaults[..9], "then the common ones but 🚀");

    // Out of `two`: its reactions no longer count.
    kick(&app, r2, bob_id).await;
    let picker = picker_emoji(&app.html(&bob, &format!("/rooms/{r1}")).await);
    assert_eq!(picker[..2], ["🚀", "🦊"]);
    assert!(!picker.contains(&"🦀".to_owned()));

    // Off: the defaults.
    put_prefs(&app, &bob_token, &json!({"personalization": false})).await;
    assert_eq!(
        picker_emoji(&app.html(&bob, &format!("/rooms/{r1}")).await),
        defaults
    );
}

#[tokio::test]
async fn suggestions_are_public_rooms_i_am_not_in_nor_banned_from() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let bob = app.user_token("bob").await;
    let cat = app.user_token("cat").await;
    let ann_id = app.user_id(&ann).await;
    let cat_id = app.user_id(&cat).await;

    let rust = room(&app, &ann, "rust", "rust programming language", "public").await;
    join(&app, &bob, rust).await;
    say(&app, &bob, rust, "hello ann").await;
    // Where bob (whom ann talks with) is.
    room(&app, &bob, "gardening", "plants and soil", "public").await;
    // Like her room.
    room(
        &app,
        &cat,
        "rustaceans",
        "rust programming meetups",
        "public",
    )
    .await;
    // Never: private, a DM, one she is in, one she is banned from.
    room(&app, &bob, "secret-rust", "rust programming", "private").await;
    let banned = room(&app, &cat, "rust-club", "rust programming", "public").await;
    {
        let mut conn = app.state.pool.get().await.unwrap();
        common::store::bans::put(&mut conn, banned, ann_id, None, cat_id)
            .await
            .unwrap();
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let dm: Id = diesel::sql_query(
            "INSERT INTO rooms (name, topic, visibility, kind, dm_key) \
             VALUES ('', 'rust programming', 'private', 'dm', 'bob:cat') RETURNING id",
        )
        .get_result(&mut conn)
        .await
        .unwrap();
        let bob_id = app.user_id(&bob).await;
        for u in [bob_id, cat_id] {
            common::store::members::add(&mut conn, dm.id, u, common::access::Role::Member)
                .await
                .unwrap();
        }
    }
    let found = suggestions(&app, &ann).await;
    let mut names = names_of(&found);
    names.sort();
    assert_eq!(names, ["gardening", "rustaceans"], "{found:?}");
    for s in &found {
        assert!(s["score"].as_f64().unwrap() > 0.0);
        assert_eq!(s["room"]["visibility"], "public");
        let reason = s["reason"].as_str().unwrap();
        match s["room"]["name"].as_str().unwrap() {
            "gardening" => assert_eq!(reason, "Someone you talk with is here"),
            _ => assert_eq!(reason, "Like #rust"),
        }
    }

    // Off: nothing.
    put_prefs(&app, &ann, &json!({"personalization": false})).await;
    assert!(suggestions(&app, &ann).await.is_empty());
}

#[tokio::test]
async fn after_a_kick_nothing_of_that_room_feeds_suggestions_or_order() {
    let app = eager_app().await;
    let ann = app.user_token("ann").await;
    let dan = app.user_token("dan").await;
    let eve = app.user_token("eve").await;
    let ann_id = app.user_id(&ann).await;
    let mine = room(&app, &ann, "zz-mine", "", "public").await;
    let knitting = room(&app, &dan, "knitting", "wool and yarn", "public").await;
    join(&app, &ann, knitting).await;
    join(&app, &eve, knitting).await;
    say(&app, &eve, knitting, "merino wool wool").await;
    room(&app, &eve, "crochet", "yarn hooks", "public").await;
    room(&app, &dan, "spinning", "merino fleece", "public").await;
    for _ in 0..3 {
        use_room(&app, &ann, knitting).await;
    }
    use_room(&app, &ann, mine).await;
    assert_eq!(my_rooms(&app, &ann).await, ["knitting", "zz-mine"]);
    let before = names_of(&suggestions(&app, &ann).await);
    assert!(before.contains(&"crochet".to_owned()), "{before:?}");
    assert!(before.contains(&"spinning".to_owned()), "{before:?}");

    kick(&app, knitting, ann_id).await;
    assert!(
        suggestions(&app, &ann).await.is_empty(),
        "neither its people nor its words count"
    );
    assert_eq!(my_rooms(&app, &ann).await, ["zz-mine"]);
    let mut conn = app.state.pool.get().await.unwrap();
    let usage = common::store::usage::of_member(&mut conn, ann_id)
        .await
        .unwrap();
    assert_eq!(usage.len(), 1, "its usage does not count");
    assert_eq!(usage[0].room_id, mine);
}

#[tokio::test]
async fn the_rooms_page_shows_suggestions_with_their_reason() {
    let app = TestApp::spawn().await;
    let (ann, ann_token) = person(&app, "ann").await;
    let bob = app.user_token("bob").await;
    let r = room(&app, &ann_token, "cooking", "recipes", "public").await;
    join(&app, &bob, r).await;
    say(&app, &bob, r, "pasta tonight").await;
    room(&app, &bob, "baking", "bread", "public").await;
    let page = app.html(&ann, "/rooms").await;
    let aside = &page[page.find("Suggested for you").unwrap()..];
    assert!(aside.contains("#baking"), "{aside}");
    assert!(aside.contains("Someone you talk with is here"));
}

#[tokio::test]
async fn catch_up_lists_unread_rooms_mentions_first_and_marks_them_read() {
    let app = TestApp::spawn().await;
    let (ann, ann_token) = person(&app, "ann").await;
    let bob = app.user_token("bob").await;
    let a = room(&app, &ann_token, "aaa", "", "public").await;
    let b = room(&app, &ann_token, "bbb", "", "public").await;
    let c = room(&app, &ann_token, "ccc", "", "public").await;
    for r in [a, b, c] {
        join(&app, &bob, r).await;
    }
    say(&app, &bob, a, "first in aaa").await;
    say(&app, &bob, a, "second in aaa").await;
    say(&app, &bob, b, "hey @ann, look").await;

    let page = app.html(&ann, "/catch-up").await;
    let (ai, bi) = (
        page.find(&format!("id=\"room-{a}\"")).unwrap(),
        page.find(&format!("id=\"room-{b}\"")).unwrap(),
    );
    assert!(bi < ai, "the room that mentions her comes first");
    assert!(
        !page.contains(&format!("id=\"room-{c}\"")),
        "nothing unread"
    );
    assert!(page.contains("hey @ann, look"));
    assert!(page.contains("second in aaa"));
    assert!(page.contains("1 mention"));

    // Mark read, from the view: back to it, without that room.
    let csrf = csrf_in(&page).unwrap();
    let last = app
        .get_json_as(&ann_token, &format!("/api/v1/rooms/{b}"))
        .await["room"]["last_seq"]
        .as_i64()
        .unwrap()
        .to_string();
    let form = [
        ("csrf_token", csrf.as_str()),
        ("seq", last.as_str()),
        ("back", "catch-up"),
    ];
    let res = app
        .post_form_as(&ann, &format!("/rooms/{b}/read"), &form)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        format!("/catch-up#room-{b}").as_str()
    );
    let page = app.html(&ann, "/catch-up").await;
    assert!(!page.contains(&format!("id=\"room-{b}\"")));
    assert!(page.contains(&format!("id=\"room-{a}\"")));
}

#[tokio::test]
async fn signed_out_there_is_nothing_to_personalize() {
    let app = TestApp::spawn().await;
    let res = app
        .browser()
        .get(app.url("/catch-up"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login?next=/catch-up");
    let res = app
        .api()
        .get(app.url("/api/v1/me/suggestions"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_assistant_answering_in_my_rooms_suggests_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let cat = app.user_token("cat").await;
    let mine = room(&app, &ann, "garden", "", "public").await;
    let question = say(&app, &ann, mine, "@assistant what grows in shade?").await;
    // The bot answered here, and is a member of another public room.
    let elsewhere = room(&app, &cat, "robots", "machines", "public").await;
    let bot = {
        let mut conn = app.state.pool.get().await.unwrap();
        let bot = common::store::users::bot(&mut conn).await.unwrap();
        common::store::members::add(&mut conn, elsewhere, bot.id, common::access::Role::Member)
            .await
            .unwrap();
        common::protocol::UserRef {
            id: bot.id,
            name: bot.username,
        }
    };
    app.state
        .messenger
        .answer(&bot, mine, "ai-1", "Ferns and hostas.", question)
        .await
        .unwrap();
    let found = suggestions(&app, &ann).await;
    assert!(
        !names_of(&found).contains(&"robots".to_owned()),
        "the bot is nobody one talks with: {found:?}"
    );
}
