//! Registering, logging in and out, through the pages and the API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, csrf_in, error_code};

#[tokio::test]
async fn register_page_signs_in_and_redirects_to_rooms() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get(app.url("/register")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for field in [
        "name=\"username\"",
        "name=\"email\"",
        "name=\"password\"",
        "<label for=\"username\">",
    ] {
        assert!(html.contains(field), "{field}");
    }
    let csrf = csrf_in(&html).unwrap();
    let form = [
        ("username", "Ann"),
        ("email", "ann@example.com"),
        ("password", "correct horse"),
        ("csrf_token", &csrf),
    ];
    let res = app.post_form_as(&browser, "/register", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/rooms");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("parley_session="));
    let cookie = cookie.expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http origin: no Secure flag: {cookie}"
    );
    let rooms = browser.get(app.url("/rooms")).send().await.unwrap();
    assert_eq!(rooms.status(), StatusCode::OK);
    let html = rooms.text().await.unwrap();
    assert!(html.contains("Signed in as <strong>Ann</strong>"));
    assert!(
        html.contains("Welcome to Parley!"),
        "the flash notice shows once"
    );
    let again = app.html(&browser, "/rooms").await;
    assert!(!again.contains("Welcome to Parley!"), "and only once");
}

#[tokio::test]
async fn register_form_errors_are_shown_beside_fields_with_input_kept() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let csrf = app.csrf(&browser, "/register").await;
    let cases: &[(&str, &str, &str, &str)] = &[
        ("ab", "ok@example.com", "correct horse", "3 to 32"),
        (
            &"a".repeat(33),
            "ok@example.com",
            "correct horse",
            "3 to 32",
        ),
        (
            "bad name!",
            "ok@example.com",
            "correct horse",
            "may only use",
        ),
        ("fine_name", "not-an-email", "correct horse", "valid e-mail"),
        ("fine_name", "ok@example.com", "short", "8 to 256"),
        ("fine_name", "ok@example.com", &"p".repeat(257), "8 to 256"),
        ("", "", "", "Choose a username"),
    ];
    for (username, email, password, expected) in cases {
        let form = [
            ("username", *username),
            ("email", *email),
            ("password", *password),
            ("csrf_token", &csrf),
        ];
        let res = app.post_form_as(&browser, "/register", &form).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{username} {email}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(expected),
            "{expected} missing for {username:?}/{email:?}"
        );
        assert!(html.contains("aria-invalid=\"true\""));
        if !email.is_empty() {
            assert!(html.contains(&format!("value=\"{email}\"")), "e-mail kept");
        }
        assert!(
            !html.contains(&format!("value=\"{password}\"")) || password.is_empty(),
            "password never echoed"
        );
    }
}

