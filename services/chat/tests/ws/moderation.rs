//! Moderation over the WebSocket: a kicked or banned member's sockets leave
//! the room at once on every chat instance (live, or by catch-up when the
//! publish was lost), a room made private keeps only its members, a muted
//! member reads but cannot post and types unseen, slow mode answers
//! `rate_limited` with `retry_after`, and a private room does not exist for
//! a non-member.

use std::time::Duration;

use common::access::{Role, Visibility};
use common::domain::{Reason, RoomName, Topic};
use common::protocol::{ClientFrame, ServerFrame, UserRef};
use common::store::events::{Appended, Change, Moderation};
use common::store::{members, rooms};

use crate::helpers::{Client, Event, Stack, User, connect};

fn person(u: &User) -> UserRef {
    UserRef {
        id: u.id,
        name: u.name.clone(),
    }
}

fn no_reason() -> Reason {
    Reason::parse("").unwrap()
}

/// A room owned by `owner` with `visibility`, and `people` as members.
async fn room_with(stack: &Stack, owner: &User, visibility: Visibility, people: &[&User]) -> i64 {
    let mut conn = stack.db.connect().await;
    let room = rooms::insert(
        &mut conn,
        &RoomName::parse("club").unwrap(),
        &Topic::parse("").unwrap(),
        visibility,
        owner.id,
    )
    .await
    .unwrap()
    .id;
    for p in people {
        members::add(&mut conn, room, p.id, Role::Member)
            .await
            .unwrap();
    }
    room
}

/// An act of moderation stored and published, as the website does it.
async fn moderate(stack: &Stack, actor: &User, room: i64, act: Moderation) -> Appended {
    let appended = stack
        .append_unpublished(actor, room, Change::Moderate(act))
        .await;
    common::fanout::publish_sequenced(
        &stack.publisher(),
        &stack.prefix,
        room,
        appended.seq,
        &appended.json,
    )
    .await
    .unwrap();
    appended
}

