//! Chat reading a streaming replica (`DATABASE_READ_URL`) that falls
//! behind: its replay paused on purpose (`PgReplica`), catch-up, join
//! replays and the periodic check still deliver every event, through the
//! primary.

use std::time::Duration;

use common::protocol::{ClientFrame, ServerFrame};
use test_support::PgReplica;

use crate::helpers::*;

/// The chat's count of replica reads read again on the primary.
async fn fallbacks(chat: &ChatProcess) -> u64 {
    chat.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("parley_chat_read_fallbacks_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

fn seqs(frames: &[ServerFrame]) -> Vec<i64> {
    frames
        .iter()
        .filter_map(|f| f.sequenced().map(|(_, seq)| seq))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_replica_still_lets_catch_up_replays_and_checks_deliver_every_event() {
    let pg = PgReplica::start().await;
    let stack = Stack::with_db(pg.database().await).await;
    let replica = pg.replica_url(&stack.db);
    let chat = stack
        .chat_with(&[
            ("DATABASE_READ_URL", &replica),
            ("DATABASE_READ_POOL_SIZE", "2"),
        ])
        .await;
    let (ann, room, mut client) = stack.joined_alone(&chat, "ann", "lagging").await;
    assert_eq!(fallbacks(&chat).await, 0);

    // The replica stops; three events are stored but their publishes are
    // lost, then a fourth arrives by pub/sub. The gap is caught up: the
    // replica has none of it, so the primary is read.
    pg.pause().await;
    for body in ["one", "two", "three"] {
        stack.store_unpublished(&ann, room, body).await;
    }
    stack.store_and_publish(&ann, room, "four").await;
    assert_eq!(seqs(&client.sequenced(4).await), [1, 2, 3, 4]);
    assert!(fallbacks(&chat).await >= 1);

    // A join's replay read from the stale replica is topped up to what
    // the room delivered, from the primary.
    let mut late = connect(&chat, &ann).await;
    let (replayed, _) = late.join_all(room, Some(0)).await;
    assert_eq!(seqs(&replayed), [1, 2, 3, 4]);

    // A room made while the replica is paused is not on it: the periodic
    // check asks the primary rather than take the room for deleted.
    let fresh = stack.room(&ann, "fresh").await;
    client.join(fresh, None).await;
    let before = fallbacks(&chat).await;
    // Two checks later the first one's answer has long been handled; a
    // room taken for deleted would have said `left` by then.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while fallbacks(&chat).await < before + 2 {
        if let Some(Event::Frame(ServerFrame::Left { room, reason })) =
            client.next_within(Duration::from_millis(200)).await
        {
            panic!("left {room} ({reason:?}) while the replica was behind");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the periodic check never read the primary"
        );
    }
    client
        .send(&ClientFrame::Send {
            room: fresh,
            body: "still here".into(),
            nonce: "n-fresh".into(),
            reply_to: None,
            attachments: Vec::new(),
        })
        .await;
    loop {
        match client.frame().await {
            ServerFrame::Message(m) if m.room == fresh => {
                assert_eq!((m.seq, m.body.as_str()), (1, "still here"));
                break;
            }
            ServerFrame::Left { room, reason } => {
                panic!("left {room} ({reason:?}) while the replica was behind")
            }
            _ => {}
        }
    }

    // Caught up again, the replica serves the replays.
    pg.resume().await;
    pg.caught_up().await;
    let settled = fallbacks(&chat).await;
    let mut third = connect(&chat, &ann).await;
    let (replayed, _) = third.join_all(room, Some(2)).await;
    assert_eq!(seqs(&replayed), [3, 4]);
    assert_eq!(fallbacks(&chat).await, settled);
}
