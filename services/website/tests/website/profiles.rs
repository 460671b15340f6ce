//! Profiles (display name, bio, avatar, the rooms we share) and blocks:
//! the API, the pages and their no-script forms.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, csrf_in, error_code, field_error};

/// Sends `text` to `room` through the API; returns the message's seq.
async fn say(app: &TestApp, token: &str, room: i64, text: &str) -> i64 {
    let res = app.send_message(token, room, text).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["message"]["seq"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_profile_is_edited_through_the_api_and_bad_values_name_their_field() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let me = app.get_json_as(&ann, "/api/v1/users/me").await;
    assert_eq!(me["user"]["display_name"], "");
    assert_eq!(me["user"]["bio"], "");
    assert_eq!(me["user"]["avatar_url"], "/avatars/ann.svg");

    let too_long = app
        .request_as(
            Method::PATCH,
            &ann,
            "/api/v1/users/me",
            Some(&json!({"display_name": "x".repeat(65)})),
        )
        .await;
    assert_eq!(
        field_error(too_long).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "display_name_length".into(),
            "display_name".into()
        )
    );
    for bad in ["a\u{7}b", "adm\u{202E}nimda", "a\u{200B}b"] {
        let res = app
            .request_as(
                Method::PATCH,
                &ann,
                "/api/v1/users/me",
                Some(&json!({"display_name": bad})),
            )
            .await;
        assert_eq!(
            field_error(res).await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "display_name_invalid".into(),
                "display_name".into()
            ),
            "{bad:?}"
        );
    }
    let long_bio = app
        .request_as(
            Method::PATCH,
            &ann,
            "/api/v1/users/me",
            Some(&json!({"bio": "b".repeat(301)})),
        )
        .await;
    assert_eq!(
        field_error(long_bio).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "bio_length".into(),
            "bio".into()
        )
    );
    let bad_bio = app
        .request_as(
            Method::PATCH,
            &ann,
            "/api/v1/users/me",
            Some(&json!({"bio": "a\u{1b}[31m"})),
        )
        .await;
    assert_eq!(
        field_error(bad_bio).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "bio_invalid".into(),
            "bio".into()
        )
    );
    // Nothing was stored by the refused changes.
    let me = app.get_json_as(&ann, "/api/v1/users/me").await;
    assert_eq!(me["user"]["display_name"], "");

    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            "/api/v1/users/me",
            Some(&json!({"display_name": "  Ann Lee  ", "bio": "Crabs.\nTea."})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let user = res.json::<Value>().await.unwrap()["user"].clone();
    assert_eq!(user["display_name"], "Ann Lee");
    assert_eq!(user["bio"], "Crabs.\nTea.");
    // A field left out stays.
    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            "/api/v1/users/me",
            Some(&json!({"bio": ""})),
        )
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["user"]["display_name"],
        "Ann Lee"
    );

    let bob = app.user_token("bob").await;
    let seen = app.get_json_as(&bob, "/api/v1/users/ANN").await;
    assert_eq!(seen["user"]["username"], "ann");
    assert_eq!(seen["user"]["display_name"], "Ann Lee");
    assert_eq!(seen["user"]["avatar_url"], "/avatars/ann.svg");
    assert!(
        seen["user"].get("email").is_none(),
        "never someone's e-mail"
    );
    for unknown in ["nobody", "no@body", "x"] {
        let res = app.get_as(&bob, &format!("/api/v1/users/{unknown}")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{unknown}");
        assert_eq!(error_code(res).await, "user_not_found");
    }
}

