//! Nothing is lost, duplicated or reordered when Redis restarts or a chat
//! instance dies while messages flow; SIGTERM closes sockets with 1001;
//! presence of a dead instance's users expires.

use std::time::Duration;

use common::protocol::{ChatMessage, ServerFrame, UserRef};
use test_support::RedisProcess;

use crate::helpers::*;

/// Sends `body` with `nonce` until it is acknowledged (its echo), resending
/// the same nonce after `unavailable` or a lost connection, as the room
/// page's script does. Returns the acknowledged message and what else arrived.
async fn send_until_acked(
    c: &mut Client,
    room: i64,
    body: &str,
    nonce: &str,
    seen: &mut Vec<ChatMessage>,
) -> ChatMessage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{nonce} was never acknowledged"
        );
        c.say(room, body, nonce).await;
        loop {
            match c.next().await {
                Event::Frame(ServerFrame::Message(m)) => {
                    seen.push(m.clone());
                    if m.nonce == nonce {
                        return m;
                    }
                }
                Event::Frame(ServerFrame::Error { code, .. }) => {
                    assert_eq!(code, "unavailable", "only outages may refuse a send");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
                Event::Frame(_) => {}
                Event::Closed(code) => panic!("sender closed with {code:?}"),
            }
        }
    }
}

/// Reads messages until one with `last` seq arrived.
async fn read_through(c: &mut Client, got: &mut Vec<ChatMessage>, last: i64) {
    while got.last().is_none_or(|m| m.seq < last) {
        got.push(c.message().await);
    }
}

#[tokio::test]
async fn a_redis_restart_while_messages_flow_loses_duplicates_and_reorders_nothing() {
    let mut redis = Some(RedisProcess::start());
    let stack = Stack::with_redis(redis.as_ref().unwrap().url()).await;
    let (x, y) = (stack.chat().await, stack.chat().await);
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let mut sender = connect(&x, &ann).await;
    sender.join(room, None).await;
    let mut watcher = connect(&y, &bob).await;
    watcher.join(room, None).await;
    let mut echoes = Vec::new();
    let mut restarted = None;
    for i in 1..=40 {
        if i == 15 {
            // Down for 1.5 s while the sender keeps trying.
            restarted = Some(outage(redis.take().unwrap(), Duration::from_millis(1500)));
        }
        send_until_acked(
            &mut sender,
            room,
            &format!("m{i}"),
            &format!("n{i}"),
            &mut echoes,
        )
        .await;
    }
    let _redis = restarted.map(|t| t.join().unwrap());
    assert_complete(&echoes, 1, 40);
    let mut got = Vec::new();
    read_through(&mut watcher, &mut got, 40).await;
    assert_complete(&got, 1, 40);
    assert_eq!(stack.stored_count(room).await, 40);
}

