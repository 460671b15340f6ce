//! People and rooms through the API: private rooms, invitations, roles and
//! moderation, with the answers http.md gives for each mistake.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

async fn private_room(app: &TestApp, token: &str, name: &str) -> i64 {
    let body = json!({"name": name, "topic": "hush", "visibility": "private"});
    let res = app.post_json_as(token, "/api/v1/rooms", &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room: Value = res.json().await.unwrap();
    assert_eq!(room["room"]["visibility"], "private");
    assert_eq!(room["room"]["my_role"], "owner");
    room["room"]["id"].as_i64().unwrap()
}

/// Status and body of a GET, to compare answers byte for byte.
async fn answer(app: &TestApp, token: &str, path: &str) -> (StatusCode, String) {
    let res = app.get_as(token, path).await;
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn a_private_room_answers_a_non_member_exactly_like_a_missing_one() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let eve = app.user_token("eve").await;
    let room = private_room(&app, &ann, "secret plans").await;
    assert_eq!(
        app.send_message(&ann, room, "the plan").await.status(),
        StatusCode::CREATED
    );
    let missing = room + 1000;
    for path in [
        "/api/v1/rooms/{}",
        "/api/v1/rooms/{}/messages",
        "/api/v1/rooms/{}/events",
        "/api/v1/rooms/{}/members",
        "/api/v1/rooms/{}/moderation",
        "/api/v1/rooms/{}/invites",
    ] {
        let hidden = answer(&app, &eve, &path.replace("{}", &room.to_string())).await;
        let absent = answer(&app, &eve, &path.replace("{}", &missing.to_string())).await;
        assert_eq!(hidden.0, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(hidden, absent, "{path}");
    }
    // Writing, joining, reading marks: the same 404 as for no room.
    let res = app.send_message(&eve, room, "let me in").await;
    assert_eq!(error_code(res).await, "room_not_found");
    let res = app
        .post_json_as(
            &eve,
            &format!("/api/v1/rooms/{room}/membership"),
            &json!({}),
        )
        .await;
    assert_eq!(error_code(res).await, "room_not_found");
    let res = app
        .post_json_as(
            &eve,
            &format!("/api/v1/rooms/{room}/read"),
            &json!({"seq": 1}),
        )
        .await;
    assert_eq!(error_code(res).await, "room_not_found");
    // Not listed, not found by search, and its name does not clash.
    let list = app.get_json_as(&eve, "/api/v1/rooms?q=secret").await;
    assert_eq!(list["rooms"], json!([]));
    let mine = app.room(&eve, "secret plans").await;
    assert_ne!(mine, room);
    // The owner sees it, in their rooms too.
    let got = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}"))
        .await;
    assert_eq!(got["room"]["name"], "secret plans");
    let my_rooms = app.get_json_as(&ann, "/api/v1/me/rooms").await;
    assert!(my_rooms.to_string().contains("secret plans"));
}

#[tokio::test]
async fn invitations_by_name_are_accepted_or_declined_with_clear_mistakes() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let bob = app.user_token("bob").await;
    let cy = app.user_token("cyd").await;
    let room = private_room(&app, &ann, "club").await;
    let invite = |who: &'static str| {
        let app = &app;
        let ann = ann.clone();
        async move {
            app.post_json_as(
                &ann,
                &format!("/api/v1/rooms/{room}/invites"),
                &json!({"username": who}),
            )
            .await
        }
    };
    assert_eq!(error_code(invite("nobody").await).await, "user_not_found");
    assert_eq!(error_code(invite("ANN").await).await, "self_invite");
    let res = invite("bob").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert!(body["invite"]["url"].is_null());
    assert_eq!(invite("cyd").await.status(), StatusCode::CREATED);
    // Bob sees it waiting, with the room's name, and accepts.
    let pending = app.get_json_as(&bob, "/api/v1/me/invites").await;
    assert_eq!(pending["invites"][0]["room"]["name"], "club");
    let res = app
        .post_json_as(
            &bob,
            &format!("/api/v1/me/invites/{room}/accept"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["room"]["my_role"], "member");
    assert_eq!(
        app.send_message(&bob, room, "hi all").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(error_code(invite("bob").await).await, "already_member");
    // Cy declines: still out, and the invitation is gone.
    let res = app
        .call_as(Method::DELETE, &cy, &format!("/api/v1/me/invites/{room}"))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as(&cy, &format!("/api/v1/rooms/{room}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let res = app
        .post_json_as(
            &cy,
            &format!("/api/v1/me/invites/{room}/accept"),
            &json!({}),
        )
        .await;
    assert_eq!(error_code(res).await, "room_not_found");
    // Neither side of the body: a clear 422.
    let res = app
        .post_json_as(&ann, &format!("/api/v1/rooms/{room}/invites"), &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn invite_links_expire_run_out_and_are_revoked() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let room = private_room(&app, &ann, "club").await;
    let link = |terms: Value| {
        let app = &app;
        let ann = ann.clone();
        async move {
            app.post_json_as(
                &ann,
                &format!("/api/v1/rooms/{room}/invites"),
                &json!({ "link": terms }),
            )
            .await
        }
    };
    assert_eq!(
        error_code(link(json!({"expires_in_secs": 10})).await).await,
        "bad_duration"
    );
    assert_eq!(
        error_code(link(json!({"expires_in_secs": 3600, "max_uses": 0})).await).await,
        "bad_max_uses"
    );
    let res = link(json!({"expires_in_secs": 3600, "max_uses": 2})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    let url = body["invite"]["url"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert!(url.starts_with(&app.origin()), "{url}");
    // Five people at once: exactly two get in.
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(app.user_token(&format!("guest{i}")).await);
    }
    let accept_path = format!("/api/v1/invites/{token}/accept");
    let empty = json!({});
    let accepts = people
        .iter()
        .map(|t| app.post_json_as(t, &accept_path, &empty));
    let answers = futures_util::future::join_all(accepts).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 410, 410, 410]);
    let members = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}/members"))
        .await;
    assert_eq!(members["members"].as_array().unwrap().len(), 3);
    // Someone already in, using it again, is answered the room (no use);
    // someone left out is still left out.
    let first_out = answers
        .iter()
        .position(|r| r.status() == StatusCode::GONE)
        .unwrap();
    let again = app
        .post_json_as(&people[first_out], &accept_path, &empty)
        .await;
    let first_in = answers
        .iter()
        .position(|r| r.status() == StatusCode::OK)
        .unwrap();
    let again_in = app
        .post_json_as(&people[first_in], &accept_path, &empty)
        .await;
    assert_eq!(again_in.status(), StatusCode::OK);
    assert_eq!(error_code(again).await, "invite_used_up");
    // Revoked and unknown links are 404; an expired one is 410.
    let res = link(json!({"expires_in_secs": 60})).await;
    let body: Value = res.json().await.unwrap();
    let (id, url) = (
        body["invite"]["id"].as_i64().unwrap(),
        body["invite"]["url"].as_str().unwrap().to_owned(),
    );
    let revoked_token = url.rsplit('/').next().unwrap().to_owned();
    let res = app
        .call_as(
            Method::DELETE,
            &ann,
            &format!("/api/v1/rooms/{room}/invites/{id}"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let late = app.user_token("late").await;
    for t in [revoked_token.as_str(), "not-a-token"] {
        let res = app
            .post_json_as(&late, &format!("/api/v1/invites/{t}/accept"), &json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let res = link(json!({"expires_in_secs": 60})).await;
    let body: Value = res.json().await.unwrap();
    let expiring = body["invite"]["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    expire_links(&app, room).await;
    let res = app
        .post_json_as(
            &late,
            &format!("/api/v1/invites/{expiring}/accept"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(error_code(res).await, "invite_expired");
}

/// Moves every link of the room an hour into the past.
async fn expire_links(app: &TestApp, room: i64) {
    use common::schema::room_invites;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.connect().await;
    diesel::update(room_invites::table.filter(room_invites::room_id.eq(room)))
        .set(room_invites::expires_at.eq(chrono::Utc::now() - chrono::Duration::hours(1)))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn roles_and_moderation_follow_the_ranks() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let bob = app.user_token("bob").await;
    let cy = app.user_token("cyd").await;
    let (ann_id, bob_id, cy_id) = (
        app.user_id(&ann).await,
        app.user_id(&bob).await,
        app.user_id(&cy).await,
    );
    let room = app.room(&ann, "hall").await;
    for t in [&bob, &cy] {
        assert_eq!(
            app.send_message(t, room, "hello").await.status(),
            StatusCode::CREATED
        );
    }
    let role = |token: &str, user: i64, role: &str| {
        let (app, token, role) = (&app, token.to_owned(), role.to_owned());
        async move {
            app.request_as(
                Method::PUT,
                &token,
                &format!("/api/v1/rooms/{room}/members/{user}/role"),
                Some(&json!({ "role": role })),
            )
            .await
        }
    };
    assert_eq!(
        role(&bob, cy_id, "moderator").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        error_code(role(&ann, bob_id, "admin").await).await,
        "bad_role"
    );
    assert_eq!(
        error_code(role(&ann, ann_id, "member").await).await,
        "cannot_moderate_self"
    );
    assert_eq!(
        role(&ann, bob_id, "moderator").await.status(),
        StatusCode::OK
    );
    let sanction = |token: &str, what: &str, body: Value| {
        let (app, token, what) = (&app, token.to_owned(), what.to_owned());
        async move {
            app.post_json_as(&token, &format!("/api/v1/rooms/{room}/{what}"), &body)
                .await
        }
    };
    // A moderator: not on themselves, not on the owner, and within range.
    let res = sanction(&bob, "bans", json!({"user_id": bob_id})).await;
    assert_eq!(error_code(res).await, "cannot_moderate_self");
    let res = sanction(&bob, "kicks", json!({"user_id": ann_id})).await;
    assert_eq!(error_code(res).await, "outranks_you");
    let res = sanction(&bob, "mutes", json!({"user_id": cy_id, "duration_secs": 5})).await;
    assert_eq!(error_code(res).await, "bad_duration");
    let res = sanction(&bob, "mutes", json!({"user_id": 999_999})).await;
    assert_eq!(error_code(res).await, "user_not_found");
    let res = sanction(
        &bob,
        "mutes",
        json!({"user_id": cy_id, "duration_secs": 3600, "reason": "caps lock"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Muted: reads, cannot post.
    assert_eq!(
        error_code(app.send_message(&cy, room, "HEY").await).await,
        "muted"
    );
    let members = app
        .get_json_as(&cy, &format!("/api/v1/rooms/{room}/members"))
        .await;
    let cy_row = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == cy_id)
        .unwrap()
        .clone();
    assert!(cy_row["muted_until"].is_string());
    let res = app
        .call_as(
            Method::DELETE,
            &bob,
            &format!("/api/v1/rooms/{room}/mutes/{cy_id}"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .call_as(
            Method::DELETE,
            &bob,
            &format!("/api/v1/rooms/{room}/mutes/{cy_id}"),
        )
        .await;
    assert_eq!(error_code(res).await, "not_restricted");
    assert_eq!(
        app.send_message(&cy, room, "sorry").await.status(),
        StatusCode::CREATED
    );
    // Banned: out, and cannot come back by joining or posting.
    let res = sanction(
        &bob,
        "bans",
        json!({"user_id": cy_id, "duration_secs": 3600}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        error_code(app.send_message(&cy, room, "back").await).await,
        "banned"
    );
    let res = app
        .post_json_as(&cy, &format!("/api/v1/rooms/{room}/membership"), &json!({}))
        .await;
    assert_eq!(error_code(res).await, "banned");
    // The log, for moderators only, with the reason.
    let res = app
        .get_as(&cy, &format!("/api/v1/rooms/{room}/moderation"))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let log = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}/moderation"))
        .await;
    let actions: Vec<&str> = log["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["ban", "unmute", "mute", "role"]);
    assert_eq!(log["actions"][2]["reason"], "caps lock");
    // The events carry each act, without the reason.
    let events = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}/events"))
        .await;
    let text = events.to_string();
    assert!(text.contains(r#""type":"moderation""#) && !text.contains("caps lock"));
    // Handing over: bob owns the room, ann moderates it.
    let res = app
        .post_json_as(
            &ann,
            &format!("/api/v1/rooms/{room}/owner"),
            &json!({"user_id": bob_id}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let as_ann = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}"))
        .await;
    assert_eq!(as_ann["room"]["my_role"], "moderator");
    assert_eq!(as_ann["room"]["owner"]["id"], bob_id);
    // The new owner may make the old one a member again.
    assert_eq!(role(&bob, ann_id, "member").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn room_settings_change_by_rank_and_range() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let bob = app.user_token("bob").await;
    let bob_id = app.user_id(&bob).await;
    let room = app.room(&ann, "plaza").await;
    assert_eq!(
        app.send_message(&bob, room, "hi").await.status(),
        StatusCode::CREATED
    );
    let path = format!("/api/v1/rooms/{room}");
    let res = app
        .request_as(
            Method::PATCH,
            &bob,
            &path,
            Some(&json!({"topic": "mine now"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            &path,
            Some(&json!({"slow_mode_secs": 99999})),
        )
        .await;
    assert_eq!(error_code(res).await, "slow_mode_range");
    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            &path,
            Some(&json!({"visibility": "secret"})),
        )
        .await;
    assert_eq!(error_code(res).await, "bad_visibility");
    let res = app
        .request_as(Method::PATCH, &ann, &path, Some(&json!({"colour": "red"})))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.request_as(
        Method::PUT,
        &ann,
        &format!("/api/v1/rooms/{room}/members/{bob_id}/role"),
        Some(&json!({"role": "moderator"})),
    )
    .await;
    let res = app
        .request_as(
            Method::PATCH,
            &bob,
            &path,
            Some(&json!({"topic": "slow please", "slow_mode_secs": 30})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["room"]["topic"], "slow please");
    assert_eq!(body["room"]["slow_mode_secs"], 30);
    // Visibility is the owner's.
    let res = app
        .request_as(
            Method::PATCH,
            &bob,
            &path,
            Some(&json!({"visibility": "private"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            &path,
            Some(&json!({"visibility": "private"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Going public again under a name another public room took meanwhile.
    let eve = app.user_token("eve").await;
    app.room(&eve, "PLAZA").await;
    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            &path,
            Some(&json!({"visibility": "public"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "name_taken");
    // Slow mode: a member waits, a moderator does not.
    let cy = app.user_token("cyd").await;
    let res = app
        .post_json_as(
            &ann,
            &format!("/api/v1/rooms/{room}/invites"),
            &json!({"username": "cyd"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.post_json_as(
        &cy,
        &format!("/api/v1/me/invites/{room}/accept"),
        &json!({}),
    )
    .await;
    assert_eq!(
        app.send_message(&cy, room, "one").await.status(),
        StatusCode::CREATED
    );
    let res = app.send_message(&cy, room, "two").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(
        app.send_message(&bob, room, "one").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.send_message(&bob, room, "two").await.status(),
        StatusCode::CREATED
    );
}
