//! Room events beyond new messages (protocol.md "Room events"): edits,
//! deletions, reactions and read marks obey every guarantee of a message
//! (order across instances, replay after `since`, a lost publish recovered,
//! idempotent resends), bad requests get their error code and change
//! nothing, and `unread` frames keep a member's other connections current.

use std::time::Duration;

use common::protocol::{ClientFrame, ServerFrame};
use common::store::events::Change;

use crate::helpers::*;

fn edit(room: i64, id: i64, body: &str, nonce: &str) -> ClientFrame {
    ClientFrame::Edit {
        room,
        id,
        body: body.into(),
        nonce: nonce.into(),
    }
}

fn delete(room: i64, id: i64, nonce: &str) -> ClientFrame {
    ClientFrame::Delete {
        room,
        id,
        nonce: nonce.into(),
    }
}

fn react(room: i64, id: i64, emoji: &str, on: bool, nonce: &str) -> ClientFrame {
    ClientFrame::React {
        room,
        id,
        emoji: emoji.into(),
        on,
        nonce: nonce.into(),
    }
}

#[tokio::test]
async fn edits_deletes_and_reactions_reach_every_member_in_seq_order_across_instances() {
    let stack = Stack::new().await;
    let (x, y) = (stack.chat().await, stack.chat().await);
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let (mut a, mut b) = (connect(&x, &ann).await, connect(&y, &bob).await);
    a.join(room, None).await;
    b.join(room, None).await;
    a.send(&ClientFrame::Send {
        room,
        body: "**hello** @bob".into(),
        nonce: "a1".into(),
        reply_to: None,
        attachments: Vec::new(),
    })
    .await;
    let hello = a.message().await;
    for part in [
        "<strong>hello</strong>".to_owned(),
        r#"class="mention""#.to_owned(),
        r#"href="/users/bob""#.to_owned(),
        format!(r#"data-user="{}""#, bob.id),
    ] {
        assert!(hello.html.contains(&part), "{part} in {}", hello.html);
    }
    assert_eq!(hello.mentions, [bob.id]);
    assert_eq!(b.message().await, hello);
    b.send(&ClientFrame::Send {
        room,
        body: "hi".into(),
        nonce: "b1".into(),
        reply_to: Some(hello.id),
        attachments: Vec::new(),
    })
    .await;
    a.send(&edit(room, hello.id, "hello again", "a2")).await;
    b.send(&react(room, hello.id, "👍", true, "b2")).await;
    a.send(&react(room, hello.id, "👍", true, "a3")).await;
    b.send(&react(room, hello.id, "👍", false, "b3")).await;
    // Both members see the same events, each once, in seq order.
    let (seen_a, seen_b) = (a.sequenced(5).await, b.sequenced(5).await);
    assert_eq!(seen_a, seen_b);
    let seqs: Vec<i64> = seen_a
        .iter()
        .filter_map(|f| f.sequenced())
        .map(|(_, s)| s)
        .collect();
    assert_eq!(seqs, (2..=6).collect::<Vec<_>>());
    let reply = seen_a.iter().find_map(|f| match f {
        ServerFrame::Message(m) if m.reply_to.is_some() => m.reply_to.clone(),
        _ => None,
    });
    let reply = reply.expect("the reply arrived");
    // The quote is of the text when the reply was stored: before or after the edit.
    assert_eq!(reply.id, hello.id);
    assert!(
        ["hello @bob", "hello again"].contains(&reply.excerpt.as_str()),
        "{reply:?}"
    );
    let counts: Vec<(bool, i64)> = seen_a
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Reaction(r) => Some((r.on, r.count)),
            _ => None,
        })
        .collect();
    assert_eq!(counts.len(), 3);
    // ann's a3 and bob's b3 race (two instances): whichever is stored
    // last, one reaction (ann's) is left.
    assert_eq!(counts.last().map(|(_, n)| *n), Some(1), "one reaction left");
    assert!(seen_a.iter().any(|f| matches!(f, ServerFrame::Edited(e) if e.body == "hello again" && e.html == "<p>hello again</p>")));
    a.send(&delete(room, hello.id, "a4")).await;
    for c in [&mut a, &mut b] {
        let ServerFrame::Deleted { id, seq, .. } = c.sequenced(1).await.remove(0) else {
            panic!("not a deletion")
        };
        assert_eq!((id, seq), (hello.id, 7));
    }
}