#[tokio::test]
async fn display_names_are_shown_on_the_room_page_with_the_username_on_hover() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.person("ann").await;
    let (bob_browser, bob) = app.person("bob").await;
    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            "/api/v1/users/me",
            Some(&json!({"display_name": "Ann <Lee> & co"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let room = app.room(&ann, "lobby").await;
    say(&app, &ann, room, "hello from ann").await;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let history = app
        .get_json_as(&bob, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    let first = history["messages"][0]["id"].as_i64().unwrap();
    // The API keeps naming people by username: clients resolve names.
    assert_eq!(history["messages"][0]["user"]["name"], "ann");
    let res = app
        .post_json_as(
            &bob,
            &format!("/api/v1/rooms/{room}/messages"),
            &json!({"body": "hi Ann", "nonce": nonce, "reply_to": first}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let html = app.html(&bob_browser, &format!("/rooms/{room}")).await;
    let shown = "Ann &#60;Lee&#62; &#38; co";
    assert!(
        html.contains(&format!(
            "title=\"@ann\" data-user-id=\"{}\">{shown}</a>",
            app.get_json_as(&ann, "/api/v1/users/me").await["user"]["id"]
        )),
        "the author's display name, the username on hover: {html}"
    );
    assert!(
        html.contains("<span class=\"quote-author\" title=\"@ann\""),
        "the reply quote names ann too"
    );
    assert!(html.contains(&format!(
        "Created by <a href=\"/users/ann\" title=\"@ann\">{shown}</a>"
    )));
    assert!(!html.contains("Ann <Lee>"), "escaped everywhere");
    assert!(html.contains("src=\"/avatars/ann.svg\""));
    // The script's names, escaped into an attribute.
    let start = html.find("data-people=\"").unwrap() + "data-people=\"".len();
    let attr = &html[start..start + html[start..].find('"').unwrap()];
    assert!(!attr.contains('<'));
    let json_text = attr
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&");
    let people: Value = serde_json::from_str(&json_text).unwrap();
    let ann_entry = people
        .as_object()
        .unwrap()
        .values()
        .find(|p| p["username"] == "ann")
        .unwrap();
    assert_eq!(ann_entry["name"], "Ann <Lee> & co");
    // The header shows bob's own name (his username: he has no display name).
    assert!(html.contains("Signed in as <strong>bob</strong>"));
}

#[tokio::test]
async fn avatars_are_generated_escaped_cached_and_only_for_people_who_exist() {
    let app = TestApp::spawn().await;
    let (browser, ann) = app.person("ann").await;
    app.request_as(
        Method::PATCH,
        &ann,
        "/api/v1/users/me",
        Some(&json!({"display_name": "<b>Zed</b> & \"Q\""})),
    )
    .await;
    let get = |path: &'static str| browser.get(app.url(path)).send();
    let res = get("/avatars/ann.svg").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.starts_with("private, max-age="), "{cache}");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let svg = res.text().await.unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(!svg.contains("<b>"), "{svg}");
    assert!(
        svg.contains("&lt;b&gt;Zed&lt;/b&gt; &amp; &quot;Q&quot;"),
        "{svg}"
    );
    assert!(svg.contains(">BQ</text>"), "initials of the words: {svg}");
    // The same picture every time, by any case of the name.
    let again = get("/avatars/ANN.svg").await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(again.text().await.unwrap(), svg);
    let revalidated = browser
        .get(app.url("/avatars/ann.svg"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    // A new display name is a new picture.
    app.request_as(
        Method::PATCH,
        &ann,
        "/api/v1/users/me",
        Some(&json!({"display_name": ""})),
    )
    .await;
    let changed = get("/avatars/ann.svg").await.unwrap();
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    assert!(changed.text().await.unwrap().contains(">A</text>"));

    assert_eq!(
        get("/avatars/nobody.svg").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let signed_out = app
        .browser()
        .get(app.url("/avatars/ann.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn short_profile_addresses_lead_to_the_profile() {
    let app = TestApp::spawn().await;
    let (browser, _) = app.person("ann").await;
    let res = browser.get(app.url("/u/ann")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/users/ann");
    let res = browser.get(app.url("/u/a%20b")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_profile_lists_only_the_rooms_both_people_are_in() {
    let app = TestApp::spawn().await;
    let (ann_browser, ann) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    app.request_as(
        Method::PATCH,
        &bob,
        "/api/v1/users/me",
        Some(&json!({"display_name": "Bob B", "bio": "Line one\nline <two>"})),
    )
    .await;
    let shared = app.room(&ann, "together").await;
    let res = app
        .call_as(
            Method::POST,
            &bob,
            &format!("/api/v1/rooms/{shared}/membership"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.room(&bob, "bobs-den").await;
    app.room(&ann, "anns-own").await;

    let html = app.html(&ann_browser, "/users/bob").await;
    assert!(html.contains("<h1 id=\"profile-name\" title=\"@bob\">Bob B</h1>"));
    assert!(html.contains("@bob"));
    assert!(html.contains("Line one\nline &#60;two&#62;"));
    assert!(html.contains("Member since"));
    let section = &html[html.find("Rooms you share").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains(&format!("href=\"/rooms/{shared}\"")));
    assert!(section.contains("together"));
    assert!(!section.contains("bobs-den"), "a room only bob is in");
    assert!(!section.contains("anns-own"), "a room only ann is in");
    assert!(html.contains("id=\"block-user\""));
    // One's own profile: no block button, a way to edit.
    let own = app.html(&ann_browser, "/users/ann").await;
    assert!(!own.contains("id=\"block-user\"") && own.contains("Edit your profile"));
    let res = ann_browser
        .get(app.url("/users/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blocks_are_idempotent_and_refuse_oneself_and_strangers() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    app.user_token("bob").await;
    for _ in 0..2 {
        let res = app
            .call_as(Method::PUT, &ann, "/api/v1/me/blocks/bob")
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let list = app.get_json_as(&ann, "/api/v1/me/blocks").await;
    let blocks = list["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0]["user"]["username"], "bob");
    assert!(blocks[0]["created_at"].is_string());

    let res = app
        .call_as(Method::PUT, &ann, "/api/v1/me/blocks/ANN")
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(res).await, "cannot_block_self");
    for method in [Method::PUT, Method::DELETE] {
        let res = app.call_as(method, &ann, "/api/v1/me/blocks/nobody").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(res).await, "user_not_found");
    }
    for _ in 0..2 {
        let res = app
            .call_as(Method::DELETE, &ann, "/api/v1/me/blocks/Bob")
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let list = app.get_json_as(&ann, "/api/v1/me/blocks").await;
    assert_eq!(list["blocks"], json!([]));
}

#[tokio::test]
async fn profile_changes_are_rate_limited() {
    let limits = website::config::Limits {
        profile_change: common::ratelimit::Limit {
            max: 2,
            ..common::ratelimit::PROFILE_CHANGE_PER_USER
        },
        ..Default::default()
    };
    let app = TestApp::spawn_with(crate::helpers::Options {
        limits: Some(limits),
        ..Default::default()
    })
    .await;
    let ann = app.user_token("ann").await;
    app.user_token("bob").await;
    let res = app
        .request_as(
            Method::PATCH,
            &ann,
            "/api/v1/users/me",
            Some(&json!({"display_name": "A"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .call_as(Method::PUT, &ann, "/api/v1/me/blocks/bob")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .call_as(Method::DELETE, &ann, "/api/v1/me/blocks/bob")
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(res).await, "rate_limited");
}

#[tokio::test]
async fn a_blocked_persons_messages_are_collapsed_for_the_blocker_only() {
    let app = TestApp::spawn().await;
    let (ann_browser, ann) = app.person("ann").await;
    let (_, bob) = app.person("bob").await;
    let (cyd_browser, _) = app.person("cyd").await;
    let room = app.room(&ann, "lobby").await;
    let seq = say(&app, &bob, room, "a message by bob").await;
    say(&app, &ann, room, "ann's own").await;
    let bob_id = app.get_json_as(&bob, "/api/v1/users/me").await["user"]["id"]
        .as_i64()
        .unwrap();
    let res = app
        .call_as(Method::PUT, &ann, "/api/v1/me/blocks/bob")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let html = app.html(&ann_browser, &format!("/rooms/{room}")).await;
    let item = message_item(&html, seq);
    assert!(item.contains("is-blocked"), "{item}");
    let details = item
        .find("<details class=\"blocked-message\">")
        .expect("collapsed");
    let summary = item.find("Message from someone you blocked").unwrap();
    let text = item.find("a message by bob").unwrap();
    assert!(
        details < summary && summary < text,
        "the text is inside: {item}"
    );
    assert!(html.contains(&format!("data-blocked=\"{bob_id}\"")));
    // Only bob's: ann's own message is as ever.
    assert_eq!(
        html.matches("<details class=\"blocked-message\">").count(),
        1
    );

    let other = app.html(&cyd_browser, &format!("/rooms/{room}")).await;
    assert!(!other.contains("blocked-message"));
    assert!(other.contains("data-blocked=\"\""));
    // The API's history is unchanged for the blocker: clients decide.
    let history = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(history["messages"][1]["body"], "a message by bob");

    app.call_as(Method::DELETE, &ann, "/api/v1/me/blocks/bob")
        .await;
    let html = app.html(&ann_browser, &format!("/rooms/{room}")).await;
    assert!(!html.contains("blocked-message"));
}

/// The `<li>` of message `seq` in a room page.
fn message_item(html: &str, seq: i64) -> &str {
    let start = html.find(&format!("<li id=\"m{seq}\"")).unwrap();
    let end = html[start..].find("</li>").unwrap() + start;
    &html[start..end]
}

#[tokio::test]
async fn the_profile_and_block_forms_work_without_javascript() {
    let app = TestApp::spawn().await;
    let (ann, _) = app.person("ann").await;
    app.person("bob").await;

    // The profile card: a bad value comes back beside its field, as typed.
    let csrf = app.csrf(&ann, "/settings").await;
    let typed = format!("{}!", "n".repeat(64));
    let res = app
        .post_form_as(
            &ann,
            "/settings/profile",
            &[
                ("csrf_token", csrf.as_str()),
                ("display_name", typed.as_str()),
                ("bio", "kept <bio>"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("A display name is at most 64 characters long."));
    assert!(html.contains(&format!("value=\"{typed}\"")));
    assert!(html.contains(">kept &#60;bio&#62;</textarea>"));
    // Without the CSRF token nothing changes.
    let res = app
        .post_form_as(&ann, "/settings/profile", &[("display_name", "Evil")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .post_form_as(
            &ann,
            "/settings/profile",
            &[
                ("csrf_token", csrf.as_str()),
                ("display_name", "Ann Lee"),
                ("bio", "Hello"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/settings");
    let html = app.html(&ann, "/settings").await;
    assert!(html.contains("Your profile is saved."));
    assert!(html.contains("value=\"Ann Lee\""));
    assert!(html.contains("Signed in as <strong>Ann Lee</strong>"));
    assert!(html.contains("You have not blocked anyone."));

    // Block from the profile page, unblock from the settings page.
    let page = app.html(&ann, "/users/bob").await;
    let csrf = csrf_in(&page).unwrap();
    let res = app
        .post_form_as(&ann, "/users/bob/block", &[("csrf_token", "wrong")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .post_form_as(&ann, "/users/bob/block", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/users/bob");
    let page = app.html(&ann, "/users/bob").await;
    assert!(page.contains("id=\"unblock-user\"") && !page.contains("id=\"block-user\""));
    let settings = app.html(&ann, "/settings").await;
    assert!(settings.contains("action=\"/settings/blocks/bob/unblock\""));
    let res = app
        .post_form_as(
            &ann,
            "/settings/blocks/bob/unblock",
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/settings");
    let settings = app.html(&ann, "/settings").await;
    assert!(settings.contains("You have not blocked anyone."));
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_and_api_callers_get_401() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    let browser = app.browser();
    for path in ["/users/ann", "/settings"] {
        let res = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            res.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/login?next="),
            "{path}"
        );
    }
    let api = app.api();
    for (method, path) in [
        (Method::GET, "/api/v1/users/ann"),
        (Method::PATCH, "/api/v1/users/me"),
        (Method::GET, "/api/v1/me/blocks"),
        (Method::PUT, "/api/v1/me/blocks/ann"),
        (Method::DELETE, "/api/v1/me/blocks/ann"),
    ] {
        let res = api
            .request(method.clone(), app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}