#[tokio::test]
async fn a_killed_instance_s_clients_resume_on_another_with_nothing_lost() {
    let stack = Stack::new().await;
    let mut x = stack.chat().await;
    let y = stack.chat().await;
    let (ann, bob, cat) = (
        stack.user("ann").await,
        stack.user("bob").await,
        stack.user("cat").await,
    );
    let room = stack.room(&ann, "r").await;
    let mut on_x = connect(&x, &bob).await;
    on_x.join(room, None).await;
    let mut on_y = connect(&y, &cat).await;
    on_y.join(room, None).await;
    let mut sender = connect(&y, &ann).await;
    sender.join(room, None).await;
    let mut echoes = Vec::new();
    let mut bob_got = Vec::new();
    for i in 1..=30 {
        send_until_acked(
            &mut sender,
            room,
            &format!("m{i}"),
            &format!("n{i}"),
            &mut echoes,
        )
        .await;
        if i == 10 {
            read_through(&mut on_x, &mut bob_got, 10).await;
            x.kill();
            assert!(
                matches!(on_x.next().await, Event::Closed(_)),
                "the killed instance's socket drops"
            );
        }
    }
    // Bob reconnects to the survivor and resumes from the last seq he holds.
    let mut resumed = connect(&y, &bob).await;
    let (replay, _) = resumed.join(room, Some(bob_got.last().unwrap().seq)).await;
    bob_got.extend(replay);
    assert_complete(&bob_got, 1, 30);
    let mut cat_got = Vec::new();
    read_through(&mut on_y, &mut cat_got, 30).await;
    assert_complete(&cat_got, 1, 30);
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_and_exits_cleanly() {
    let stack = Stack::new().await;
    let mut chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let mut c = connect(&chat, &ann).await;
    let mut child = chat.terminate();
    assert_eq!(c.closed().await, Some(1001));
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn users_of_a_dead_instance_go_offline_when_their_presence_expires() {
    let stack = Stack::new().await;
    let env = [("PRESENCE_TTL_SECS", "3")];
    let mut x = stack.chat_with(&env).await;
    let y = stack.chat_with(&env).await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&x, &ann).await;
    a.join(room, None).await;
    let mut b = connect(&y, &bob).await;
    b.join(room, None).await;
    x.kill();
    drop(a);
    let ann_ref = UserRef {
        id: ann.id,
        name: "ann".into(),
    };
    let started = std::time::Instant::now();
    assert_eq!(
        b.frame().await,
        ServerFrame::Presence {
            room,
            user: ann_ref,
            online: false
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let (_, joined) = connect(&y, &stack.user("cat").await)
        .await
        .join(room, None)
        .await;
    assert!(
        matches!(joined, ServerFrame::Joined { ref online, .. } if online.iter().all(|u| u.id != ann.id))
    );
}

/// Holds a room's row lock, as a deletion or another instance's writer
/// would, until the returned connection commits.
async fn hold_room_lock(stack: &Stack, room: i64) -> diesel_async::AsyncPgConnection {
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
    let mut conn = stack.db.connect().await;
    conn.batch_execute("BEGIN").await.unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM room_seqs WHERE room_id = {room} FOR UPDATE"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn
}

#[tokio::test]
async fn a_locked_room_does_not_hold_back_other_rooms() {
    use diesel_async::SimpleAsyncConnection;
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    // Two rooms of one writer shard (rooms spread over 4 by id).
    let locked = stack.room(&ann, "locked").await;
    let mut free = stack.room(&ann, "free0").await;
    for k in 1.. {
        if free % 4 == locked % 4 {
            break;
        }
        free = stack.room(&ann, &format!("free{k}")).await;
    }
    let mut a = connect(&chat, &ann).await;
    a.join(locked, None).await;
    let mut b = connect(&chat, &ann).await;
    b.join(free, None).await;
    let mut holder = hold_room_lock(&stack, locked).await;
    a.say(locked, "waits for the lock", "a1").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = std::time::Instant::now();
    b.say(free, "goes first", "b1").await;
    let echo = b.message().await;
    assert_eq!(echo.nonce, "b1");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "the free room waited {:?}",
        sent.elapsed()
    );
    assert!(a.next_within(Duration::from_millis(300)).await.is_none());
    holder.batch_execute("COMMIT").await.unwrap();
    let echo = a.message().await;
    assert_eq!(echo.nonce, "a1", "written once the lock is free");
    // The room is back in the shared batches, in order.
    a.say(locked, "after", "a2").await;
    assert_eq!(a.message().await.seq, echo.seq + 1);
}

#[tokio::test]
async fn a_change_still_queued_at_its_deadline_is_never_stored() {
    use diesel_async::SimpleAsyncConnection;
    let stack = Stack::new().await;
    // One room at a time may wait for its lock; answers within 2 s.
    let chat = stack
        .chat_with(&[("WRITER_DEADLINE_SECS", "2"), ("WRITER_SLOW_LANES", "1")])
        .await;
    let ann = stack.user("ann").await;
    let (first, second) = (
        stack.room(&ann, "first").await,
        stack.room(&ann, "second").await,
    );
    let mut c = connect(&chat, &ann).await;
    c.join(first, None).await;
    c.join(second, None).await;
    let mut first_lock = hold_room_lock(&stack, first).await;
    let mut second_lock = hold_room_lock(&stack, second).await;
    // The first room's write waits for its lock; the second's waits behind
    // it, still queued, until both answers are given up.
    c.say(first, "in flight", "f1").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.say(second, "still queued", "s1").await;
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(c.error().await);
    }
    answers.sort();
    assert_eq!(
        answers,
        [
            ("unavailable".to_string(), Some("f1".to_string())),
            ("unavailable".to_string(), Some("s1".to_string()))
        ]
    );
    second_lock.batch_execute("COMMIT").await.unwrap();
    first_lock.batch_execute("COMMIT").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The queued one was dropped, as its answer said; a resend stores it once.
    assert_eq!(stack.stored_count(second).await, 0);
    c.say(second, "still queued", "s1").await;
    // (The first room's write was under way: it may have landed since.)
    while c.message().await.nonce != "s1" {}
    assert_eq!(stack.stored_count(second).await, 1);
}