#[tokio::test]
async fn replay_after_since_carries_every_kind_with_deleted_text_redacted() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&chat, &ann).await;
    a.join(room, None).await;
    a.say(room, "the secret plan", "a1").await;
    let secret = a.message().await;
    a.say(room, "keep this", "a2").await;
    a.message().await;
    a.send(&edit(room, secret.id, "the secret plan, v2", "a3"))
        .await;
    a.send(&react(room, secret.id, "🎉", true, "a4")).await;
    a.send(&delete(room, secret.id, "a5")).await;
    a.sequenced(3).await;
    let mut late = connect(&chat, &bob).await;
    let (replay, joined) = late.join_all(room, Some(0)).await;
    assert!(matches!(joined, ServerFrame::Joined { last_seq: 5, .. }));
    let seqs: Vec<i64> = replay
        .iter()
        .filter_map(|f| f.sequenced())
        .map(|(_, s)| s)
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let text: String = replay.iter().map(ServerFrame::to_json).collect();
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("keep this"));
    let ServerFrame::Message(first) = &replay[0] else {
        panic!("{replay:?}")
    };
    assert!(first.deleted && first.body.is_empty() && first.html.is_empty());
    let ServerFrame::Edited(e) = &replay[2] else {
        panic!("{replay:?}")
    };
    assert!(e.deleted && e.body.is_empty());
    // Replay from the middle starts after `since`, whatever the kinds.
    let mut mid = connect(&chat, &bob).await;
    let (replay, _) = mid.join_all(room, Some(3)).await;
    assert_eq!(
        replay
            .iter()
            .filter_map(|f| f.sequenced())
            .map(|(_, s)| s)
            .collect::<Vec<_>>(),
        [4, 5]
    );
}

#[tokio::test]
async fn an_edit_whose_publish_was_lost_is_delivered_by_catch_up() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, room, mut a) = stack.joined_alone(&chat, "ann", "r").await;
    a.say(room, "one", "a1").await;
    let one = a.message().await;
    // Stored, never published: the sender died between commit and publish.
    let body = common::domain::MessageBody::parse("one, edited").unwrap();
    stack
        .append_unpublished(
            &ann,
            room,
            Change::Edit {
                id: one.id,
                body,
                html: "<p>one, edited</p>".into(),
                mentions: vec![],
            },
        )
        .await;
    let got = tokio::time::timeout(Duration::from_secs(30), a.sequenced(1))
        .await
        .expect("the catch-up delivers within 30 s");
    assert!(matches!(&got[0], ServerFrame::Edited(e) if e.seq == 2 && e.body == "one, edited"));
}

#[tokio::test]
async fn every_kind_resent_with_its_nonce_is_stored_once_and_answers_the_stored_event() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (_, room, mut a) = stack.joined_alone(&chat, "ann", "r").await;
    a.say(room, "one", "a1").await;
    let one = a.message().await;
    let two_id = {
        a.say(room, "two", "a2").await;
        a.message().await.id
    };
    for frame in [
        edit(room, one.id, "one!", "e1"),
        react(room, one.id, "👀", true, "r1"),
        delete(room, two_id, "d1"),
    ] {
        a.send(&frame).await;
        let first = a.sequenced(1).await.remove(0);
        a.send(&frame).await;
        let again = a.sequenced(1).await.remove(0);
        assert_eq!(first.sequenced(), again.sequenced(), "{frame:?}");
    }
    assert_eq!(
        stack.stored_count(room).await,
        5,
        "three changes, each once"
    );
}

