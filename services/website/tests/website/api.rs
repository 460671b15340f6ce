//! The JSON API's rooms and messages, its OpenAPI document, and its answers
//! to malformed requests.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

#[tokio::test]
async fn rooms_are_created_listed_searched_paged_read_and_deleted() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let bob = app.user_token("bob").await;
    let api = app.api();
    let res = app
        .post_json_as(
            &ann,
            "/api/v1/rooms",
            &json!({"name": "Rust", "topic": "systems"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room: Value = res.json().await.unwrap();
    let id = room["room"]["id"].as_i64().unwrap();
    assert_eq!(room["room"]["owner"]["name"], "ann");
    assert_eq!(room["room"]["last_seq"], 0);
    for key in ["id", "name", "topic", "owner", "created_at", "last_seq"] {
        assert!(room["room"].get(key).is_some(), "{key}");
    }
    let dup = app
        .post_json_as(&bob, "/api/v1/rooms", &json!({"name": "rUST", "topic": ""}))
        .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(dup).await, "name_taken");
    for (body, code) in [
        (json!({"name": "", "topic": ""}), "name_missing"),
        (json!({"name": "x".repeat(65)}), "name_length"),
        (
            json!({"name": "ok", "topic": "t".repeat(257)}),
            "topic_length",
        ),
    ] {
        let res = app.post_json_as(&ann, "/api/v1/rooms", &body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(res).await, code);
    }

    let found: Value = app.get_json_as(&bob, "/api/v1/rooms?q=SYST").await;
    assert_eq!(found["rooms"].as_array().unwrap().len(), 1);
    assert_eq!(found["rooms"][0]["id"], id);
    let first: Value = app.get_json_as(&bob, "/api/v1/rooms?limit=2").await;
    let names: Vec<&str> = first["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["general", "random"]);
    assert!(first["rooms"][0]["owner"].is_null());
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest: Value = api
        .get(app.url("/api/v1/rooms"))
        .query(&[("limit", "2"), ("cursor", cursor)])
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["rooms"][0]["name"], "Rust");
    assert!(rest["next_cursor"].is_null());

    let one: Value = app.get_json_as(&bob, &format!("/api/v1/rooms/{id}")).await;
    assert_eq!(one["room"]["name"], "Rust");
    assert_eq!(
        app.get_as(&bob, "/api/v1/rooms/999999").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_as(&bob, "/api/v1/rooms/abc").await.status(),
        StatusCode::NOT_FOUND
    );

    let res = api
        .delete(app.url(&format!("/api/v1/rooms/{id}")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "forbidden");
    let res = api
        .delete(app.url(&format!("/api/v1/rooms/{id}")))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as(&ann, &format!("/api/v1/rooms/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn nul_bytes_in_text_parameters_are_4xx_not_500() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    // "AA" is the cursor of the name "\0".
    for query in ["q=%00", "q=a%01b", "cursor=AA"] {
        let res = app.get_as(&token, &format!("/api/v1/rooms?{query}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    let res = app
        .api()
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"login": "a\u{0}b", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn list_parameters_out_of_range_are_400() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    let long_q = format!("q={}", "é".repeat(65));
    for query in ["limit=0", "limit=101", "limit=abc", "cursor=%%%", &long_q] {
        let res = app.get_as(&token, &format!("/api/v1/rooms?{query}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    let longest_q = format!("/api/v1/rooms?q={}", "é".repeat(64));
    assert_eq!(
        app.get_as(&token, &longest_q).await.status(),
        StatusCode::OK
    );
    for query in ["limit=0", "limit=201", "before_seq=0", "before_seq=x"] {
        let res = app
            .get_as(&token, &format!("/api/v1/rooms/1/messages?{query}"))
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
    }
}

#[tokio::test]
async fn messages_are_sent_once_per_nonce_and_read_newest_first() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let room = app.room(&ann, "chat").await;
    let api = app.api();
    let send = |body: &str, nonce: &str| {
        api.post(app.url(&format!("/api/v1/rooms/{room}/messages")))
            .bearer_auth(&ann)
            .json(&json!({"body": body, "nonce": nonce}))
            .send()
    };
    let first = send("  hello  ", "c-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let m = &first["message"];
    assert_eq!(
        (m["room"].as_i64(), m["seq"].as_i64(), m["body"].as_str()),
        (Some(room), Some(1), Some("hello"))
    );
    assert_eq!(m["user"]["name"], "ann");
    assert_eq!(m["nonce"], "c-1");
    assert!(m["sent_at"].as_str().unwrap().ends_with('Z'));
    let again: Value = send("hello again?", "c-1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["message"]["id"], m["id"],
        "the same nonce answers the stored message"
    );
    send("second", "c-2").await.unwrap();
    let page: Value = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    let seqs: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 1]);
    let older: Value = app
        .get_json_as(
            &ann,
            &format!("/api/v1/rooms/{room}/messages?before_seq=2&limit=5"),
        )
        .await;
    assert_eq!(older["messages"].as_array().unwrap().len(), 1);
    let room_json: Value = app
        .get_json_as(&ann, &format!("/api/v1/rooms/{room}"))
        .await;
    assert_eq!(room_json["room"]["last_seq"], 2);
    assert_eq!(
        app.get_as(&ann, "/api/v1/rooms/999999/messages")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_messages_are_refused_with_protocol_codes_and_not_stored() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let room = app.room(&ann, "strict").await;
    let long = "x".repeat(4001);
    let cases = [
        (
            json!({"body": " \n ", "nonce": "a"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty",
        ),
        (
            json!({"body": long, "nonce": "b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
        ),
        (
            json!({"body": "esc\u{1b}[2J", "nonce": "c"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
        ),
        (
            json!({"body": "hi", "nonce": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
        ),
        (
            json!({"body": "hi", "nonce": "n".repeat(65)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
        ),
        (
            json!({"body": "hi"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"body": 5, "nonce": "d"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let res = app
            .post_json_as(&ann, &format!("/api/v1/rooms/{room}/messages"), &body)
            .await;
        assert_eq!(res.status(), status, "{body}");
        assert_eq!(error_code(res).await, code, "{body}");
    }
    let room_json: Value = app
        .get_as(&ann, &format!("/api/v1/rooms/{room}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(room_json["room"]["last_seq"], 0, "nothing stored");
}

#[tokio::test]
async fn sending_is_rate_limited_per_user_and_over_the_limit_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let ann = app.user_token("ann").await;
    let room = app.room(&ann, "flood").await;
    let mut statuses = Vec::new();
    for i in 0..31 {
        let res = app
            .post_json_as(
                &ann,
                &format!("/api/v1/rooms/{room}/messages"),
                &json!({"body": format!("m{i}"), "nonce": format!("n{i}")}),
            )
            .await;
        statuses.push(res.status());
    }
    assert!(statuses[..30].iter().all(|s| *s == StatusCode::CREATED));
    assert_eq!(statuses[30], StatusCode::TOO_MANY_REQUESTS);
    let room_json: Value = app
        .get_as(&ann, &format!("/api/v1/rooms/{room}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(room_json["room"]["last_seq"], 30);
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_get_4xx_json() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let url = app.url("/api/v1/auth/register");
    let res = api
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "bad_json");
    let res = api
        .post(&url)
        .header("content-type", "application/json")
        .body("[1,2]")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = api
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(res).await, "unsupported_media_type");
    let huge = format!("{{\"username\":\"{}\"}}", "a".repeat(100_000));
    let res = api
        .post(&url)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(res).await, "payload_too_large");
    let res = api
        .post(&url)
        .json(&json!({"username": "ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for (body, code) in [
        (
            json!({"username": "a!", "email": "a@example.com", "password": "correct horse"}),
            "username_invalid",
        ),
        (
            json!({"username": "ann", "email": "nope", "password": "correct horse"}),
            "email_invalid",
        ),
        (
            json!({"username": "ann", "email": "a@example.com", "password": "short"}),
            "password_length",
        ),
    ] {
        let res = api.post(&url).json(&body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(res).await, code);
    }
    let res = api.get(app.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");
}

/// The OpenAPI document the app serves.
async fn openapi_document(app: &TestApp) -> Value {
    app.api()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc = openapi_document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/available", "get"),
        ("/api/v1/users/me", "get"),
        ("/api/v1/rooms", "get"),
        ("/api/v1/rooms", "post"),
        ("/api/v1/rooms/{id}", "get"),
        ("/api/v1/rooms/{id}", "delete"),
        ("/api/v1/rooms/{id}/messages", "get"),
        ("/api/v1/rooms/{id}/messages", "post"),
        ("/api/v1/rooms/{id}/attachments", "post"),
        ("/api/v1/rooms/{id}/messages/{message_id}", "patch"),
        ("/api/v1/rooms/{id}/messages/{message_id}", "delete"),
        (
            "/api/v1/rooms/{id}/messages/{message_id}/reactions/{emoji}",
            "put",
        ),
        (
            "/api/v1/rooms/{id}/messages/{message_id}/reactions/{emoji}",
            "delete",
        ),
        ("/api/v1/rooms/{id}/events", "get"),
        ("/api/v1/rooms/{id}/mood", "get"),
        ("/api/v1/rooms/{id}/read", "post"),
        ("/api/v1/rooms/{id}/membership", "post"),
        ("/api/v1/rooms/{id}/membership", "delete"),
        ("/api/v1/dms", "post"),
        ("/api/v1/me/rooms", "get"),
        ("/api/v1/me/sessions", "get"),
        ("/api/v1/me/sessions", "delete"),
        ("/api/v1/me/sessions/{id}", "delete"),
        ("/api/v1/me/password", "post"),
        ("/api/v1/users/me", "patch"),
        ("/api/v1/users/{username}", "get"),
        ("/api/v1/me/blocks", "get"),
        ("/api/v1/me/blocks/{username}", "put"),
        ("/api/v1/me/blocks/{username}", "delete"),
        ("/api/v1/me/preferences", "get"),
        ("/api/v1/me/preferences", "put"),
        ("/api/v1/me/suggestions", "get"),
        ("/api/v1/me/rooms/{id}/notifications", "put"),
        ("/api/v1/me/rooms/{id}/notifications", "delete"),
        ("/api/v1/rooms/{id}", "patch"),
        ("/api/v1/rooms/{id}/members", "get"),
        ("/api/v1/rooms/{id}/members/{user_id}/role", "put"),
        ("/api/v1/rooms/{id}/owner", "post"),
        ("/api/v1/rooms/{id}/invites", "post"),
        ("/api/v1/rooms/{id}/invites", "get"),
        ("/api/v1/rooms/{id}/invites/{invite_id}", "delete"),
        ("/api/v1/invites/{token}/accept", "post"),
        ("/api/v1/me/invites", "get"),
        ("/api/v1/me/invites/{room_id}/accept", "post"),
        ("/api/v1/me/invites/{room_id}", "delete"),
        ("/api/v1/rooms/{id}/kicks", "post"),
        ("/api/v1/rooms/{id}/bans", "post"),
        ("/api/v1/rooms/{id}/mutes", "post"),
        ("/api/v1/rooms/{id}/bans/{user_id}", "delete"),
        ("/api/v1/rooms/{id}/mutes/{user_id}", "delete"),
        ("/api/v1/rooms/{id}/moderation", "get"),
        ("/api/v1/search", "get"),
        ("/api/v1/messages/{id}/assistant", "get"),
        ("/api/v1/messages/{id}/assistant/stop", "post"),
        ("/api/v1/assistant/chats", "get"),
        ("/api/v1/assistant/chats", "post"),
        ("/api/v1/assistant/chats/{room_id}", "patch"),
        ("/api/v1/assistant/chats/{room_id}", "delete"),
        ("/api/v1/openapi.json", "get"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, expected.len(), "no undocumented extras either");
    for (path, method) in expected {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["ChatMessage"].is_object());
    // Renaming the Rust type (AvailabilityAnswer) kept the published name.
    assert!(doc["components"]["schemas"]["Availability"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_openapi_document_names_values_as_the_api_writes_them() {
    // scripts/fuzz found the preferences' choices published with their
    // Rust names ("H24") while the API writes "24h".
    let app = TestApp::spawn().await;
    let doc = openapi_document(&app).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Theme"]["enum"], json!(["system", "light", "dark"]));
    assert_eq!(schemas["Clock"]["enum"], json!(["24h", "12h"]));
    assert_eq!(
        schemas["NotifyLevel"]["enum"],
        json!(["all", "mentions", "nothing"])
    );
}

#[tokio::test]
async fn the_openapi_document_puts_each_parameter_where_it_goes() {
    // scripts/fuzz (schemathesis) found the query parameters declared as
    // required path parameters, which no path has: clients generated from
    // the document could not send them, and the fuzzer never did.
    let app = TestApp::spawn().await;
    let doc = openapi_document(&app).await;
    let mut query = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for param in operation["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                match param["in"].as_str().unwrap() {
                    "path" => assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: path parameter {name} is not in the path"
                    ),
                    "query" => {
                        assert_ne!(param["required"], true, "{method} {path}: {name}");
                        query.push(format!("{method} {path} {name}"));
                    }
                    other => panic!("{method} {path}: {name} in {other}"),
                }
            }
        }
    }
    query.sort();
    assert_eq!(
        query,
        [
            "get /api/v1/auth/available email",
            "get /api/v1/auth/available username",
            "get /api/v1/rooms cursor",
            "get /api/v1/rooms limit",
            "get /api/v1/rooms q",
            "get /api/v1/rooms/{id}/events after_seq",
            "get /api/v1/rooms/{id}/events limit",
            "get /api/v1/rooms/{id}/messages before_seq",
            "get /api/v1/rooms/{id}/messages limit",
            "get /api/v1/rooms/{id}/moderation before",
            "get /api/v1/rooms/{id}/moderation limit",
            "get /api/v1/rooms/{id}/mood by",
            "get /api/v1/search after",
            "get /api/v1/search before",
            "get /api/v1/search cursor",
            "get /api/v1/search from",
            "get /api/v1/search has",
            "get /api/v1/search limit",
            "get /api/v1/search q",
            "get /api/v1/search room",
        ]
    );
}

fn with_limits(limits: website::config::Limits) -> crate::helpers::Options {
    crate::helpers::Options {
        limits: Some(limits),
        ..Default::default()
    }
}

#[tokio::test]
async fn room_creation_is_rate_limited() {
    let app = TestApp::spawn_with(with_limits(website::config::Limits {
        room_create: common::ratelimit::Limit {
            max: 3,
            ..common::ratelimit::ROOM_CREATE_PER_USER
        },
        ..Default::default()
    }))
    .await;
    let token = app.user_token("ann").await;
    for i in 0..3 {
        app.room(&token, &format!("room{i}")).await;
    }
    let res = app
        .post_json_as(
            &token,
            "/api/v1/rooms",
            &json!({"name": "room3", "topic": ""}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    // Through the form, what was typed stays on the page.
    let browser = app.signed_in_browser("bob").await;
    let create = async |name: &str| {
        let csrf = app.csrf(&browser, "/rooms").await;
        app.post_form_as(
            &browser,
            "/rooms",
            &[("name", name), ("topic", "t"), ("csrf_token", &csrf)],
        )
        .await
    };
    for i in 0..3 {
        assert_eq!(
            create(&format!("bob{i}")).await.status(),
            StatusCode::SEE_OTHER
        );
    }
    let res = create("my fourth room").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = res.text().await.unwrap();
    assert!(html.contains("value=\"my fourth room\""), "{html}");
    assert!(html.contains("too many requests"), "{html}");
}

#[tokio::test]
async fn rooms_one_user_owns_are_capped_even_when_created_at_once() {
    let app = TestApp::spawn_with(with_limits(website::config::Limits {
        rooms_per_user: 2,
        ..Default::default()
    }))
    .await;
    let token = app.user_token("ann").await;
    let creates = (0..6).map(|i| {
        app.post_json_as(
            &token,
            "/api/v1/rooms",
            Box::leak(Box::new(json!({"name": format!("race{i}"), "topic": ""}))),
        )
    });
    let mut statuses: Vec<StatusCode> = futures_util::future::join_all(creates)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT
        ]
    );
    let res = app
        .post_json_as(
            &token,
            "/api/v1/rooms",
            &json!({"name": "one more", "topic": ""}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "room_quota");
    // Another person is not affected.
    let bob = app.user_token("bob").await;
    app.room(&bob, "bobs room").await;
}

#[tokio::test]
async fn history_and_event_reads_are_rate_limited_per_user() {
    let app = TestApp::spawn_with(with_limits(website::config::Limits {
        reads: common::ratelimit::Limit {
            max: 5,
            ..common::ratelimit::READS_PER_USER
        },
        ..Default::default()
    }))
    .await;
    let token = app.user_token("ann").await;
    let room = app.room(&token, "reads").await;
    for path in ["messages", "events", "messages", "events", "messages"] {
        let res = app
            .get_as(&token, &format!("/api/v1/rooms/{room}/{path}"))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    let res = app
        .get_as(&token, &format!("/api/v1/rooms/{room}/events"))
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_code(res).await, "rate_limited");
    let bob = app.user_token("bob").await;
    let res = app
        .get_as(&bob, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "per user");
}

#[tokio::test]
async fn one_or_two_letter_searches_match_the_start_of_names() {
    let app = TestApp::spawn().await;
    let token = app.user_token("ann").await;
    for name in ["alpha", "beta", "Gamma"] {
        app.room(&token, name).await;
    }
    let names = async |q: &str| -> Vec<String> {
        let list = app
            .get_json_as(&token, &format!("/api/v1/rooms?q={q}"))
            .await;
        list["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Every name holds an "a", and every topic ("all about ..."): only
    // the start of names counts for one or two characters.
    assert_eq!(names("a").await, ["alpha"]);
    assert_eq!(names("GA").await, ["Gamma"]);
    assert_eq!(names("%25").await, Vec::<String>::new(), "no wildcard");
    // Three or more: anywhere in the name or topic, as before.
    assert_eq!(names("amm").await, ["Gamma"]);
    assert_eq!(names("about").await.len(), 3);
}
