//! The availability check and its shared Bloom filter in Redis.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, error_code};

async fn available(app: &TestApp, query: &str) -> Value {
    let res = app
        .api()
        .get(app.url(&format!("/api/v1/auth/available?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    res.json().await.unwrap()
}

async fn filter_exists(app: &TestApp) -> bool {
    let mut conn = test_support::redis_conn().await;
    let key = format!("{}{{bloom:username:v1}}", app.redis_prefix);
    redis::cmd("EXISTS")
        .arg(&key)
        .query_async::<i64>(&mut conn)
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn taken_names_and_emails_are_reported_ignoring_case() {
    let app = TestApp::spawn().await;
    app.user_token("Ann").await;
    let body = available(&app, "username=aNN&email=ANN@example.com").await;
    assert_eq!(body, serde_json::json!({"username": false, "email": false}));
    let body = available(&app, "username=zed&email=zed@example.com").await;
    assert_eq!(body, serde_json::json!({"username": true, "email": true}));
    let body = available(&app, "username=zed").await;
    assert!(body["email"].is_null());
}

#[tokio::test]
async fn a_lost_filter_is_rebuilt_from_the_database_and_answers_stay_right() {
    let app = TestApp::spawn().await;
    app.user_token("ann").await;
    // The first look-up finds no filter (the app started with none): the
    // database answers, and a rebuild starts.
    let mut conn = test_support::redis_conn().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{}{{bloom:username:v1}}", app.redis_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(available(&app, "username=ann").await["username"], false);
    let mut rebuilt = false;
    for _ in 0..100 {
        if filter_exists(&app).await {
            rebuilt = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rebuilt, "the filter was rebuilt within 5 s");
    assert_eq!(
        available(&app, "username=ann").await["username"],
        false,
        "from the rebuilt filter + database"
    );
    assert_eq!(available(&app, "username=bob").await["username"], true);
    // New accounts go into the rebuilt filter.
    app.user_token("bob").await;
    assert_eq!(available(&app, "username=BOB").await["username"], false);
}

#[tokio::test]
async fn bad_availability_questions_are_4xx() {
    let app = TestApp::spawn().await;
    let res = app
        .api()
        .get(app.url("/api/v1/auth/available"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .api()
        .get(app.url("/api/v1/auth/available?username=a%20b"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(res).await, "username_invalid");
    let res = app
        .api()
        .get(app.url("/api/v1/auth/available?email=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn availability_is_rate_limited_per_address() {
    let app = TestApp::spawn().await;
    let ask = |ip: &'static str| {
        app.api()
            .get(app.url("/api/v1/auth/available?username=someone"))
            .header("x-real-ip", ip)
            .send()
    };
    for _ in 0..60 {
        assert_eq!(ask("10.2.0.1").await.unwrap().status(), StatusCode::OK);
    }
    let res = ask("10.2.0.1").await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(res).await, "rate_limited");
    assert_eq!(ask("10.2.0.2").await.unwrap().status(), StatusCode::OK);
}
