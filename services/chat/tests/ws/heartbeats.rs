//! Presence and connection counts follow one heartbeat per instance: a dead
//! instance's connections stop counting against the per-user cap once its
//! heartbeat expires, and idle sockets cost Redis nothing (its load follows
//! messages and joins, not people sitting in rooms).

use std::time::Duration;

use test_support::RedisProcess;

use crate::helpers::*;

#[tokio::test]
async fn a_dead_instances_connections_stop_counting_once_its_heartbeat_expires() {
    let stack = Stack::new().await;
    let env = [
        ("PRESENCE_TTL_SECS", "3"),
        ("MAX_CONNECTIONS_PER_USER", "2"),
    ];
    let mut x = stack.chat_with(&env).await;
    let y = stack.chat_with(&env).await;
    let ann = stack.user("ann").await;
    let held = [connect(&x, &ann).await, connect(&x, &ann).await];
    assert_eq!(
        try_connect(&y.ws_url(), Auth::Bearer(&ann.token))
            .await
            .err(),
        Some(429),
        "the cap counts the other instance's connections"
    );
    x.kill();
    drop(held);
    // Dead after 3 s without a heartbeat, noticed within the next beat (1 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match try_connect(&y.ws_url(), Auth::Bearer(&ann.token)).await {
            Ok(_) => break,
            Err(429) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the dead instance's connections still count"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("unexpected {status}"),
        }
    }
}

/// The commands one Redis ran (from `INFO stats`).
async fn commands_processed(redis: &mut redis::aio::MultiplexedConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(redis)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

/// Commands Redis ran while `chat` sat idle for `window`.
async fn idle_commands(redis: &RedisProcess, window: Duration) -> i64 {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let before = commands_processed(&mut conn).await;
    tokio::time::sleep(window).await;
    // The INFO calls themselves count one each.
    commands_processed(&mut conn).await - before - 1
}

#[tokio::test]
async fn idle_sockets_in_many_rooms_cost_redis_nothing_beyond_the_heartbeat() {
    let redis = RedisProcess::start();
    let stack = Stack::with_redis(redis.url()).await;
    // A beat every second, and a refresh far away: what remains is the heartbeat.
    let chat = stack
        .chat_with(&[
            ("PRESENCE_TTL_SECS", "3"),
            ("PRESENCE_REFRESH_SECS", "3600"),
        ])
        .await;
    let owner = stack.user("owner").await;
    let mut rooms = Vec::new();
    for i in 0..10 {
        rooms.push(stack.room(&owner, &format!("room {i}")).await);
    }
    let window = Duration::from_secs(4);
    let alone = idle_commands(&redis, window).await;
    let mut sockets = Vec::new();
    for i in 0..30 {
        let user = stack.user(&format!("idle{i}")).await;
        let mut c = connect(&chat, &user).await;
        for &room in &rooms {
            c.join(room, None).await;
        }
        sockets.push(c);
    }
    // Let the joins' presence batches settle before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let crowded = idle_commands(&redis, window).await;
    assert!(
        crowded <= alone + 8,
        "300 idle memberships cost {crowded} commands in {window:?}, an empty instance {alone}"
    );
    assert!(alone > 0, "no heartbeat was seen");
    drop(sockets);
}

#[tokio::test]
async fn entries_redis_lost_are_written_again_at_the_next_heartbeat() {
    let mut redis = RedisProcess::start();
    let stack = Stack::with_redis(redis.url()).await;
    let env = [
        ("PRESENCE_TTL_SECS", "3"),
        ("MAX_CONNECTIONS_PER_USER", "1"),
    ];
    let x = stack.chat_with(&env).await;
    let y = stack.chat_with(&env).await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&x, &ann).await;
    a.join(room, None).await;
    // Redis comes back empty: no heartbeat, no presence, no connection count.
    redis.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let counted = try_connect(&y.ws_url(), Auth::Bearer(&ann.token))
            .await
            .err()
            == Some(429);
        let listed = match connect(&y, &bob).await.join(room, None).await.1 {
            common::protocol::ServerFrame::Joined { online, .. } => {
                online.iter().any(|u| u.id == ann.id)
            }
            other => panic!("{other:?}"),
        };
        if counted && listed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ann's connection counted: {counted}, listed online: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(a);
}
