//! Direct messages: one conversation per set of people, hidden from
//! everyone else, refused to whom the other blocked; the pages (profile
//! "Message", the New message form, the sidebar, the room page).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, csrf_in, error_code, field_error};

/// `POST /api/v1/dms` with these names.
async fn dm(app: &TestApp, token: &str, names: &[&str]) -> reqwest::Response {
    app.post_json_as(token, "/api/v1/dms", &json!({ "usernames": names }))
        .await
}

/// The DM's id, which must be answered 201.
async fn dm_id(app: &TestApp, token: &str, names: &[&str]) -> i64 {
    let res = dm(app, token, names).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["room"]["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_same_people_always_get_the_same_conversation() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let bob = app.user_token("bob").await;
    let carl = app.user_token("carl").await;
    app.user_token("dan").await;

    let res = dm(&app, &ann, &["bob"]).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room = res.json::<Value>().await.unwrap()["room"].clone();
    assert_eq!(room["kind"], "dm");
    assert_eq!(room["visibility"], "private");
    assert_eq!(room["name"], "");
    assert_eq!(room["owner"], Value::Null);
    assert_eq!(room["my_role"], "member");
    let people: Vec<&str> = room["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["username"].as_str().unwrap())
        .collect();
    assert_eq!(people, ["ann", "bob"]);
    let one = room["id"].as_i64().unwrap();

    // Either side, any case, repeats and one's own name: the same room.
    assert_eq!(dm_id(&app, &bob, &["ANN"]).await, one);
    assert_eq!(dm_id(&app, &ann, &[" Bob ", "bob", "ann"]).await, one);

    // Another set is another room, whoever starts it and in any order.
    let group = dm_id(&app, &ann, &["bob", "carl"]).await;
    assert_ne!(group, one);
    assert_eq!(dm_id(&app, &carl, &["bob", "Ann"]).await, group);

    // Started at once many times over: still one room.
    let tries = (0..8).map(|_| dm_id(&app, &ann, &["dan"]));
    let ids = futures_util::future::join_all(tries).await;
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let mine = app.get_json_as(&ann, "/api/v1/me/rooms").await;
    assert_eq!(mine["rooms"].as_array().unwrap().len(), 3, "{mine}");
}

#[tokio::test]
async fn too_many_none_or_unknown_people_are_refused_beside_the_field() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let ten: Vec<String> = (0..10).map(|i| format!("user{i}")).collect();
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    let want_size = (
        StatusCode::UNPROCESSABLE_ENTITY,
        "dm_size".to_owned(),
        "usernames".to_owned(),
    );
    assert_eq!(field_error(dm(&app, &ann, &ten).await).await, want_size);
    assert_eq!(field_error(dm(&app, &ann, &[]).await).await, want_size);
    assert_eq!(field_error(dm(&app, &ann, &["ann"]).await).await, want_size);
    assert_eq!(
        field_error(dm(&app, &ann, &["nobody"]).await).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "user_not_found".to_owned(),
            "usernames".to_owned()
        )
    );
    let mine = app.get_json_as(&ann, "/api/v1/me/rooms").await;
    assert_eq!(mine["rooms"], json!([]));
}