#[tokio::test]
async fn bad_changes_get_their_error_code_and_change_nothing() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let other = stack.room(&ann, "other").await;
    let mut a = connect(&chat, &ann).await;
    let mut b = connect(&chat, &bob).await;
    a.join(room, None).await;
    a.join(other, None).await;
    b.join(room, None).await;
    a.say(room, "mine", "a1").await;
    let mine = a.message().await;
    b.message().await;
    a.say(other, "elsewhere", "a2").await;
    let elsewhere = a.message().await;
    let cases = [
        (edit(room, mine.id, "hijacked", "b1"), "not_author"),
        (delete(room, mine.id, "b2"), "forbidden"),
        (
            edit(room, elsewhere.id, "wrong room", "b3"),
            "message_not_found",
        ),
        (edit(room, 999_999, "unknown", "b4"), "message_not_found"),
        (react(room, mine.id, "ab", true, "b5"), "bad_emoji"),
        (react(room, mine.id, "👍👍", true, "b6"), "bad_emoji"),
        (
            ClientFrame::Send {
                room,
                body: "re".into(),
                nonce: "b7".into(),
                reply_to: Some(elsewhere.id),
                attachments: Vec::new(),
            },
            "message_not_found",
        ),
        (edit(room, mine.id, "   ", "b8"), "empty"),
        (ClientFrame::Read { room, seq: 1 }, "forbidden"), // not a member yet
    ];
    for (frame, code) in cases {
        b.send(&frame).await;
        assert_eq!(b.error().await.0, code, "{frame:?}");
    }
    // The connection is still open and nothing was stored.
    assert_eq!(stack.stored_count(room).await, 1);
    b.say(room, "still here", "b9").await;
    assert_eq!(b.message().await.seq, 2);
    // Now a member (by writing), with a read mark at 2.
    b.send(&ClientFrame::Read { room, seq: 99 }).await;
    assert_eq!(b.error().await.0, "bad_read_mark");
    b.send(&ClientFrame::Read { room, seq: 1 }).await;
    assert_eq!(b.error().await.0, "read_mark_behind");
    // Changing a message after deleting it: gone.
    a.send(&delete(room, mine.id, "a3")).await;
    a.send(&edit(room, mine.id, "back?", "a4")).await;
    let mut codes = Vec::new();
    while codes.is_empty() {
        if let ServerFrame::Error { code, .. } = a.frame().await {
            codes.push(code);
        }
    }
    assert_eq!(codes, ["message_not_found"]);
}

#[tokio::test]
async fn unread_frames_keep_a_members_other_connections_current_across_instances() {
    let stack = Stack::new().await;
    let (x, y) = (stack.chat().await, stack.chat().await);
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let busy = stack.room(&ann, "busy").await;
    let quiet = stack.room(&bob, "quiet").await;
    // Bob becomes a member of `busy` by writing in it.
    let mut b1 = connect(&y, &bob).await;
    b1.join(busy, None).await;
    b1.say(busy, "hi", "b1").await;
    b1.message().await;
    b1.send(&ClientFrame::Leave { room: busy }).await;
    // Bob's sidebar connection on instance x is in `quiet` only.
    let mut sidebar = connect(&x, &bob).await;
    sidebar.join(quiet, None).await;
    let mut a = connect(&y, &ann).await;
    a.join(busy, None).await;
    a.say(busy, "one", "a1").await;
    a.say(busy, "two @bob", "a2").await;
    a.say(busy, "three", "a3").await;
    let last = sidebar
        .unread_where(busy, |f| {
            matches!(f, ServerFrame::Unread { last_seq: 4, .. })
        })
        .await;
    assert_eq!(
        last,
        ServerFrame::Unread {
            room: busy,
            last_seq: 4,
            read_seq: 1,
            unread: 3,
            mentions: 1
        }
    );
    // Reading on another device clears the badge everywhere.
    let mut phone = connect(&y, &bob).await;
    phone.send(&ClientFrame::Read { room: busy, seq: 4 }).await;
    let cleared = sidebar
        .unread_where(busy, |f| {
            matches!(f, ServerFrame::Unread { read_seq: 4, .. })
        })
        .await;
    assert!(
        matches!(
            cleared,
            ServerFrame::Unread {
                unread: 0,
                mentions: 0,
                ..
            }
        ),
        "{cleared:?}"
    );
}

