//! History read from a streaming replica (`DATABASE_READ_URL`): from the
//! replica while it keeps up, from the primary while its replay is paused
//! (`PgReplica`), never a page without what the room has.

use std::sync::Arc;

use serde_json::Value;
use test_support::PgReplica;

use crate::helpers::*;

/// The website's count of replica reads read again on the primary.
async fn fallbacks(app: &TestApp) -> u64 {
    app.metrics_text()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("parley_website_read_fallbacks_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// The bodies of a room's newest history page, newest first, and the
/// seqs of its events, both through the API.
async fn history(app: &TestApp, token: &str, room: i64) -> (Vec<String>, Vec<i64>) {
    let page = app
        .get_json_as(token, &format!("/api/v1/rooms/{room}/messages"))
        .await;
    let bodies = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    let events = app
        .get_json_as(token, &format!("/api/v1/rooms/{room}/events?after_seq=0"))
        .await;
    let seqs = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e: &Value| e["seq"].as_i64().unwrap())
        .collect();
    (bodies, seqs)
}

#[tokio::test(flavor = "multi_thread")]
async fn history_pages_come_from_the_replica_and_from_the_primary_while_it_is_behind() {
    let pg = PgReplica::start().await;
    let db = Arc::new(pg.database().await);
    let app = TestApp::spawn_with(Options {
        read_url: Some(pg.replica_url(&db)),
        db: Some(db),
        ..Options::default()
    })
    .await;
    let token = app.user_token("ann").await;
    let room = app.room(&token, "replicated").await;
    for body in ["one", "two"] {
        assert!(
            app.send_message(&token, room, body)
                .await
                .status()
                .is_success()
        );
    }
    pg.caught_up().await;
    assert_eq!(
        history(&app, &token, room).await,
        (vec!["two".to_owned(), "one".to_owned()], vec![1, 2])
    );
    assert_eq!(fallbacks(&app).await, 0);

    pg.pause().await;
    assert!(
        app.send_message(&token, room, "three")
            .await
            .status()
            .is_success()
    );
    // The replica has two; the page and the events the primary knows of
    // are three: both are read on the primary.
    assert_eq!(
        history(&app, &token, room).await,
        (
            vec!["three".to_owned(), "two".to_owned(), "one".to_owned()],
            vec![1, 2, 3]
        )
    );
    assert_eq!(fallbacks(&app).await, 2);

    pg.resume().await;
    pg.caught_up().await;
    assert_eq!(history(&app, &token, room).await.1, [1, 2, 3]);
    assert_eq!(fallbacks(&app).await, 2);
}