/// Frames up to and including the first `left`, or panics.
async fn until_left(client: &mut Client) -> (Vec<ServerFrame>, Option<String>) {
    let mut seen = Vec::new();
    loop {
        match client.frame().await {
            ServerFrame::Left { reason, .. } => return (seen, reason),
            f => seen.push(f),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kick_takes_every_socket_of_the_member_out_on_every_instance() {
    let stack = Stack::new().await;
    let (a, b) = (stack.chat().await, stack.chat().await);
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let cyd = stack.user("cyd").await;
    let room = room_with(&stack, &ann, Visibility::Private, &[&bob, &cyd]).await;
    let mut ann_a = connect(&a, &ann).await;
    let mut bob_a = connect(&a, &bob).await;
    let mut bob_b = connect(&b, &bob).await;
    let mut cyd_b = connect(&b, &cyd).await;
    for c in [&mut ann_a, &mut bob_a, &mut bob_b, &mut cyd_b] {
        c.join(room, None).await;
    }
    let kick = moderate(
        &stack,
        &ann,
        room,
        Moderation::Kick {
            target: person(&bob),
            reason: Reason::parse("spam").unwrap(),
        },
    )
    .await;
    for bob in [&mut bob_a, &mut bob_b] {
        let (before, reason) = until_left(bob).await;
        assert_eq!(reason.as_deref(), Some("kicked"));
        assert!(
            before
                .iter()
                .any(|f| f.sequenced() == Some((room, kick.seq)))
        );
    }
    // The others see the act, without its reason.
    let seen = cyd_b.sequenced(1).await.remove(0);
    match &seen {
        ServerFrame::Moderation(m) => {
            assert_eq!(
                (m.action.as_str(), m.target.as_ref().map(|t| t.id)),
                ("kick", Some(bob.id))
            );
        }
        other => panic!("expected the kick, got {other:?}"),
    }
    assert!(!serde_json::to_string(&seen).unwrap().contains("spam"));
    // What is said next reaches cyd, not bob; bob can neither rejoin nor post.
    cyd_b.say(room, "bye bob", "c1").await;
    assert_eq!(cyd_b.message().await.body, "bye bob");
    assert_eq!(ann_a.sequenced(2).await.len(), 2);
    bob_b
        .assert_no_more_messages(Duration::from_millis(500))
        .await;
    bob_b.send(&ClientFrame::Join { room, since: None }).await;
    assert_eq!(bob_b.error().await.0, "room_not_found");
    // The connection knows it left: a send is refused before anything else.
    bob_a.say(room, "let me back", "b1").await;
    assert_eq!(bob_a.error().await.0, "not_joined");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ban_whose_publish_was_lost_still_takes_the_member_out() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let room = room_with(&stack, &ann, Visibility::Public, &[&bob]).await;
    let mut bob_c = connect(&chat, &bob).await;
    bob_c.join(room, None).await;
    // Stored, never published: the room learns of it from the next event's gap.
    stack
        .append_unpublished(
            &ann,
            room,
            Change::Moderate(Moderation::Ban {
                target: person(&bob),
                until: None,
                reason: no_reason(),
            }),
        )
        .await;
    stack.store_and_publish(&ann, room, "after the ban").await;
    let (_, reason) = until_left(&mut bob_c).await;
    assert_eq!(reason.as_deref(), Some("banned"));
    // A public room: it exists, but not for bob any more.
    bob_c.send(&ClientFrame::Join { room, since: None }).await;
    assert_eq!(bob_c.error().await.0, "banned");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_room_made_private_keeps_only_its_members_on_every_instance() {
    let stack = Stack::new().await;
    let (a, b) = (stack.chat().await, stack.chat().await);
    let ann = stack.user("ann").await;
    let eve = stack.user("eve").await;
    let room = room_with(&stack, &ann, Visibility::Public, &[]).await;
    let mut ann_a = connect(&a, &ann).await;
    let mut eve_b = connect(&b, &eve).await;
    ann_a.join(room, None).await;
    eve_b.join(room, None).await; // reading a public room needs no membership
    moderate(
        &stack,
        &ann,
        room,
        Moderation::Visibility {
            visibility: Visibility::Private,
        },
    )
    .await;
    let (_, reason) = until_left(&mut eve_b).await;
    assert_eq!(reason.as_deref(), Some("removed"));
    eve_b.send(&ClientFrame::Join { room, since: None }).await;
    assert_eq!(eve_b.error().await.0, "room_not_found");
    // The owner stays.
    ann_a.say(room, "just us", "a1").await;
    let got = ann_a.sequenced(2).await;
    assert!(matches!(got[1], ServerFrame::Message(_)), "{got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_muted_member_reads_but_cannot_post_and_types_unseen() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let room = room_with(&stack, &ann, Visibility::Public, &[&bob]).await;
    let mut ann_c = connect(&chat, &ann).await;
    let mut bob_c = connect(&chat, &bob).await;
    ann_c.join(room, None).await;
    bob_c.join(room, None).await;
    // Typing shows before the mute.
    bob_c.send(&ClientFrame::Typing { room }).await;
    let typed = loop {
        match ann_c.frame().await {
            ServerFrame::Typing { user, .. } => break user.id,
            _ => continue,
        }
    };
    assert_eq!(typed, bob.id);
    moderate(
        &stack,
        &ann,
        room,
        Moderation::Mute {
            target: person(&bob),
            until: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            reason: no_reason(),
        },
    )
    .await;
    assert!(matches!(
        bob_c.sequenced(1).await[0],
        ServerFrame::Moderation(_)
    ));
    assert!(matches!(
        ann_c.sequenced(1).await[0],
        ServerFrame::Moderation(_)
    ));
    bob_c.say(room, "can I?", "b1").await;
    assert_eq!(bob_c.error().await.0, "muted");
    // Typing again (after the throttle) reaches nobody now.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    bob_c.send(&ClientFrame::Typing { room }).await;
    while let Some(event) = ann_c.next_within(Duration::from_millis(800)).await {
        if let Event::Frame(ServerFrame::Typing { user, .. }) = event {
            panic!("typing of a muted member reached {user:?}");
        }
    }
    // Still reading.
    ann_c.say(room, "you can read this", "a1").await;
    assert_eq!(bob_c.message().await.body, "you can read this");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_mode_answers_when_the_next_message_may_come() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let room = room_with(&stack, &ann, Visibility::Public, &[&bob]).await;
    moderate(&stack, &ann, room, Moderation::SlowMode { secs: 60 }).await;
    let mut bob_c = connect(&chat, &bob).await;
    bob_c.join(room, None).await;
    bob_c.say(room, "one", "b1").await;
    assert_eq!(bob_c.message().await.body, "one");
    bob_c.say(room, "two", "b2").await;
    match bob_c.frame().await {
        ServerFrame::Error {
            code, retry_after, ..
        } => {
            assert_eq!(code, "rate_limited");
            assert!(
                retry_after.is_some_and(|s| (55..=60).contains(&s)),
                "{retry_after:?}"
            );
        }
        other => panic!("expected rate_limited, got {other:?}"),
    }
}