#[tokio::test]
async fn a_burst_of_events_costs_one_unread_frame_not_one_per_event() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let home = stack.room(&bob, "home").await;
    let mut b = connect(&chat, &bob).await;
    b.join(room, None).await;
    b.say(room, "hi", "b1").await;
    b.message().await;
    b.send(&ClientFrame::Leave { room }).await;
    assert_eq!(b.frame().await, ServerFrame::Left { room, reason: None });
    b.join(home, None).await;
    // Writing made bob a member: the connection now follows the room.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..20 {
        stack.store_and_publish(&ann, room, &format!("m{i}")).await;
    }
    let mut frames = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Some(event) = b.next_within(deadline - tokio::time::Instant::now()).await {
        if let Event::Frame(ServerFrame::Unread { room: r, .. }) = event
            && r == room
        {
            frames += 1;
        }
    }
    assert!(
        (1..=3).contains(&frames),
        "{frames} unread frames for one burst of 20"
    );
}

/// Sends `frame` until its echo (the event with `nonce`) arrives, resending
/// the same nonce after `unavailable`, as a client does. Returns the echo.
async fn until_acked(c: &mut Client, frame: &ClientFrame, nonce: &str) -> ServerFrame {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{nonce} never acknowledged"
        );
        c.send(frame).await;
        loop {
            match c.frame().await {
                ServerFrame::Error { code, .. } => {
                    assert_eq!(code, "unavailable", "only outages may refuse a change");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
                f => {
                    if f.to_json().contains(&format!(r#""nonce":"{nonce}""#)) {
                        return f;
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn a_redis_restart_while_reactions_and_edits_flow_loses_and_reorders_nothing() {
    let mut redis = Some(test_support::RedisProcess::start());
    let stack = Stack::with_redis(redis.as_ref().unwrap().url()).await;
    let (x, y) = (stack.chat().await, stack.chat().await);
    let (ann, bob) = (stack.user("ann").await, stack.user("bob").await);
    let room = stack.room(&ann, "r").await;
    let mut sender = connect(&x, &ann).await;
    sender.join(room, None).await;
    let mut watcher = connect(&y, &bob).await;
    watcher.join(room, None).await;
    sender.say(room, "react to me", "m").await;
    let id = sender.message().await.id;
    let mut restarted = None;
    for i in 1..=24 {
        if i == 8 {
            restarted = Some(outage(redis.take().unwrap(), Duration::from_millis(1500)));
        }
        let nonce = format!("c{i}");
        let frame = if i % 3 == 0 {
            edit(room, id, &format!("version {i}"), &nonce)
        } else {
            react(room, id, "🔥", i % 2 == 1, &nonce)
        };
        until_acked(&mut sender, &frame, &nonce).await;
    }
    let _redis = restarted.map(|t| t.join().unwrap());
    let last = stack.stored_count(room).await;
    assert_eq!(last, 25, "the message and 24 changes, each once");
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|s| *s < last) {
        let f = watcher.sequenced(1).await.remove(0);
        seqs.extend(f.sequenced().map(|(_, s)| s));
    }
    assert_eq!(
        seqs,
        (1..=25).collect::<Vec<_>>(),
        "in order, no gap, no duplicate"
    );
}

/// An emotion tag as the worker appends it: an annotation by the bot.
fn emotion(id: i64, label: &str) -> Change {
    Change::Annotate {
        id,
        kind: "emotion".into(),
        labels: vec![common::protocol::ScoredLabel {
            label: label.into(),
            score: common::protocol::Score::new(0.9),
        }],
        model: "emotion-v1".into(),
        text: String::new(),
    }
}

#[tokio::test]
async fn annotations_arrive_live_are_recovered_when_unpublished_and_replay_after_since() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&chat, &ann).await;
    a.join(room, None).await;
    a.say(room, "what a lovely day", "a1").await;
    let said = a.message().await;
    let bot = {
        let mut conn = stack.db.connect().await;
        let b = common::store::users::bot(&mut conn).await.unwrap();
        // The bot never connects: its token and session are not needed.
        User {
            id: b.id,
            name: b.username,
            token: String::new(),
            session: uuid::Uuid::nil(),
        }
    };
    // Published, as the worker publishes once its transaction commits.
    let tagged = stack
        .append_unpublished(&bot, room, emotion(said.id, "joy"))
        .await;
    common::fanout::publish_sequenced(
        &stack.publisher(),
        &stack.prefix,
        room,
        tagged.seq,
        &tagged.json,
    )
    .await
    .unwrap();
    let ServerFrame::Annotation(live) = a.sequenced(1).await.remove(0) else {
        panic!("not an annotation")
    };
    assert_eq!(
        (live.id, live.seq, live.labels[0].label.as_str()),
        (said.id, 2, "joy")
    );
    // Not published (the worker died between commit and publish): the
    // next event's gap brings it from the log.
    stack
        .append_unpublished(&bot, room, emotion(said.id, "surprise"))
        .await;
    stack.store_and_publish(&ann, room, "and another").await;
    let next = a.sequenced(2).await;
    assert!(
        matches!(&next[0], ServerFrame::Annotation(x) if x.seq == 3 && x.labels[0].label == "surprise"),
        "{next:?}"
    );
    assert!(matches!(&next[1], ServerFrame::Message(m) if m.seq == 4));
    // A late reader replays them in order.
    let mut late = connect(&chat, &stack.user("cat").await).await;
    let (replay, _) = late.join_all(room, Some(1)).await;
    let kinds: Vec<(i64, bool)> = replay
        .iter()
        .filter_map(|f| {
            f.sequenced()
                .map(|(_, s)| (s, matches!(f, ServerFrame::Annotation(_))))
        })
        .collect();
    assert_eq!(kinds, vec![(2, true), (3, true), (4, false)]);
}

/// Stores a pending upload of `user`'s in `room` as the website does
/// (its rows; the bytes are the website's business) and returns its id.
async fn pending_upload(stack: &Stack, user: &User, room: i64, name: &str) -> String {
    use common::store::{attachments, blobs};
    let token = format!("up{}", uuid::Uuid::new_v4().simple());
    let sha = format!("{:064x}", rand_sha(&token));
    let mut conn = stack.db.connect().await;
    blobs::register(&mut conn, &sha, 5).await.unwrap();
    attachments::insert_pending(
        &mut conn,
        &attachments::NewAttachment {
            token: token.clone(),
            room_id: room,
            user_id: user.id,
            kind: common::protocol::AttachmentKind::File,
            name: name.into(),
            mime: "text/plain".into(),
            size: 5,
            blob: sha,
            thumb_blob: None,
            play_blob: None,
            details: Default::default(),
        },
    )
    .await
    .unwrap();
    token
}

/// A stand-in sum for a blob name (any 64 hex digits).
fn rand_sha(seed: &str) -> u128 {
    seed.bytes().fold(7u128, |h, b| {
        h.wrapping_mul(131).wrapping_add(u128::from(b))
    })
}

#[tokio::test]
async fn a_message_sends_its_uploads_live_and_only_its_author_may_send_them() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let room = stack.room(&ann, "r").await;
    let mut a = connect(&chat, &ann).await;
    let mut b = connect(&chat, &bob).await;
    a.join(room, None).await;
    b.join(room, None).await;
    let first = pending_upload(&stack, &ann, room, "notes.txt").await;
    let second = pending_upload(&stack, &ann, room, "plan.txt").await;

    // Someone else's upload: refused with a code, nothing stored.
    b.send(&ClientFrame::Send {
        room,
        body: "mine now".into(),
        nonce: "b1".into(),
        reply_to: None,
        attachments: vec![first.clone()],
    })
    .await;
    assert_eq!(b.error().await.0, "attachment_not_found");

    a.send(&ClientFrame::Send {
        room,
        body: String::new(),
        nonce: "a1".into(),
        reply_to: None,
        attachments: vec![second.clone(), first.clone()],
    })
    .await;
    let seen = b.message().await;
    let names: Vec<&str> = seen.attachments.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["plan.txt", "notes.txt"], "in the order sent");
    assert_eq!(seen.attachments[0].url, format!("/files/{second}/plan.txt"));
    assert_eq!(seen.body, "");
    assert_eq!(a.message().await.attachments.len(), 2);

    // Sent once: not again.
    a.send(&ClientFrame::Send {
        room,
        body: "again".into(),
        nonce: "a2".into(),
        reply_to: None,
        attachments: vec![first],
    })
    .await;
    assert_eq!(a.error().await.0, "attachment_not_found");
    // A late reader's replay carries them.
    let mut late = connect(&chat, &stack.user("cat").await).await;
    let (replay, _) = late.join_all(room, Some(0)).await;
    assert!(
        replay
            .iter()
            .any(|f| matches!(f, ServerFrame::Message(m) if m.attachments.len() == 2)),
        "{replay:?}"
    );
}
