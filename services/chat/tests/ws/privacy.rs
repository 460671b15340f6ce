//! The privacy preferences, enforced by chat: someone with `show_typing`
//! off types unseen, someone with `appear_offline` on is never recorded nor
//! announced in presence (and types unseen too), while they still see
//! everyone else. A change applies from the next join.

use std::time::Duration;

use common::preferences::Patch;
use common::protocol::{ClientFrame, ServerFrame};
use common::store::preferences;

use crate::helpers::{Client, Event, Stack, User, connect};

/// Stores a change of `user`'s preferences, as `PUT /api/v1/me/preferences` does.
async fn set(stack: &Stack, user: &User, change: serde_json::Value) {
    let serde_json::Value::Object(body) = change else {
        panic!("an object");
    };
    let patch = Patch::parse(&body).unwrap();
    let mut conn = stack.db.connect().await;
    preferences::update(&mut conn, user.id, &patch)
        .await
        .unwrap();
}

/// Every frame `client` receives within `wait`.
async fn frames(client: &mut Client, wait: Duration) -> Vec<ServerFrame> {
    let mut out = Vec::new();
    while let Some(event) = client.next_within(wait).await {
        match event {
            Event::Frame(f) => out.push(f),
            Event::Closed(code) => panic!("closed with {code:?}"),
        }
    }
    out
}

/// The ids of the users a `joined` frame lists online.
fn online_ids(joined: &ServerFrame) -> Vec<i64> {
    match joined {
        ServerFrame::Joined { online, .. } => online.iter().map(|u| u.id).collect(),
        other => panic!("not joined: {other:?}"),
    }
}

/// Whether `frames` say anything about `user` (presence or typing).
fn about(frames: &[ServerFrame], user: &User) -> Vec<String> {
    frames
        .iter()
        .filter(|f| match f {
            ServerFrame::Presence { user: u, .. } | ServerFrame::Typing { user: u, .. } => {
                u.id == user.id
            }
            _ => false,
        })
        .map(|f| f.to_json())
        .collect()
}

#[tokio::test]
async fn hidden_typing_and_appearing_offline_are_enforced_by_the_server() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let quiet = stack.user("quiet").await;
    let ghost = stack.user("ghost").await;
    let plain = stack.user("plain").await;
    set(&stack, &quiet, serde_json::json!({"show_typing": false})).await;
    set(&stack, &ghost, serde_json::json!({"appear_offline": true})).await;
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&chat, &ann).await;
    a.join(room, None).await;
    let settle = Duration::from_millis(700);

    // Someone who hides their typing: online, but their typing goes nowhere.
    let mut q = connect(&chat, &quiet).await;
    q.join(room, None).await;
    q.send(&ClientFrame::Typing { room }).await;
    let seen = frames(&mut a, settle).await;
    let said = about(&seen, &quiet);
    assert_eq!(said.len(), 1, "only quiet's arrival: {said:?}");
    assert!(
        matches!(&seen[..], [ServerFrame::Presence { online: true, .. }]),
        "{seen:?}"
    );

    // Someone who appears offline: no presence, no typing; they see others.
    let mut g = connect(&chat, &ghost).await;
    let (_, joined) = g.join(room, None).await;
    let online = online_ids(&joined);
    assert!(
        online.contains(&ann.id) && online.contains(&quiet.id),
        "{online:?}"
    );
    assert!(
        !online.contains(&ghost.id),
        "not even to themselves: {online:?}"
    );
    g.send(&ClientFrame::Typing { room }).await;
    let seen = frames(&mut a, settle).await;
    assert!(about(&seen, &ghost).is_empty(), "{seen:?}");

    // A normal user is seen arriving and typing: the checks above can fail.
    let mut p = connect(&chat, &plain).await;
    let (_, joined) = p.join(room, None).await;
    assert!(
        !online_ids(&joined).contains(&ghost.id),
        "not listed to others"
    );
    p.send(&ClientFrame::Typing { room }).await;
    let seen = frames(&mut a, settle).await;
    assert_eq!(
        about(&seen, &plain).len(),
        2,
        "arrival and typing: {seen:?}"
    );

    // The ghost leaving is no news either; the others' leaving is.
    drop(g);
    drop(q);
    let seen = frames(&mut a, Duration::from_millis(1500)).await;
    assert!(about(&seen, &ghost).is_empty(), "{seen:?}");
    assert_eq!(
        about(&seen, &quiet).len(),
        1,
        "quiet went offline: {seen:?}"
    );
}

#[tokio::test]
async fn a_change_of_privacy_applies_from_the_next_join() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&chat, &ann).await;
    a.join(room, None).await;
    let mut b = connect(&chat, &bob).await;
    b.join(room, None).await;
    let settle = Duration::from_millis(700);
    assert_eq!(
        about(&frames(&mut a, settle).await, &bob).len(),
        1,
        "bob arrived"
    );

    // Bob now appears offline: his next join takes him out of presence.
    set(&stack, &bob, serde_json::json!({"appear_offline": true})).await;
    b.send(&ClientFrame::Typing { room }).await;
    assert_eq!(
        about(&frames(&mut a, settle).await, &bob).len(),
        1,
        "typing still seen until the next join"
    );
    b.send(&ClientFrame::Join { room, since: None }).await;
    let seen = frames(&mut a, settle).await;
    assert!(
        seen.iter().any(
            |f| matches!(f, ServerFrame::Presence { user, online: false, .. } if user.id == bob.id)
        ),
        "bob went offline for others: {seen:?}"
    );
    b.send(&ClientFrame::Typing { room }).await;
    assert!(about(&frames(&mut a, settle).await, &bob).is_empty());

    // Visible again from the next join.
    set(&stack, &bob, serde_json::json!({"appear_offline": false})).await;
    b.send(&ClientFrame::Join { room, since: None }).await;
    let seen = frames(&mut a, settle).await;
    assert!(
        seen.iter().any(
            |f| matches!(f, ServerFrame::Presence { user, online: true, .. } if user.id == bob.id)
        ),
        "bob is back: {seen:?}"
    );
}
