//! The five guarantees of protocol.md on healthy instances: durability
//! before delivery, order and completeness (also across instances and
//! reconnects), fan-out through Redis, slow consumers, the rate limit; and
//! presence and typing.

use std::time::Duration;

use common::protocol::{ClientFrame, ServerFrame, UserRef};

use crate::helpers::*;

#[tokio::test]
async fn a_send_is_stored_before_its_echo_and_reaches_every_member() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let (mut a, mut b) = (connect(&chat, &ann).await, connect(&chat, &bob).await);
    let (replay, joined) = a.join(room, None).await;
    assert!(replay.is_empty());
    assert!(matches!(
        joined,
        ServerFrame::Joined {
            last_seq: 0,
            truncated: false,
            ..
        }
    ));
    b.join(room, None).await;
    a.say(room, "  hello  ", "c-1a2b").await;
    let echo = a.message().await;
    // The echo is the acknowledgement: the message is already committed.
    assert_eq!(stack.stored_count(room).await, 1);
    assert_eq!(
        (echo.seq, echo.body.as_str(), echo.nonce.as_str()),
        (1, "hello", "c-1a2b")
    );
    assert_eq!(
        echo.user,
        UserRef {
            id: ann.id,
            name: "ann".into()
        }
    );
    assert_eq!(echo.room, room);
    assert_eq!(
        b.message().await,
        echo,
        "every member gets the same frame, nonce included"
    );
}

#[tokio::test]
async fn sends_right_behind_a_join_are_all_acknowledged_in_order() {
    // A client need not wait for `joined`: its sends come after its join,
    // so each one is echoed, however fast they are stored. Another member
    // in the room keeps it open, so the room exists before the burst.
    let stack = Stack::new().await;
    let chat = stack.chat_with(&[("SEND_LIMIT", "1000")]).await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let mut b = connect(&chat, &bob).await;
    b.join(room, None).await;
    for round in 0..3 {
        let mut a = connect(&chat, &ann).await;
        a.send(&ClientFrame::Join { room, since: None }).await;
        for k in 0..40 {
            a.say(room, &format!("m{k}"), &format!("r{round}-{k}"))
                .await;
        }
        let echoes: Vec<String> = a.messages(40).await.into_iter().map(|m| m.nonce).collect();
        let expected: Vec<String> = (0..40).map(|k| format!("r{round}-{k}")).collect();
        assert_eq!(echoes, expected, "round {round}");
    }
    // A room nobody here is in yet opens with the burst behind the join.
    let quiet = stack.room(&ann, "quiet").await;
    let mut a = connect(&chat, &ann).await;
    a.send(&ClientFrame::Join {
        room: quiet,
        since: None,
    })
    .await;
    for k in 0..40 {
        a.say(quiet, &format!("q{k}"), &format!("q{k}")).await;
    }
    let seqs: Vec<i64> = a.messages(40).await.into_iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn every_change_of_a_burst_gets_one_answer_refusals_included() {
    // 40 sends without waiting, 30 allowed per window: 30 are stored and
    // echoed, the other 10 each get their `rate_limited`, in order.
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (_, room, mut a) = stack.joined_alone(&chat, "ann", "r").await;
    for k in 0..40 {
        a.say(room, "hi", &format!("n{k}")).await;
    }
    let (mut echoed, mut refused) = (Vec::new(), Vec::new());
    while echoed.len() + refused.len() < 40 {
        match a.frame().await {
            ServerFrame::Message(m) => echoed.push(m.nonce),
            ServerFrame::Error {
                code,
                reference,
                retry_after,
                ..
            } => {
                assert_eq!(code, "rate_limited");
                // When the 10 s window lets the next one through.
                assert!(
                    retry_after.is_some_and(|s| (1..=10).contains(&s)),
                    "{retry_after:?}"
                );
                refused.push(reference.unwrap_or_default());
            }
            _ => {}
        }
    }
    assert_eq!(echoed, (0..30).map(|k| format!("n{k}")).collect::<Vec<_>>());
    assert_eq!(
        refused,
        (30..40).map(|k| format!("n{k}")).collect::<Vec<_>>()
    );
    assert_eq!(stack.stored_count(room).await, 30);
    assert!(
        a.next_within(Duration::from_millis(300)).await.is_none(),
        "nothing more"
    );
}

#[tokio::test]
async fn join_with_since_replays_what_was_missed_then_goes_live() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, room, mut a) = stack.joined_alone(&chat, "ann", "r").await;
    for i in 1..=5 {
        a.say(room, &format!("m{i}"), &format!("n{i}")).await;
        a.message().await;
    }
    let mut late = connect(&chat, &ann).await;
    let (replay, joined) = late.join(room, Some(2)).await;
    assert_complete(&replay, 3, 5);
    assert!(matches!(
        joined,
        ServerFrame::Joined {
            last_seq: 5,
            truncated: false,
            ..
        }
    ));
    let mut fresh = connect(&chat, &ann).await;
    let (replay, _) = fresh.join(room, None).await;
    assert!(replay.is_empty(), "without since nothing is replayed");
    a.say(room, "m6", "n6").await;
    assert_eq!(late.message().await.seq, 6);
    assert_eq!(fresh.message().await.seq, 6);
    // A client that holds everything gets nothing twice.
    let mut current = connect(&chat, &ann).await;
    let (replay, _) = current.join(room, Some(6)).await;
    assert!(replay.is_empty());
}

