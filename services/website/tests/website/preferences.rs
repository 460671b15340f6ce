//! Preferences (`GET/PUT /api/v1/me/preferences`, the settings card) and
//! what they change: pages rendered in the chosen theme, density, time zone
//! and clock; a room's own notification level.

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, csrf_in, error_code};

async fn put_prefs(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.request_as(Method::PUT, token, "/api/v1/me/preferences", Some(body))
        .await
}

async fn put_level(app: &TestApp, token: &str, room: i64, body: &Value) -> reqwest::Response {
    let path = format!("/api/v1/me/rooms/{room}/notifications");
    app.request_as(Method::PUT, token, &path, Some(body)).await
}

/// The `<html>` start tag of a page.
fn html_tag(page: &str) -> &str {
    let start = page.find("<html").expect("an html element");
    let end = page[start..].find('>').unwrap() + start;
    &page[start..end]
}

#[tokio::test]
async fn a_new_account_reads_the_defaults_without_storing_them() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    let res = app.get_as(&token, "/api/v1/me/preferences").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"preferences": {"theme": "system", "time_zone": "UTC", "clock": "24h",
            "density": "comfortable", "enter_sends": true,
            "notifications": {"browser": false, "default": "mentions"},
            "show_typing": true, "appear_offline": false, "personalization": true,
            "sidebar_order": "usage", "emotion_tagging": true, "show_emotions": true}})
    );
}

