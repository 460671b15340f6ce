//! What one signed-in user can do to a room and an instance by misusing the
//! protocol: each is bounded and answered, and the connection stays open.

use std::time::Duration;

use common::protocol::{ClientFrame, ServerFrame};

use crate::helpers::*;

#[tokio::test]
async fn a_join_storm_is_rate_limited_and_only_joins_let_through_replay() {
    let stack = Stack::new().await;
    let chat = stack
        .chat_with(&[("JOIN_PER_SEC", "1"), ("JOIN_BURST", "5")])
        .await;
    let ann = stack.user("ann").await;
    let room = stack.room(&ann, "r").await;
    for i in 0..30 {
        stack.store_unpublished(&ann, room, &format!("m{i}")).await;
    }
    let mut c = connect(&chat, &ann).await;
    // Thirty joins asking for the whole history, without waiting.
    for _ in 0..30 {
        c.send(&ClientFrame::Join {
            room,
            since: Some(0),
        })
        .await;
    }
    let (mut joined, mut replayed, mut limited) = (0, 0, 0);
    while let Some(event) = c.next_within(Duration::from_millis(1500)).await {
        match event {
            Event::Frame(ServerFrame::Joined { .. }) => joined += 1,
            Event::Frame(ServerFrame::Message(_)) => replayed += 1,
            Event::Frame(ServerFrame::Error {
                code, reference, ..
            }) => {
                assert_eq!(code, "rate_limited");
                assert_eq!(reference, Some(room.to_string()));
                limited += 1;
            }
            Event::Frame(other) => panic!("unexpected {other:?}"),
            Event::Closed(code) => panic!("closed with {code:?}"),
        }
    }
    assert!((5..=7).contains(&joined), "joined {joined} times");
    assert_eq!(limited, 30 - joined, "every other join is refused");
    // Each join let through replays the history, as the contract says; the
    // refused ones replay nothing.
    assert_eq!(replayed, 30 * joined);
    // The connection is still in the room and works.
    c.say(room, "still here", "n-after").await;
    let echo = c.message().await;
    assert_eq!(echo.body, "still here");
}

#[tokio::test]
async fn replays_are_budgeted_per_user_across_connections() {
    let stack = Stack::new().await;
    // 400 KB of replay per user and window; the join limit out of the way.
    let chat = stack
        .chat_with(&[("REPLAY_BYTES_PER_USER", "400000"), ("JOIN_BURST", "1000")])
        .await;
    let ann = stack.user("ann").await;
    let room = stack.room(&ann, "history").await;
    let body = "x".repeat(4000);
    for _ in 0..20 {
        stack.store_unpublished(&ann, room, &body).await;
    }
    // Each full replay is about 164 KB (text and HTML): after the third the
    // budget is spent, on whichever connection asks next.
    let (mut a, mut b) = (connect(&chat, &ann).await, connect(&chat, &ann).await);
    a.join(room, Some(0)).await;
    b.join(room, Some(0)).await;
    a.join(room, Some(0)).await;
    b.send(&ClientFrame::Join {
        room,
        since: Some(0),
    })
    .await;
    let (code, reference) = b.error().await;
    assert_eq!(code, "rate_limited");
    assert_eq!(reference, Some(room.to_string()));
    assert!(
        chat.metrics()
            .await
            .contains("parley_chat_replays_refused_total 1")
    );
    // A join that replays nothing is not held back.
    let (replayed, _) = b.join(room, Some(20)).await;
    assert!(replayed.is_empty());
    // Another user has a budget of their own.
    let bob = stack.user("bob").await;
    let mut c = connect(&chat, &bob).await;
    let (replayed, _) = c.join(room, Some(0)).await;
    assert_eq!(replayed.len(), 20);
}