#[tokio::test]
async fn replay_is_bounded_at_1000_and_says_truncated() {
    let stack = Stack::new().await;
    let ann = stack.user("ann").await;
    let room = stack.room(&ann, "big").await;
    for i in 0..1005 {
        stack.store_unpublished(&ann, room, &format!("m{i}")).await;
    }
    let chat = stack.chat().await;
    let mut c = connect(&chat, &ann).await;
    let (replay, joined) = c.join(room, Some(0)).await;
    assert_complete(&replay, 6, 1005);
    assert!(matches!(
        joined,
        ServerFrame::Joined {
            last_seq: 1005,
            truncated: true,
            ..
        }
    ));
}

#[tokio::test]
async fn a_repeated_nonce_is_stored_once_and_answers_the_stored_message() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let (mut a, mut b) = (connect(&chat, &ann).await, connect(&chat, &bob).await);
    a.join(room, None).await;
    b.join(room, None).await;
    a.say(room, "once", "same").await;
    let first = a.message().await;
    a.say(room, "once, again", "same").await;
    let again = a.message().await;
    assert_eq!((again.id, again.body.as_str()), (first.id, "once"));
    assert_eq!(stack.stored_count(room).await, 1);
    assert_eq!(b.message().await.id, first.id);
    b.assert_no_more_messages(Duration::from_millis(500)).await;
    // Another user's same nonce is their own message.
    b.say(room, "mine", "same").await;
    assert_eq!(b.message().await.seq, 2);
}

