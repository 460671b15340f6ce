//! Tokens, CSRF, Origin checks, security headers, session renewal, health.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, error_code, session_cookie_of};

async fn user_id(app: &TestApp, token: &str) -> i64 {
    let me: Value = app
        .get_as(token, "/api/v1/users/me")
        .await
        .json()
        .await
        .unwrap();
    me["user"]["id"].as_i64().unwrap()
}

/// A token for `token`'s session but issued at `issued` and expiring at `expires`.
async fn token_at(app: &TestApp, token: &str, issued: i64, expires: i64) -> String {
    let claims = app.state.verifier.verify(token).unwrap();
    let now = chrono::Utc::now();
    let (t, _) = app
        .state
        .issuer
        .issue(
            claims.user_id().unwrap(),
            &claims.name,
            claims.sid,
            now + chrono::Duration::seconds(issued),
            now + chrono::Duration::seconds(expires),
        )
        .unwrap();
    t
}

#[tokio::test]
async fn missing_malformed_forged_expired_and_revoked_tokens_are_401() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    let me = |auth: Option<String>| {
        let mut req = app.api().get(app.url("/api/v1/users/me"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    assert_eq!(
        me(Some(format!("Bearer {token}"))).await.unwrap().status(),
        StatusCode::OK
    );
    let other_app = TestApp::spawn().await;
    let foreign = other_app.user_token("ann").await;
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    let expired = token_at(&app, &token, -7200, -60).await;
    for auth in [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer not-a-jwt".to_owned()),
        Some(format!("Basic {token}")),
        Some(format!("Bearer {tampered}")),
        Some(format!("Bearer {foreign}")),
        Some(format!("Bearer {expired}")),
    ] {
        let res = me(auth.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(res.headers().contains_key("www-authenticate"));
        assert_eq!(error_code(res).await, "unauthenticated");
    }
    app.api()
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me(Some(format!("Bearer {token}"))).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "revoked"
    );
}

#[tokio::test]
async fn every_form_post_without_a_valid_csrf_token_is_403() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let token = app.user_token("owner").await;
    let room = app.room(&token, "r").await;
    let valid = app.csrf(&ann, "/rooms").await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/register".into(),
            vec![
                ("username", "zed"),
                ("email", "zed@example.com"),
                ("password", "correct horse"),
            ],
        ),
        (
            "/login".into(),
            vec![("login", "ann"), ("password", "correct horse")],
        ),
        ("/logout".into(), vec![]),
        ("/rooms".into(), vec![("name", "new room"), ("topic", "")]),
        (
            format!("/rooms/{room}/messages"),
            vec![("body", "hi"), ("nonce", "n1")],
        ),
        (format!("/rooms/{room}/delete"), vec![]),
    ];
    for (path, fields) in &forms {
        for token in [None, Some("forged"), Some("")] {
            let mut form = fields.clone();
            if let Some(t) = token {
                form.push(("csrf_token", t));
            }
            let res = ann.post(app.url(path)).form(&form).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
            assert!(res.text().await.unwrap().contains("reload the page"));
        }
    }
    // A token from another browser (another cookie) does not work either.
    let other = app.browser();
    let res = other
        .post(app.url("/login"))
        .form(&[
            ("login", "ann"),
            ("password", "correct horse"),
            ("csrf_token", &valid),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Nothing happened: still signed in, room still there.
    assert_eq!(
        ann.get(app.url(&format!("/rooms/{room}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn cookie_authenticated_api_calls_must_come_from_our_origin() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let create = |origin: Option<&str>| {
        let mut req = ann
            .post(app.url("/api/v1/rooms"))
            .json(&json!({"name": format!("r{}", origin.map_or(0, str::len)), "topic": ""}));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let res = create(Some("http://evil.example")).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "cross_origin");
    assert_eq!(
        create(None).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "no Origin on a POST"
    );
    assert_eq!(
        create(Some(&app.origin())).await.unwrap().status(),
        StatusCode::CREATED
    );
    // Reads: same-origin fetches send no Origin; a foreign one is refused.
    assert_eq!(
        ann.get(app.url("/api/v1/users/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let res = ann
        .get(app.url("/api/v1/users/me"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/", "/login", "/register", "/nope", "/api/v1/openapi.json"] {
        let res = app.browser().get(app.url(path)).send().await.unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {part}");
        }
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("referrer-policy"));
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS on http"
        );
    }
}

/// An app whose public origin is https.
async fn https_app() -> TestApp {
    TestApp::spawn_with(Options {
        https_origin: true,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn an_https_origin_gets_hsts_and_secure_cookies() {
    let app = https_app().await;
    let res = app.browser().get(app.url("/login")).send().await.unwrap();
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-parley_csrf=") && cookie.contains("Secure"),
        "{cookie}"
    );
}

/// The `name=value` pairs a response sets, as a `Cookie` header would send them.
fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn https_origin_uses_host_prefixed_cookies_for_the_session_too() {
    let app = https_app().await;
    // Secure cookies do not travel over this test's plain http: carry them by hand.
    let res = app.api().get(app.url("/register")).send().await.unwrap();
    let jar = set_cookies(&res).join("; ");
    let csrf = crate::helpers::csrf_in(&res.text().await.unwrap()).unwrap();
    let res = app
        .api()
        .post(app.url("/register"))
        .header("cookie", jar)
        .form(&[
            ("username", "ann"),
            ("email", "ann@example.com"),
            ("password", "correct horse"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let names: Vec<String> = set_cookies(&res)
        .iter()
        .map(|c| c.split('=').next().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&"__Host-parley_session".to_owned()),
        "{names:?}"
    );
    assert!(
        names.iter().all(|n| n.starts_with("__Host-")),
        "every cookie is host-only: {names:?}"
    );
    // A plain-named session cookie (which a subdomain could set) is not read.
    let session = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("__Host-parley_session="))
        .unwrap();
    let token = session.trim_start_matches("__Host-parley_session=");
    let plain = app
        .api()
        .get(app.url("/api/v1/me/rooms"))
        .header("cookie", format!("parley_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::UNAUTHORIZED);
    let host = app
        .api()
        .get(app.url("/api/v1/me/rooms"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(host.status(), StatusCode::OK);
}

/// A browser whose cookies the test can read, signed in as a new `username`.
async fn browser_with_jar(app: &TestApp, username: &str) -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = app.csrf(&browser, "/register").await;
    let email = format!("{username}@example.com");
    let form = [
        ("username", username),
        ("email", email.as_str()),
        ("password", "correct horse"),
        ("csrf_token", csrf.as_str()),
    ];
    let res = app.post_form_as(&browser, "/register", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    (browser, jar)
}

/// The cookie header `jar` sends to the app.
fn cookie_header(app: &TestApp, jar: &Jar) -> String {
    let url = app.url("/").parse().unwrap();
    jar.cookies(&url).unwrap().to_str().unwrap().to_owned()
}

/// `POST /rooms` with exactly these cookies and token.
async fn create_room_with(app: &TestApp, cookies: &str, token: &str, name: &str) -> StatusCode {
    app.api()
        .post(app.url("/rooms"))
        .header("cookie", cookies)
        .form(&[("name", name), ("topic", ""), ("csrf_token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_csrf_token_issued_to_one_session_is_refused_with_another() {
    let app = TestApp::spawn().await;
    let (ann, ann_jar) = browser_with_jar(&app, "ann").await;
    let token = app.csrf(&ann, "/rooms").await;
    let ann_cookies = cookie_header(&app, &ann_jar);
    let csrf_cookie = ann_cookies
        .split("; ")
        .find(|c| c.starts_with("parley_csrf="))
        .unwrap()
        .to_owned();
    // Bob's session with ann's CSRF cookie and token: a planted cookie.
    let (_, bob_jar) = browser_with_jar(&app, "bob").await;
    let bob_session = cookie_header(&app, &bob_jar)
        .split("; ")
        .find(|c| c.starts_with("parley_session="))
        .unwrap()
        .to_owned();
    let planted = format!("{csrf_cookie}; {bob_session}");
    assert_eq!(
        create_room_with(&app, &planted, &token, "planted").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        create_room_with(&app, &ann_cookies, &token, "anns").await,
        StatusCode::SEE_OTHER,
        "the same token in its own session posts"
    );
}

#[tokio::test]
async fn csrf_tokens_differ_per_response_and_all_verify() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let first = app.csrf(&ann, "/rooms").await;
    let second = app.csrf(&ann, "/rooms").await;
    assert_ne!(first, second, "masked afresh on every page");
    for (i, token) in [first, second].iter().enumerate() {
        let res = app
            .post_form_as(
                &ann,
                "/rooms",
                &[
                    ("name", format!("room{i}").as_str()),
                    ("topic", ""),
                    ("csrf_token", token),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn a_sign_in_gives_the_browser_a_new_csrf_secret() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    let (browser, jar) = {
        let jar = Arc::new(Jar::default());
        let browser = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        (browser, jar)
    };
    let csrf = app.csrf(&browser, "/login").await;
    let before = cookie_header(&app, &jar);
    let res = app
        .post_form_as(
            &browser,
            "/login",
            &[
                ("login", "ann"),
                ("password", "correct horse"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let secret = |cookies: &str| {
        cookies
            .split("; ")
            .find(|c| c.starts_with("parley_csrf="))
            .map(str::to_owned)
    };
    let after = cookie_header(&app, &jar);
    assert!(secret(&before).is_some() && secret(&after).is_some());
    assert_ne!(secret(&before), secret(&after));
}

#[tokio::test]
async fn a_form_post_another_site_sent_is_refused() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    for site in ["same-site", "cross-site"] {
        let token = app.csrf(&ann, "/rooms").await;
        let res = ann
            .post(app.url("/rooms"))
            .header("sec-fetch-site", site)
            .form(&[("name", "x"), ("topic", ""), ("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{site}");
    }
    let token = app.csrf(&ann, "/rooms").await;
    let res = ann
        .post(app.url("/rooms"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("name", "x"), ("topic", ""), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_active_cookie_session_gets_a_fresh_token_and_an_idle_one_expires() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    // Issued 10 minutes ago (past a tenth of the 1 h idle limit): renewed.
    let old = token_at(&app, &token, -600, 3000).await;
    let res = app
        .api()
        .get(app.url("/rooms"))
        .header("cookie", format!("parley_session={old}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let new_token = session_cookie_of(&res).expect("a renewed session cookie");
    let claims = app.state.verifier.verify(&new_token).unwrap();
    assert!(
        claims.exp > chrono::Utc::now().timestamp() + 3500,
        "a full idle period again"
    );
    // Fresh tokens are not re-signed on every request.
    let res = app
        .api()
        .get(app.url("/rooms"))
        .header("cookie", format!("parley_session={new_token}"))
        .send()
        .await
        .unwrap();
    assert!(
        !res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("parley_session="))
    );
    // Past its expiry (idle too long), the page treats the visitor as signed out.
    let idle = token_at(&app, &token, -4000, -400).await;
    let res = app
        .api()
        .get(app.url("/rooms"))
        .header("cookie", format!("parley_session={idle}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let uid = user_id(&app, &token).await;
    assert!(uid > 0);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let res = app.api().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.api().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token = app.user_token("ann").await;
    let room = app.room(&token, "m").await;
    app.api()
        .post(app.url(&format!("/api/v1/rooms/{room}/messages")))
        .bearer_auth(&token)
        .json(&json!({"body": "x", "nonce": "n"}))
        .send()
        .await
        .unwrap();
    let text = app.metrics_text().await;
    assert!(text.contains("parley_website_http_requests_total{method=\"POST\",route=\"/api/v1/rooms\",status=\"201\"} 1"), "{text}");
    assert!(text.contains("parley_website_http_request_duration_seconds_bucket"));
    assert!(text.contains("parley_website_messages_stored_total 1"));
}

#[tokio::test]
async fn unknown_methods_fold_into_one_metrics_label() {
    let app = TestApp::spawn().await;
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        app.api()
            .request(method, app.url("/nope"))
            .send()
            .await
            .unwrap();
    }
    let text = app.metrics_text().await;
    let methods: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("parley_website_http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
        .collect();
    assert!(methods.contains("OTHER"), "{text}");
    assert!(
        methods.iter().all(|m| !m.starts_with("BREW")),
        "{methods:?}"
    );
    let other: f64 = text
        .lines()
        .filter(|l| l.starts_with("parley_website_http_requests_total{method=\"OTHER\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(other, 50.0, "{text}");
}

#[tokio::test]
async fn readiness_fails_while_postgres_is_unreachable() {
    let app = TestApp::spawn().await;
    use diesel_async::SimpleAsyncConnection;
    // Terminate every connection of the app's database and refuse new ones.
    let mut admin = test_support::admin_connection().await;
    let name = app.db.name().to_owned();
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .await
        .unwrap();
    let res = app.api().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.api()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // An API call answers 503 JSON, not 500.
    let res = app
        .api()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"login": "x", "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let res = app.api().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "recovers");
}

#[tokio::test]
async fn during_a_key_rotation_tokens_of_the_old_key_still_work_and_are_re_signed() {
    let old = TestApp::spawn().await;
    let token = old.user_token("ann").await;
    let old_public = common::auth::keys::SigningKeyMaterial::parse("K", &old.key_b64)
        .unwrap()
        .public()
        .clone();
    // The same deployment after step 2: a new signing key, the old public key still listed.
    let rotated = TestApp::spawn_with(Options {
        db: Some(old.db.clone()),
        redis_prefix: Some(old.redis_prefix.clone()),
        previous_keys: vec![old_public],
        ..Options::default()
    })
    .await;
    let me = rotated.get_as(&token, "/api/v1/users/me").await;
    assert_eq!(me.status(), StatusCode::OK, "old-key tokens are accepted");
    // A page view re-issues the cookie's token with the new key.
    let aged = token_at(&old, &token, -600, 3000).await;
    let res = rotated
        .api()
        .get(rotated.url("/rooms"))
        .header("cookie", format!("parley_session={aged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let new_token = session_cookie_of(&res).expect("a renewed cookie");
    assert!(rotated.state.verifier.verify(&new_token).is_ok());
    assert!(
        old.state.verifier.verify(&new_token).is_err(),
        "signed with the new key"
    );
    // After step 3 (old key dropped) old-key tokens stop working.
    let after = TestApp::spawn_with(Options {
        db: Some(old.db.clone()),
        redis_prefix: Some(old.redis_prefix.clone()),
        key_b64: Some(rotated.key_b64.clone()),
        ..Options::default()
    })
    .await;
    let me = after.get_as(&token, "/api/v1/users/me").await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let me = after.get_as(&new_token, "/api/v1/users/me").await;
    assert_eq!(me.status(), StatusCode::OK);
}