#[tokio::test]
async fn a_put_changes_what_it_names_and_keeps_the_rest() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    let res = put_prefs(
        &app,
        &token,
        &json!({"theme": "dark", "notifications": {"browser": true}}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["preferences"]["theme"], "dark");
    assert_eq!(first["preferences"]["notifications"]["browser"], true);
    assert_eq!(first["preferences"]["notifications"]["default"], "mentions");

    let res = put_prefs(
        &app,
        &token,
        &json!({"clock": "12h", "time_zone": "Asia/Tokyo", "notifications": {"default": "all"}}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = app.get_json_as(&token, "/api/v1/me/preferences").await["preferences"].clone();
    assert_eq!(after["theme"], "dark", "kept from the first PUT");
    assert_eq!(after["clock"], "12h");
    assert_eq!(after["time_zone"], "Asia/Tokyo");
    assert_eq!(
        after["notifications"],
        json!({"browser": true, "default": "all"})
    );
    assert_eq!(after["density"], "comfortable");

    // An empty change changes nothing and answers everything.
    let res = put_prefs(&app, &token, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let same: Value = res.json().await.unwrap();
    assert_eq!(same["preferences"], after);
}

#[tokio::test]
async fn each_bad_value_is_refused_with_its_field_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    for (body, field) in [
        (json!({"time_zone": "Mars/Base"}), "time_zone"),
        (json!({"theme": "blue"}), "theme"),
        (json!({"clock": "25h"}), "clock"),
        (json!({"density": "tiny"}), "density"),
        (json!({"enter_sends": "yes"}), "enter_sends"),
        (
            json!({"notifications": {"default": "loud"}}),
            "notifications.default",
        ),
        (
            json!({"notifications": {"sound": true}}),
            "notifications.sound",
        ),
        (json!({"colour": "red"}), "colour"),
        // One bad key refuses the whole change.
        (json!({"clock": "12h", "favourite": 1}), "favourite"),
    ] {
        let res = put_prefs(&app, &token, &body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "bad_preference", "{body}");
        assert_eq!(err["error"]["field"], field, "{body}");
    }
    let res = put_prefs(&app, &token, &json!(["theme", "dark"])).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let after = app.get_json_as(&token, "/api/v1/me/preferences").await;
    assert_eq!(after["preferences"]["clock"], "24h");
}

#[tokio::test]
async fn signed_out_there_are_no_preferences() {
    let app = TestApp::spawn().await;
    let res = app
        .api()
        .get(app.url("/api/v1/me/preferences"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .api()
        .put(app.url("/api/v1/me/preferences"))
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .api()
        .put(app.url("/api/v1/me/rooms/1/notifications"))
        .json(&json!({"level": "all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let browser = app.browser();
    let res = browser.get(app.url("/settings")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        "/login?next=/settings"
    );
    // The signed-out pages are in the default look.
    let login = app.html(&browser, "/login").await;
    assert!(
        html_tag(&login).contains("data-theme=\"system\""),
        "{}",
        html_tag(&login)
    );
}

#[tokio::test]
async fn the_room_page_is_rendered_in_my_theme_density_zone_and_clock() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    let room = app.room(&token, "clocks").await;
    let res = app
        .post_json_as(
            &token,
            &format!("/api/v1/rooms/{room}/messages"),
            &json!({"body": "what time is it", "nonce": "n-1"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let message: Value = res.json().await.unwrap();
    let sent_at: DateTime<Utc> = message["message"]["sent_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let local = sent_at.with_timezone(&tz);
    let expected = local.format("%-I:%M %p %Z").to_string();

    let page = app
        .get_as(&token, &format!("/rooms/{room}"))
        .await
        .text()
        .await
        .unwrap();
    let utc_time = sent_at.format("%H:%M UTC").to_string();
    assert!(page.contains(&utc_time), "the default is UTC on 24 hours");
    assert!(html_tag(&page).contains("data-theme=\"system\""));

    let res = put_prefs(
        &app,
        &token,
        &json!({"theme": "dark", "density": "compact", "time_zone": "America/New_York", "clock": "12h"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = app
        .get_as(&token, &format!("/rooms/{room}"))
        .await
        .text()
        .await
        .unwrap();
    let tag = html_tag(&page);
    assert!(tag.contains("data-theme=\"dark\""), "{tag}");
    assert!(tag.contains("data-density=\"compact\""), "{tag}");
    assert!(tag.contains("data-time-zone=\"America/New_York\""), "{tag}");
    assert!(tag.contains("data-clock=\"12h\""), "{tag}");
    assert!(
        page.contains(&format!(">{expected}</time>")),
        "{expected} not on the page"
    );
    assert!(!page.contains(&utc_time));
    let day = local.format("%A, %-d %B %Y").to_string();
    assert!(page.contains(&day), "the day divider is the local day");
}

#[tokio::test]
async fn the_settings_card_saves_without_javascript_and_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in_browser("ann").await;
    let html = app.html(&browser, "/settings").await;
    assert!(html.contains("id=\"preferences\""));
    assert!(html.contains("name=\"time_zone\" value=\"UTC\""));
    let csrf = csrf_in(&html).unwrap();

    // A bad zone: the card again, 400, the problem beside the field and
    // everything typed still there.
    let bad = [
        ("csrf_token", csrf.as_str()),
        ("card", "preferences"),
        ("theme", "light"),
        ("density", "compact"),
        ("time_zone", "Mars/Base"),
        ("clock", "12h"),
        ("enter_sends", "false"),
        ("notify_default", "all"),
        ("appear_offline", "true"),
    ];
    let res = app
        .post_form_as(&browser, "/settings/preferences", &bad)
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("name=\"time_zone\" value=\"Mars/Base\""));
    assert!(page.contains("That is not a time zone we know"));
    assert!(page.contains("value=\"light\" checked"));
    assert!(page.contains("value=\"12h\" checked"));
    assert!(page.contains("name=\"enter_sends\" value=\"false\" checked"));
    assert!(page.contains("name=\"appear_offline\" value=\"true\" checked"));
    assert!(page.contains("<option value=\"all\" selected>"));
    let stored = app.html(&browser, "/settings").await;
    assert!(
        stored.contains("name=\"time_zone\" value=\"UTC\""),
        "nothing was saved"
    );

    let good = [
        ("csrf_token", csrf.as_str()),
        ("card", "preferences"),
        ("theme", "dark"),
        ("density", "compact"),
        ("time_zone", "Asia/Tokyo"),
        ("clock", "12h"),
        ("enter_sends", "false"),
        ("notify_default", "nothing"),
        ("personalization", "true"),
    ];
    let res = app
        .post_form_as(&browser, "/settings/preferences", &good)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        "/settings#preferences"
    );
    let page = app.html(&browser, "/settings").await;
    assert!(page.contains("Your preferences are saved."));
    assert!(html_tag(&page).contains("data-theme=\"dark\""));
    assert!(page.contains("name=\"time_zone\" value=\"Asia/Tokyo\""));
    assert!(
        page.contains("name=\"show_typing\" value=\"true\">"),
        "unticked: off"
    );
    assert!(page.contains("name=\"personalization\" value=\"true\" checked"));
    assert!(page.contains("<option value=\"nothing\" selected>"));
    // The sessions list reads in the new zone and clock.
    assert!(page.contains(" JST</time>"), "session times in Tokyo time");
    assert!(page.contains(" AM JST</time>") || page.contains(" PM JST</time>"));

    // The desktop switch alone turns notifications off, nothing else.
    let res = app
        .post_form_as(
            &browser,
            "/settings/preferences",
            &[
                ("csrf_token", csrf.as_str()),
                ("card", "browser"),
                ("notify_browser", "false"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.html(&browser, "/settings").await;
    assert!(page.contains("name=\"time_zone\" value=\"Asia/Tokyo\""));

    // Without a CSRF token nothing is saved.
    let res = app
        .post_form_as(
            &browser,
            "/settings/preferences",
            &[("card", "preferences"), ("theme", "light")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_room_has_its_own_notification_level_only_where_i_may_read() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    let room = app.room(&token, "loud").await;

    let res = put_level(&app, &token, room, &json!({"level": "all"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"room_id": room, "level": "all"})
    );
    let page = app
        .get_as(&token, &format!("/rooms/{room}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-notify-level=\"all\""));
    assert!(page.contains("<option value=\"all\" selected>"));

    let res = put_level(&app, &token, room, &json!({"level": "loud"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["field"], "level");
    let res = put_level(&app, &token, room, &json!({"level": "all", "sound": 1})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // null goes back to the default, and so does DELETE.
    let res = put_level(&app, &token, room, &json!({"level": null})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["level"], Value::Null);
    let page = app
        .get_as(&token, &format!("/rooms/{room}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("data-notify-level=\"mentions\""),
        "the default"
    );
    let res = app
        .api()
        .delete(app.url(&format!("/api/v1/me/rooms/{room}/notifications")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // A room I cannot read answers like a missing one.
    let res = put_level(&app, &token, 987_654, &json!({"level": "all"})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "room_not_found");

    // The room page's form, without JavaScript.
    let browser = app.signed_in_browser("bob").await;
    let html = app.html(&browser, &format!("/rooms/{room}")).await;
    let csrf = csrf_in(&html).unwrap();
    let res = app
        .post_form_as(
            &browser,
            &format!("/rooms/{room}/notifications"),
            &[("csrf_token", csrf.as_str()), ("level", "nothing")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.html(&browser, &format!("/rooms/{room}")).await;
    assert!(html.contains("data-notify-level=\"nothing\""));
    assert!(html.contains("Notifications for this room are saved."));
    let res = app
        .post_form_as(
            &browser,
            "/rooms/987654/notifications",
            &[("csrf_token", csrf.as_str()), ("level", "all")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