#[tokio::test]
async fn concurrent_senders_on_two_instances_reach_every_member_in_order() {
    let stack = Stack::new().await;
    let (x, y) = (stack.chat().await, stack.chat().await);
    let owner = stack.user("owner").await;
    let room = stack.room(&owner, "busy").await;
    let mut watchers = Vec::new();
    for (i, chat) in [&x, &y].into_iter().enumerate() {
        let user = stack.user(&format!("watcher{i}")).await;
        let mut c = connect(chat, &user).await;
        c.join(room, None).await;
        watchers.push(c);
    }
    const PER_SENDER: i64 = 25;
    // Everyone joins before anyone sends: a join without `since` replays nothing.
    let mut clients = Vec::new();
    for i in 0..4 {
        let user = stack.user(&format!("sender{i}")).await;
        let chat = if i % 2 == 0 { &x } else { &y };
        let mut c = connect(chat, &user).await;
        c.join(room, None).await;
        clients.push(c);
    }
    let mut senders = Vec::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        senders.push(tokio::spawn(async move {
            for j in 0..PER_SENDER {
                c.say(room, &format!("{i}-{j}"), &format!("n{i}-{j}")).await;
            }
            // Each sender gets all messages of everyone, its own echoes included.
            let mut got = Vec::new();
            while got.len() < (4 * PER_SENDER) as usize {
                got.push(c.message().await);
            }
            got
        }));
    }
    for s in senders {
        assert_complete(&s.await.unwrap(), 1, 4 * PER_SENDER);
    }
    for mut w in watchers {
        let mut got = Vec::new();
        while got.len() < (4 * PER_SENDER) as usize {
            got.push(w.message().await);
        }
        assert_complete(&got, 1, 4 * PER_SENDER);
        w.assert_no_more_messages(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_message_committed_but_never_published_is_delivered_by_catch_up() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, room, mut c) = stack.joined_alone(&chat, "ann", "r").await;
    let started = std::time::Instant::now();
    let seq = stack.store_unpublished(&ann, room, "the tail").await;
    let got = c.message().await;
    assert_eq!((got.seq, got.body.as_str()), (seq, "the tail"));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_hole_in_seq_is_filled_from_postgres_in_order() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, room, mut c) = stack.joined_alone(&chat, "ann", "r").await;
    // seq 1 is committed but its publish is lost; seq 2 arrives through pub/sub.
    stack.store_unpublished(&ann, room, "first").await;
    stack.store_and_publish(&ann, room, "second").await;
    let (m1, m2) = (c.message().await, c.message().await);
    assert_eq!(
        (m1.seq, m1.body.as_str(), m2.seq, m2.body.as_str()),
        (1, "first", 2, "second")
    );
}

#[tokio::test]
async fn over_the_rate_limit_a_send_gets_rate_limited_and_is_not_stored() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (_, room, mut c) = stack.joined_alone(&chat, "ann", "r").await;
    for i in 0..30 {
        c.say(room, &format!("m{i}"), &format!("n{i}")).await;
        c.message().await;
    }
    c.say(room, "one too many", "n30").await;
    assert_eq!(
        c.error().await,
        ("rate_limited".to_string(), Some("n30".to_string()))
    );
    assert_eq!(stack.stored_count(room).await, 30);
}

#[tokio::test]
async fn a_client_that_cannot_keep_up_is_disconnected_and_others_are_not() {
    let stack = Stack::new().await;
    let chat = stack.chat_with(&[("OUTBOUND_QUEUE_FRAMES", "16")]).await;
    let (ann, slow_user) = (stack.user("ann").await, stack.user("slow").await);
    let room = stack.room(&ann, "firehose").await;
    let mut fast = connect(&chat, &ann).await;
    fast.join(room, None).await;
    let mut slow = connect(&chat, &slow_user).await;
    slow.join(room, None).await;
    // The slow client never reads; big messages fill its socket, then its queue.
    let body = "x".repeat(4000);
    let total = 4000;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < total {
            got.push(fast.message().await);
        }
        got
    });
    for _ in 0..total {
        stack.store_and_publish(&ann, room, &body).await;
    }
    assert_complete(&reader.await.unwrap(), 1, total as i64);
    let metrics = chat.metrics().await;
    assert!(
        metrics.contains("parley_chat_slow_consumers_total 1"),
        "{metrics}"
    );
    // What the slow client finally reads ends in a close, not in every message.
    let mut count = 0;
    loop {
        match slow.next().await {
            Event::Frame(ServerFrame::Message(_)) => count += 1,
            Event::Frame(_) => {}
            Event::Closed(_) => break,
        }
    }
    assert!(count < total, "the slow client was cut off after {count}");
}