#[tokio::test]
async fn a_name_taken_in_another_case_is_409_on_the_form_and_the_api() {
    let app = TestApp::spawn().await;
    app.user_token("Ann").await;
    let browser = app.browser();
    let csrf = app.csrf(&browser, "/register").await;
    let form = [
        ("username", "aNN"),
        ("email", "other@example.com"),
        ("password", "correct horse"),
        ("csrf_token", &csrf),
    ];
    let res = app.post_form_as(&browser, "/register", &form).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(html.contains("That username is taken.") && html.contains("value=\"aNN\""));
    let res = app
        .api()
        .post(app.url("/api/v1/auth/register"))
        .json(
            &json!({"username": "other", "email": "ANN@example.com", "password": "correct horse"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "email_taken");
}

#[tokio::test]
async fn login_page_accepts_username_or_email_and_follows_a_safe_next() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    for (login, next, expected) in [
        ("ann", "/rooms?q=x", "/rooms?q=x"),
        ("ANN@example.com", "", "/rooms"),
        ("ann", "https://evil.example/", "/rooms"),
        ("ann", "//evil.example/", "/rooms"),
        ("ann", "/\\evil.example", "/rooms"),
    ] {
        let browser = app.browser();
        let page = browser
            .get(app.url("/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_in(&page).unwrap();
        let form = [
            ("login", login),
            ("password", "correct horse"),
            ("next", next),
            ("csrf_token", &csrf),
        ];
        let res = app.post_form_as(&browser, "/login", &form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{login}");
        assert_eq!(res.headers()["location"], expected, "next={next}");
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    let mut pages = Vec::new();
    for login in ["ann", "nobody"] {
        let browser = app.browser();
        let csrf = app.csrf(&browser, "/login").await;
        let form = [
            ("login", login),
            ("password", "wrong password"),
            ("csrf_token", &csrf),
        ];
        let res = app.post_form_as(&browser, "/login", &form).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.unwrap();
        assert!(html.contains("wrong username, e-mail or password"));
        assert!(html.contains(&format!("value=\"{login}\"")), "login kept");
        pages.push(
            html.replace(login, "X")
                .replace(&csrf_in(&html).unwrap(), "T"),
        );
    }
    assert_eq!(pages[0], pages[1], "the two answers must not differ");
    for login in ["ann", "nobody"] {
        let res = app
            .api()
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"login": login, "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["error"]["message"],
            "wrong username, e-mail or password"
        );
    }
}

#[tokio::test]
async fn logout_revokes_the_session_cookie_and_its_tokens() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in_browser("ann").await;
    // Keep a copy of the token to replay after logout.
    let token = {
        let login = app
            .api()
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"login": "ann", "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        login.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let csrf = app.csrf(&browser, "/rooms").await;
    let res = app
        .post_form_as(&browser, "/logout", &[("csrf_token", csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/");
    let res = browser.get(app.url("/rooms")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out");
    // The API token is another session: still valid until its own logout.
    let me = app.get_as(&token, "/api/v1/users/me").await;
    assert_eq!(me.status(), StatusCode::OK);
    let out = app
        .api()
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let me = app.get_as(&token, "/api/v1/users/me").await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    // A second website instance refuses it too: revocation lives in the database.
    let replica = app.replica().await;
    let me = replica.get_as(&token, "/api/v1/users/me").await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_login_answers_a_bearer_token_with_its_expiry() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    let res = app
        .api()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"login": "ann", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["username"], "ann");
    assert!(
        body["user"].get("email").is_none(),
        "no e-mail in user objects"
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let ttl = expires
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((3500..=3600).contains(&ttl), "the idle limit: {ttl}");
    let me = app
        .get_as(body["token"].as_str().unwrap(), "/api/v1/users/me")
        .await;
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["user"]["username"], "ann");
}

#[tokio::test]
async fn two_instances_racing_to_register_one_name_give_one_winner() {
    let app = TestApp::spawn().await;
    let replica = app.replica().await;
    let register = |app: &TestApp, email: &str| {
        let req = app
            .api()
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({"username": "racer", "email": email, "password": "correct horse"}));
        async move { req.send().await.unwrap().status() }
    };
    let (a, b) = tokio::join!(
        register(&app, "a@example.com"),
        register(&replica, "b@example.com")
    );
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
}

/// A login attempt at `login` from `ip`.
async fn login_from(app: &TestApp, login: &str, password: &str, ip: &str) -> reqwest::Response {
    app.api()
        .post(app.url("/api/v1/auth/login"))
        .header("x-real-ip", ip)
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failures_from_one_address_do_not_lock_the_owner_out() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    for _ in 0..10 {
        let res = login_from(&app, "ann", "wrong password", "10.0.0.1").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_from(&app, "ann", "wrong password", "10.0.0.1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_code(res).await, "rate_limited");
    // The guesser is slowed down; the owner, elsewhere, is not.
    let res = login_from(&app, "ann", "correct horse", "10.0.0.3").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn parallel_wrong_logins_reach_the_password_check_at_most_the_limit() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    let attempts = (0..30).map(|_| login_from(&app, "ann", "wrong password", "10.0.0.1"));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, limited), (10, 20), "{statuses:?}");
}

#[tokio::test]
async fn an_accounts_name_and_email_share_one_budget() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    for login in ["ann", "ANN@example.com"].repeat(5) {
        let res = login_from(&app, login, "wrong password", "10.0.0.1").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_from(&app, "ann@example.com", "correct horse", "10.0.0.1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_success_forgets_the_failures() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    for _ in 0..9 {
        login_from(&app, "ann", "wrong password", "10.0.0.1").await;
    }
    let res = login_from(&app, "ann", "correct horse", "10.0.0.1").await;
    assert_eq!(res.status(), StatusCode::OK);
    for _ in 0..9 {
        let res = login_from(&app, "ann", "wrong password", "10.0.0.1").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn an_ipv6_slash_64_is_one_address() {
    let app = TestApp::spawn().await;
    for i in 0..30 {
        let ip = format!("2001:db8:1:2::{i:x}");
        let res = login_from(&app, &format!("user{i}"), "whatever1", &ip).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_from(&app, "user99", "whatever1", "2001:db8:1:2:ffff::1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = login_from(&app, "user99", "whatever1", "2001:db8:1:3::1").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "another /64");
}

#[tokio::test]
async fn common_and_weak_passwords_are_refused_on_form_and_api() {
    let app = TestApp::spawn().await;
    for (password, code) in [
        ("password", "password_common"),
        ("Password123!", "password_common"),
        ("xkxkxkxkxkxk", "password_weak"),
        ("ann.smith1", "password_weak"),
    ] {
        let res = app
            .api()
            .post(app.url("/api/v1/auth/register"))
            .json(
                &json!({"username": "ann.smith", "email": "ann@example.com", "password": password}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{password}");
        assert_eq!(error_code(res).await, code, "{password}");
    }
    let browser = app.browser();
    let csrf = app.csrf(&browser, "/register").await;
    let res = app
        .post_form_as(
            &browser,
            "/register",
            &[
                ("username", "ann.smith"),
                ("email", "ann@example.com"),
                ("password", "password123"),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "the form shows its problems"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("list of leaked passwords"), "{html}");
    assert!(html.contains("value=\"ann.smith\""), "what was typed stays");
}

#[tokio::test]
async fn login_attempts_are_limited_per_address() {
    let app = TestApp::spawn().await;
    let mut last = StatusCode::OK;
    for i in 0..31 {
        let res = app
            .api()
            .post(app.url("/api/v1/auth/login"))
            .header("x-real-ip", "10.9.9.9")
            .json(&json!({"login": format!("user{i}"), "password": "whatever1"}))
            .send()
            .await
            .unwrap();
        last = res.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let other = app
        .api()
        .post(app.url("/api/v1/auth/login"))
        .header("x-real-ip", "10.9.9.8")
        .json(&json!({"login": "someone", "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::UNAUTHORIZED,
        "other addresses are unaffected"
    );
}

#[tokio::test]
async fn registrations_are_limited_site_wide_as_a_last_resort() {
    let app = TestApp::spawn_with(crate::helpers::Options {
        limits: Some(website::config::Limits {
            register_total: common::ratelimit::Limit {
                max: 2,
                ..common::ratelimit::REGISTER_TOTAL
            },
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let register = |name: &str, ip: &str| {
        app.api()
            .post(app.url("/api/v1/auth/register"))
            .header("x-real-ip", ip.to_owned())
            .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": "correct horse"}))
            .send()
    };
    assert_eq!(
        register("ann", "10.0.0.1").await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        register("bob", "10.0.0.2").await.unwrap().status(),
        StatusCode::CREATED
    );
    let res = register("cyd", "10.0.0.3").await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
}

/// A fresh session of `login` (its bearer token), from a client that calls
/// itself `user_agent` at `ip`.
async fn session_of(
    app: &TestApp,
    login: &str,
    password: &str,
    user_agent: &str,
    ip: &str,
) -> String {
    let headers = [("user-agent", user_agent), ("x-real-ip", ip)];
    app.login_token(login, password, &headers).await
}

async fn status_of_me(app: &TestApp, token: &str) -> StatusCode {
    app.get_as(token, "/api/v1/users/me").await.status()
}

#[tokio::test]
async fn changing_the_password_signs_out_the_other_sessions() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    let a = session_of(&app, "ann", "correct horse", "a", "10.0.0.1").await;
    let b = session_of(&app, "ann", "correct horse", "b", "10.0.0.2").await;
    let change = async |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        app.post_json_as(&a, "/api/v1/me/password", &body).await
    };
    let res = change("wrong password", "violet tractor ninety").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(res).await, "wrong_password");
    let res = change("correct horse", "password123").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(res).await, "password_common");
    assert_eq!(
        status_of_me(&app, &b).await,
        StatusCode::OK,
        "nothing changed yet"
    );
    let res = change("correct horse", "violet tractor ninety").await;
    assert_eq!(res.status(), StatusCode::OK);
    // The registration's, user_token's sign-in and b's.
    assert_eq!(res.json::<Value>().await.unwrap()["signed_out"], 3);
    assert_eq!(status_of_me(&app, &b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of_me(&app, &a).await, StatusCode::OK);
    let old = login_from(&app, "ann", "correct horse", "10.0.0.3").await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = login_from(&app, "ann", "violet tractor ninety", "10.0.0.3").await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test]
async fn password_changes_are_rate_limited_per_user() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    for _ in 0..5 {
        let res = app
            .post_json_as(
                &token,
                "/api/v1/me/password",
                &json!({"current_password": "guess", "new_password": "violet tractor ninety"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app
        .post_json_as(
            &token,
            "/api/v1/me/password",
            &json!({"current_password": "correct horse", "new_password": "violet tractor ninety"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sessions_are_listed_with_device_address_and_last_seen_and_revocable() {
    let app = TestApp::spawn().await;
    let me = app.user_token("ann").await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let other = session_of(&app, "ann", "correct horse", firefox, "2001:db8:1:2::5").await;
    let list = app.get_json_as(&me, "/api/v1/me/sessions").await;
    let sessions = list["sessions"].as_array().unwrap();
    // Registering signed in too, then user_token signed in, then Firefox.
    assert_eq!(sessions.len(), 3, "{list}");
    assert_eq!(
        sessions[0]["device"], "Firefox on Linux",
        "the latest first"
    );
    let theirs = &sessions[0];
    assert_eq!(theirs["device"], "Firefox on Linux");
    assert_eq!(theirs["address"], "2001:db8:1:2::/64");
    assert!(theirs["last_seen_at"].is_string() && theirs["created_at"].is_string());
    let id = theirs["id"].as_str().unwrap();
    let res = app
        .api()
        .delete(app.url(&format!("/api/v1/me/sessions/{id}")))
        .bearer_auth(&me)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(status_of_me(&app, &other).await, StatusCode::UNAUTHORIZED);
    let list = app.get_json_as(&me, "/api/v1/me/sessions").await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2);
    // Signing out everywhere else.
    let third = session_of(&app, "ann", "correct horse", "c", "10.0.0.4").await;
    let res = app
        .api()
        .delete(app.url("/api/v1/me/sessions"))
        .bearer_auth(&me)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["signed_out"], 2);
    assert_eq!(status_of_me(&app, &third).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of_me(&app, &me).await, StatusCode::OK);
}

#[tokio::test]
async fn a_session_of_another_user_cannot_be_revoked() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let bob = app.user_token("bob").await;
    let bobs = app.get_json_as(&bob, "/api/v1/me/sessions").await;
    let id = bobs["sessions"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .api()
        .delete(app.url(&format!("/api/v1/me/sessions/{id}")))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(status_of_me(&app, &bob).await, StatusCode::OK);
    let res = app
        .api()
        .delete(app.url("/api/v1/me/sessions/not-a-uuid"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_settings_page_changes_the_password_and_signs_sessions_out() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in_browser("ann").await;
    let elsewhere = session_of(&app, "ann", "correct horse", "curl/8.5.0", "10.0.0.9").await;
    let html = app.html(&browser, "/settings").await;
    assert!(html.contains("This browser"), "{html}");
    assert!(html.contains("curl") && html.contains("10.0.0.9"), "{html}");
    assert!(html.contains("Sign out everywhere else"));
    // A wrong current password is shown beside its field.
    let csrf = app.csrf(&browser, "/settings").await;
    let res = app
        .post_form_as(
            &browser,
            "/settings/password",
            &[
                ("current_password", "nope"),
                ("new_password", "violet tractor ninety"),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("not your current password")
    );
    let csrf = app.csrf(&browser, "/settings").await;
    let res = app
        .post_form_as(
            &browser,
            "/settings/password",
            &[
                ("current_password", "correct horse"),
                ("new_password", "violet tractor ninety"),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        status_of_me(&app, &elsewhere).await,
        StatusCode::UNAUTHORIZED
    );
    let html = app.html(&browser, "/settings").await;
    assert!(html.contains("Your password is changed"), "{html}");
    assert!(html.contains("This is your only session."), "{html}");
}