#[tokio::test]
async fn whom_someone_blocked_cannot_message_them_nor_write_in_their_dm() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let bob = app.user_token("bob").await;
    app.user_token("carl").await;
    let room = dm_id(&app, &ann, &["bob"]).await;
    assert_eq!(
        app.send_message(&ann, room, "hello").await.status(),
        StatusCode::CREATED
    );

    let res = app
        .call_as(Method::PUT, &bob, "/api/v1/me/blocks/ann")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Starting (or reopening) a conversation with bob: refused.
    let res = dm(&app, &ann, &["bob"]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "blocked");
    let res = dm(&app, &ann, &["bob", "carl"]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "blocked");
    // Writing in the existing one: refused; reading: fine. Bob still writes.
    let res = app.send_message(&ann, room, "still there?").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "blocked");
    let path = format!("/api/v1/rooms/{room}/messages");
    assert_eq!(app.get_as(&ann, &path).await.status(), StatusCode::OK);
    assert_eq!(
        app.send_message(&bob, room, "bye").await.status(),
        StatusCode::CREATED
    );
    // Nothing else was created: ann is in the one DM only.
    let mine = app.get_json_as(&ann, "/api/v1/me/rooms").await;
    assert_eq!(mine["rooms"].as_array().unwrap().len(), 1, "{mine}");

    // Lifted, and ann writes again.
    let res = app
        .call_as(Method::DELETE, &bob, "/api/v1/me/blocks/ann")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.send_message(&ann, room, "hi again").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_dm_is_a_room_that_does_not_exist_for_everyone_else() {
    let app = TestApp::spawn().await;
    let (ann_browser, ann) = app.person("ann").await;
    let bob = app.user_token("bob").await;
    let (carl_browser, carl) = app.person("carl").await;
    let public = app.room(&ann, "lobby").await;
    let room = dm_id(&app, &ann, &["bob"]).await;
    assert_eq!(
        app.send_message(&ann, room, "secret").await.status(),
        StatusCode::CREATED
    );
    let _ = bob;

    // Carl gets exactly what a room that does not exist answers.
    let missing = 999_999;
    for (method, path) in [
        (Method::GET, "/api/v1/rooms/{}"),
        (Method::GET, "/api/v1/rooms/{}/messages"),
        (Method::GET, "/api/v1/rooms/{}/events"),
        (Method::POST, "/api/v1/rooms/{}/membership"),
        (Method::DELETE, "/api/v1/rooms/{}/membership"),
    ] {
        let of = |id: i64| path.replace("{}", &id.to_string());
        let hidden = app.call_as(method.clone(), &carl, &of(room)).await;
        let absent = app.call_as(method.clone(), &carl, &of(missing)).await;
        assert_eq!(hidden.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(absent.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            hidden.text().await.unwrap(),
            absent.text().await.unwrap(),
            "{method} {path}"
        );
    }
    let res = app.send_message(&carl, room, "let me in").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "room_not_found");
    let page = carl_browser
        .get(app.url(&format!("/rooms/{room}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(!page.text().await.unwrap().contains("secret"));

    // Never listed nor found, even by its members.
    for who in [&ann, &carl] {
        for q in ["", "?q=a", "?q=ann", "?q=bob"] {
            let list = app.get_json_as(who, &format!("/api/v1/rooms{q}")).await;
            let ids: Vec<i64> = list["rooms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect();
            assert!(!ids.contains(&room), "{q}: {list}");
        }
    }
    let directory = app.html(&ann_browser, "/rooms").await;
    let listed = &directory[directory.find("<main").unwrap()..];
    assert!(listed.contains(&format!("/rooms/{public}\"")));
    assert!(!listed.contains(&format!("/rooms/{room}\"")));

    // Not a room ann and bob "share" on a profile.
    let profile = app.html(&ann_browser, "/users/bob").await;
    let shared = &profile[profile.find("id=\"shared-heading\"").unwrap()..];
    assert!(!shared.contains(&format!("/rooms/{room}\"")), "{shared}");
    assert!(shared.contains("not in any room together"));
}

#[tokio::test]
async fn members_talk_with_unread_counts_and_the_sidebar_names_the_others() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let (bob_browser, bob) = app.person("bob").await;
    let res = app
        .api()
        .patch(app.url("/api/v1/users/me"))
        .bearer_auth(&ann)
        .json(&json!({"display_name": "Ann Smith"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let room = dm_id(&app, &ann, &["bob"]).await;
    for text in ["one", "two"] {
        assert_eq!(
            app.send_message(&ann, room, text).await.status(),
            StatusCode::CREATED
        );
    }
    let mine = app.get_json_as(&bob, "/api/v1/me/rooms").await;
    let entry = &mine["rooms"][0];
    assert_eq!(entry["room"]["id"], room);
    assert_eq!(entry["unread"], 2);
    let history = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(history["messages"][0]["body"], "two");

    // Bob's sidebar lists it under "Direct messages", by Ann's name.
    let home = app.html(&bob_browser, "/rooms").await;
    let dms = &home[home.find("id=\"my-dms\"").unwrap()..home.find("<main").unwrap()];
    assert!(dms.contains(&format!("href=\"/rooms/{room}\"")), "{dms}");
    assert!(
        dms.contains("<span class=\"label\">Ann Smith</span>"),
        "{dms}"
    );
    assert!(dms.contains("/avatars/ann.svg"));
    assert!(dms.contains(">2<"), "the unread badge: {dms}");
    let rooms = &home[home.find("id=\"my-rooms\"").unwrap()..home.find("id=\"my-dms\"").unwrap()];
    assert!(!rooms.contains(&format!("/rooms/{room}\"")), "{rooms}");

    // The room page is titled after the other person, without room forms.
    let page = app.html(&bob_browser, &format!("/rooms/{room}")).await;
    assert!(page.contains("<title>Ann Smith · Parley</title>"), "{page}");
    assert!(page.contains("data-room-label=\"Ann Smith\""));
    assert!(page.contains("Direct message"));
    assert!(!page.contains("id=\"leave-room\""));
    assert!(!page.contains("id=\"join-room\""));
    assert!(!page.contains("Created by"));
    // Opening it read it.
    let mine = app.get_json_as(&bob, "/api/v1/me/rooms").await;
    assert_eq!(mine["rooms"][0]["unread"], 0);
}

#[tokio::test]
async fn a_profile_message_button_and_the_new_message_form_work_without_scripts() {
    let app = TestApp::spawn().await;
    let (ann_browser, _) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    app.user_token("carl").await;

    let profile = app.html(&ann_browser, "/users/bob").await;
    assert!(profile.contains("id=\"message-user\""));
    assert!(profile.contains("action=\"/dms\""));
    let csrf = csrf_in(&profile).unwrap();
    let res = app
        .post_form_as(
            &ann_browser,
            "/dms",
            &[("usernames", "bob"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let one = dm_id(&app, &bob, &["ann"]).await;
    assert_eq!(location, format!("/rooms/{one}"));
    // No CSRF token: refused.
    let res = app
        .post_form_as(&ann_browser, "/dms", &[("usernames", "bob")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The form: names separated by commas; problems beside the field, as typed.
    let form = app.html(&ann_browser, "/dms/new").await;
    assert!(form.contains("name=\"usernames\""));
    let res = app
        .post_form_as(
            &ann_browser,
            "/dms",
            &[("usernames", "bob, nobody"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("value=\"bob, nobody\""), "{page}");
    assert!(page.contains("No one is called nobody."));
    let res = app
        .post_form_as(
            &ann_browser,
            "/dms",
            &[("usernames", "bob, Carl"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_ne!(res.headers()["location"], location.as_str());

    // Blocked: said beside the field, nothing created.
    let res = app
        .call_as(Method::PUT, &bob, "/api/v1/me/blocks/ann")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .post_form_as(
            &ann_browser,
            "/dms",
            &[("usernames", "bob"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("You cannot message this person"), "{page}");
    assert!(page.contains("value=\"bob\""));
}