#[tokio::test]
async fn presence_and_typing_work_across_instances() {
    let stack = Stack::new().await;
    let (x, y) = (stack.chat().await, stack.chat().await);
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&x, &ann).await;
    let (_, joined) = a.join(room, None).await;
    let ann_ref = UserRef {
        id: ann.id,
        name: "ann".into(),
    };
    let bob_ref = UserRef {
        id: bob.id,
        name: "bob".into(),
    };
    assert!(
        matches!(joined, ServerFrame::Joined { ref online, .. } if *online == vec![ann_ref.clone()])
    );
    let mut b = connect(&y, &bob).await;
    let (_, joined) = b.join(room, None).await;
    assert!(
        matches!(joined, ServerFrame::Joined { ref online, .. } if *online == vec![ann_ref.clone(), bob_ref.clone()])
    );
    assert_eq!(
        a.frame().await,
        ServerFrame::Presence {
            room,
            user: bob_ref.clone(),
            online: true
        }
    );
    // ann's arrival, announced in a batch, may still reach bob after his
    // `joined` listed her: no news, but the only frame allowed here.
    while let Some(event) = b.next_within(Duration::from_millis(400)).await {
        assert!(
            matches!(&event, Event::Frame(ServerFrame::Presence { user, online: true, .. }) if user.id == ann.id),
            "{event:?}"
        );
    }
    // A second connection of bob's is no news.
    let mut b2 = connect(&x, &bob).await;
    b2.join(room, None).await;
    b.send(&ClientFrame::Typing { room }).await;
    assert_eq!(
        a.frame().await,
        ServerFrame::Typing {
            room,
            user: bob_ref.clone()
        }
    );
    // Not echoed to the typist, in any of their tabs.
    assert!(b.next_within(Duration::from_millis(300)).await.is_none());
    assert!(b2.next_within(Duration::from_millis(100)).await.is_none());
    // Bob is offline only when his last connection leaves.
    b2.send(&ClientFrame::Leave { room }).await;
    assert_eq!(b2.frame().await, ServerFrame::Left { room, reason: None });
    assert!(a.next_within(Duration::from_millis(300)).await.is_none());
    drop(b);
    assert_eq!(
        a.frame().await,
        ServerFrame::Presence {
            room,
            user: bob_ref,
            online: false
        }
    );
}

#[tokio::test]
async fn join_leave_churn_is_not_a_flood_of_presence_frames() {
    let stack = Stack::new().await;
    // The join limit raised, so that only presence batching is measured.
    let chat = stack.chat_with(&[("JOIN_BURST", "1000")]).await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&chat, &ann).await;
    a.join(room, None).await;
    let mut b = connect(&chat, &bob).await;
    // Fifty reloads' worth of joins and leaves, ending joined: the others
    // learn once that bob is here, never that he left in between.
    for _ in 0..50 {
        b.send(&ClientFrame::Join { room, since: None }).await;
        b.send(&ClientFrame::Leave { room }).await;
    }
    b.send(&ClientFrame::Join { room, since: None }).await;
    let bob_ref = UserRef {
        id: bob.id,
        name: "bob".into(),
    };
    assert_eq!(
        a.frame().await,
        ServerFrame::Presence {
            room,
            user: bob_ref.clone(),
            online: true
        }
    );
    assert!(a.next_within(Duration::from_millis(800)).await.is_none());
    // And a last leave is announced, once.
    b.send(&ClientFrame::Leave { room }).await;
    assert_eq!(
        a.frame().await,
        ServerFrame::Presence {
            room,
            user: bob_ref,
            online: false
        }
    );
    assert!(a.next_within(Duration::from_millis(800)).await.is_none());
}

#[tokio::test]
async fn a_deleted_room_tells_its_members_left() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (_, room, mut c) = stack.joined_alone(&chat, "ann", "doomed").await;
    common::store::events::delete_room(&mut stack.db.connect().await, room)
        .await
        .unwrap();
    common::fanout::publish_room_deleted(&stack.publisher(), &stack.prefix, room)
        .await
        .unwrap();
    assert_eq!(
        c.frame().await,
        ServerFrame::Left {
            room,
            reason: Some("deleted".into())
        }
    );
}

#[tokio::test]
async fn a_deleted_room_frees_its_place_among_a_connections_100() {
    let stack = Stack::new().await;
    let chat = stack.chat_with(&[("JOIN_BURST", "200")]).await;
    let ann = stack.user("ann").await;
    let mut rooms = Vec::new();
    for k in 0..101 {
        rooms.push(stack.room(&ann, &format!("r{k}")).await);
    }
    let mut c = connect(&chat, &ann).await;
    for room in &rooms[..100] {
        c.join(*room, None).await;
    }
    c.send(&ClientFrame::Join {
        room: rooms[100],
        since: None,
    })
    .await;
    assert_eq!(c.error().await.0, "bad_request", "at most 100 rooms");
    common::store::events::delete_room(&mut stack.db.connect().await, rooms[0])
        .await
        .unwrap();
    let (_, joined) = c.join(rooms[100], None).await;
    assert!(matches!(joined, ServerFrame::Joined { room, .. } if room == rooms[100]));
}

#[tokio::test]
async fn typing_is_capped_per_connection_across_rooms() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let mut rooms = Vec::new();
    for k in 0..20 {
        rooms.push(stack.room(&ann, &format!("t{k}")).await);
    }
    let (mut typist, mut observer) = (connect(&chat, &ann).await, connect(&chat, &bob).await);
    for room in &rooms {
        typist.join(*room, None).await;
        observer.join(*room, None).await;
    }
    // Presence of the joins first, so only typing is counted below.
    while observer
        .next_within(Duration::from_millis(500))
        .await
        .is_some()
    {}
    // 20 rooms, a keystroke in each every 100 ms, for 2 s: 400 frames; one
    // a second per room would still be 40.
    for _ in 0..20 {
        for room in &rooms {
            typist.send(&ClientFrame::Typing { room: *room }).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut seen = 0;
    while let Some(event) = observer.next_within(Duration::from_millis(500)).await {
        if matches!(event, Event::Frame(ServerFrame::Typing { .. })) {
            seen += 1;
        }
    }
    // TYPING_BURST 10, then TYPING_PER_SEC 5 for about 2 s.
    assert!((10..=22).contains(&seen), "{seen} typing frames");
}

/// A message body of 4,000 characters and 16,000 bytes.
fn big_body() -> String {
    "😀".repeat(4000)
}

#[tokio::test]
async fn a_non_reading_client_is_closed_when_its_queue_passes_its_byte_budget() {
    let stack = Stack::new().await;
    let chat = stack
        .chat_with(&[
            ("OUTBOUND_QUEUE_BYTES", "262144"),
            // Only the byte budget may end it.
            ("OUTBOUND_QUEUE_FRAMES", "1000000"),
            ("WRITE_TIMEOUT_SECS", "600"),
        ])
        .await;
    let (ann, slow_user) = (stack.user("ann").await, stack.user("slow").await);
    let room = stack.room(&ann, "big").await;
    let before = chat.rss_kib();
    let mut slow = connect(&chat, &slow_user).await;
    slow.join(room, None).await;
    // 16 MB of messages, more than the sockets buffer; nothing is read.
    let body = big_body();
    for _ in 0..1000 {
        stack.store_and_publish(&ann, room, &body).await;
    }
    assert!(
        chat.await_metric(
            "parley_chat_slow_consumers_total 1",
            Duration::from_secs(10)
        )
        .await,
        "{}",
        chat.metrics().await
    );
    assert!(
        chat.await_metric(
            "parley_chat_websocket_connections 0",
            Duration::from_secs(5)
        )
        .await
    );
    let grown_mib = chat.rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "chat grew by {grown_mib} MiB");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_within_the_write_deadline() {
    let stack = Stack::new().await;
    let chat = stack
        .chat_with(&[
            ("WRITE_TIMEOUT_SECS", "2"),
            // Neither budget ends it: only the deadline.
            ("OUTBOUND_QUEUE_FRAMES", "1000000"),
            ("OUTBOUND_QUEUE_BYTES", "10000000000"),
        ])
        .await;
    let ann = stack.user("ann").await;
    let room = stack.room(&ann, "firehose").await;
    let mut stalled = connect(&chat, &ann).await;
    stalled.join(room, None).await;
    // More than the sockets buffer, so a write blocks; then nothing is read.
    let body = big_body();
    for _ in 0..1000 {
        stack.store_and_publish(&ann, room, &body).await;
    }
    assert!(
        chat.await_metric(
            "parley_chat_websocket_connections 0",
            Duration::from_secs(10)
        )
        .await,
        "{}",
        chat.metrics().await
    );
    assert!(
        chat.metrics()
            .await
            .contains("parley_chat_slow_consumers_total 1")
    );
}

#[tokio::test]
async fn a_replay_is_bounded_in_bytes_and_keeps_the_newest() {
    let stack = Stack::new().await;
    // Replays of at most 64 KiB: 16 messages of 4,000 characters.
    let chat = stack.chat_with(&[("REPLAY_MAX_BYTES", "65536")]).await;
    let ann = stack.user("ann").await;
    let room = stack.room(&ann, "big").await;
    let body = "x".repeat(4000);
    for _ in 0..40 {
        stack.store_unpublished(&ann, room, &body).await;
    }
    let mut c = connect(&chat, &ann).await;
    let (replayed, joined) = c.join(room, Some(0)).await;
    let seqs: Vec<i64> = replayed.iter().map(|m| m.seq).collect();
    assert!(!seqs.is_empty() && seqs.len() < 17, "{seqs:?}");
    assert_eq!(*seqs.last().unwrap(), 40, "the newest are kept");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(
        matches!(
            joined,
            ServerFrame::Joined {
                truncated: true,
                last_seq: 40,
                ..
            }
        ),
        "{joined:?}"
    );
    // A replay that fits is whole.
    let (replayed, joined) = c.join(room, Some(35)).await;
    assert_eq!(replayed.len(), 5);
    assert!(matches!(
        joined,
        ServerFrame::Joined {
            truncated: false,
            ..
        }
    ));
}

#[tokio::test]
async fn a_repeated_nonce_is_never_rate_limited_nor_counted() {
    let stack = Stack::new().await;
    let chat = stack.chat_with(&[("SEND_LIMIT", "5")]).await;
    let (_, room, mut a) = stack.joined_alone(&chat, "ann", "r").await;
    a.say(room, "once", "same").await;
    let first = a.message().await;
    // A client resending after a lost answer, many times, pipelined.
    for _ in 0..20 {
        a.say(room, "once", "same").await;
    }
    for _ in 0..20 {
        match a.frame().await {
            ServerFrame::Message(m) => assert_eq!(m.seq, first.seq),
            other => panic!("expected the stored message again, got {other:?}"),
        }
    }
    // The resends used none of the budget: four new messages fit.
    for k in 0..4 {
        a.say(room, "new", &format!("n{k}")).await;
        assert_eq!(a.message().await.seq, first.seq + 1 + k);
    }
    a.say(room, "one too many", "n4").await;
    assert_eq!(a.error().await.0, "rate_limited");
    assert_eq!(stack.stored_count(room).await, 5);
}

#[tokio::test]
async fn a_repeated_nonce_while_an_earlier_seq_is_unpublished_arrives_in_order() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, room, mut a) = stack.joined_alone(&chat, "ann", "r").await;
    let bob = stack.user("bob").await;
    // Bob's message was stored but its publish was lost; then ann's send
    // committed but its answer was lost too, and she resends it.
    let lost = stack.store_unpublished(&bob, room, "lost").await;
    let mine = stack
        .append_unpublished_as(&ann, room, Stack::text("mine"), "dup-1")
        .await;
    assert_eq!(mine.seq, lost + 1);
    a.say(room, "mine", "dup-1").await;
    let got = a.sequenced(2).await;
    let seqs: Vec<i64> = got
        .iter()
        .map(|f| match f {
            ServerFrame::Message(m) => m.seq,
            other => panic!("expected messages, got {other:?}"),
        })
        .collect();
    assert_eq!(seqs, [lost, lost + 1], "in seq order, the gap filled first");
}
