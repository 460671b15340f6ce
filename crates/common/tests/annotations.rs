//! Annotation events through the one write path: sequenced like any event,
//! never a membership or a read mark, the latest per kind in history and in
//! the mood's counts, gone with the message, and refused for a message that
//! is gone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, DurationRound, Utc};
use common::protocol::{ServerFrame, UserRef};
use common::store::annotations::{self, EMOTION};
use common::store::events::{self, Change, EventDraft};
use common::store::{members, messages};
use test_support::TestDb;
use test_support::store::*;

fn tag(bot: &UserRef, id: i64, nonce: &str, labels: &[(&str, f32)]) -> EventDraft {
    emotion_tag(bot, id, nonce, labels, "emotion-test")
}

#[tokio::test]
async fn an_annotation_is_a_sequenced_event_kept_per_kind_and_gone_with_its_message() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "lounge", &ann).await;
    let bot = bot(&mut conn).await;
    let sent = append(
        &mut conn,
        room,
        &[say(&ann, "what a day", "a"), say(&ann, "so it goes", "b")],
    )
    .await;
    let (first, second) = (message_id(&sent[0]), message_id(&sent[1]));

    let done = append(
        &mut conn,
        room,
        &[tag(
            &bot,
            first,
            "emotion-1",
            &[("joy", 0.91234), ("surprise", 0.12)],
        )],
    )
    .await;
    let ServerFrame::Annotation(a) = &done[0].frame else {
        panic!("{:?}", done[0].frame)
    };
    assert_eq!((a.seq, a.id, a.kind.as_str()), (3, first, "emotion"));
    assert_eq!(
        a.labels[0].score.get(),
        0.912,
        "scores are rounded to 3 decimals"
    );
    assert!(
        done[0].json.contains(r#""type":"annotation""#),
        "{}",
        done[0].json
    );
    // The bot became no member and moved no read mark.
    assert!(
        members::last_read(&mut conn, room, bot.id)
            .await
            .unwrap()
            .is_none()
    );

    // The same nonce again stores nothing; a new one replaces the row.
    let again = append(
        &mut conn,
        room,
        &[tag(&bot, first, "emotion-1", &[("joy", 0.5)])],
    )
    .await;
    assert!(!again[0].created);
    append(
        &mut conn,
        room,
        &[tag(&bot, first, "emotion-2", &[("sadness", 0.7)])],
    )
    .await;
    append(
        &mut conn,
        room,
        &[tag(&bot, second, "emotion-3", &[("anger", 0.8)])],
    )
    .await;
    let page = messages::page_before(&mut conn, room, None, 10, ann.id)
        .await
        .unwrap();
    let shown = page.iter().find(|m| m.id == first).unwrap();
    assert_eq!(shown.annotations.len(), 1);
    assert_eq!(shown.annotations[0].labels[0].label, "sadness");
    assert_eq!(shown.annotations[0].seq, 4);

    // Which event set each message's text: its creation, or its last edit.
    append(&mut conn, room, &[edit(&ann, second, "so it went", "e")]).await;
    let texts = events::last_text_seqs(&mut conn, &[room], &[first, second])
        .await
        .unwrap();
    assert_eq!((texts[&first], texts[&second]), (1, 6));

    // Empty labels take the tag back.
    append(&mut conn, room, &[tag(&bot, second, "emotion-4", &[])]).await;
    assert!(
        annotations::annotated_among(&mut conn, &[room], &[second], EMOTION)
            .await
            .unwrap()
            .is_empty()
    );

    // A deletion takes the row and empties the stored frames.
    append(
        &mut conn,
        room,
        &[draft(&ann, "c", Change::Delete { id: first })],
    )
    .await;
    assert!(
        annotations::of_messages(&mut conn, &[room], &[first])
            .await
            .unwrap()
            .is_empty()
    );
    for (_, json) in events::after(&mut conn, room, 0, 100).await.unwrap() {
        if let ServerFrame::Annotation(a) = serde_json::from_str(&json).unwrap()
            && a.id == first
        {
            assert!(a.labels.is_empty(), "{json}");
        }
    }
    // And a tag of a deleted message is refused, taking no seq.
    let late = events::append_batch(
        &mut conn,
        room,
        &[tag(&bot, first, "emotion-5", &[("joy", 0.9)])],
        &events::Policy::default(),
    )
    .await
    .unwrap();
    assert!(late[0].is_err());
}

#[tokio::test]
async fn the_mood_counts_strongest_labels_by_bucket_and_finds_the_strongest_messages() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "lounge", &ann).await;
    let bot = bot(&mut conn).await;
    let sent = append(
        &mut conn,
        room,
        &[
            say(&ann, "one", "a"),
            say(&ann, "two", "b"),
            say(&ann, "three", "c"),
            say(&ann, "lol", "d"),
        ],
    )
    .await;
    let ids: Vec<i64> = sent.iter().map(message_id).collect();
    let mut laughter = tag(&bot, ids[3], "e3", &[("joy", 1.0)]);
    if let Change::Annotate { model, .. } = &mut laughter.change {
        *model = common::emotion::RULES_MODEL.into();
    }
    append(
        &mut conn,
        room,
        &[
            tag(&bot, ids[0], "e0", &[("joy", 0.6)]),
            tag(&bot, ids[1], "e1", &[("joy", 0.95)]),
            tag(&bot, ids[2], "e2", &[("neutral", 0.99)]),
            laughter,
        ],
    )
    .await;
    // Whole seconds: Postgres keeps microseconds, chrono nanoseconds.
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    let from = now - Duration::days(2);
    let counts = annotations::counts_between(
        &mut conn,
        room,
        from,
        now + Duration::days(1),
        Duration::days(1),
    )
    .await
    .unwrap();
    let total: i64 = counts.iter().map(|c| c.count).sum();
    assert_eq!(total, 4, "{counts:?}");
    assert!(
        counts
            .iter()
            .all(|c| (c.bucket - from).num_seconds() % 86_400 == 0)
    );
    let joy: i64 = counts
        .iter()
        .filter(|c| c.top == "joy")
        .map(|c| c.count)
        .sum();
    assert_eq!(joy, 3);
    let strongest =
        annotations::strongest_between(&mut conn, room, from, now + Duration::days(1), 5)
            .await
            .unwrap();
    let order: Vec<i64> = strongest.iter().map(|t| t.message_id).collect();
    assert_eq!(
        order,
        vec![ids[1], ids[0]],
        "neutral and the rules' lines are left out, strongest first"
    );
    assert_eq!(strongest[0].seq, 2, "the message's own seq, to link to it");
    let latest = annotations::latest_tags(&mut conn, room, 2).await.unwrap();
    assert_eq!(latest.len(), 2);
}

#[tokio::test]
async fn the_tags_of_many_rooms_go_together_and_a_gone_message_takes_no_seq() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bot = bot(&mut conn).await;
    let (r1, r2) = (
        new_room(&mut conn, "one", &ann).await,
        new_room(&mut conn, "two", &ann).await,
    );
    let in1 = append(&mut conn, r1, &[say(&ann, "a", "a"), say(&ann, "b", "b")]).await;
    let in2 = append(&mut conn, r2, &[say(&ann, "c", "c")]).await;
    let (a, b, c) = (
        message_id(&in1[0]),
        message_id(&in1[1]),
        message_id(&in2[0]),
    );
    append(&mut conn, r1, &[draft(&ann, "d", Change::Delete { id: b })]).await;
    let batches = vec![
        (
            r1,
            vec![
                tag(&bot, a, "t1", &[("joy", 0.9)]),
                tag(&bot, b, "t2", &[("anger", 0.9)]),
            ],
        ),
        (
            r2,
            vec![tag(&bot, c, "t3", &[("fear", 0.8), ("sadness", 0.3)])],
        ),
    ];
    let answers = events::append_rooms(&mut conn, &batches, &events::Policy::default())
        .await
        .unwrap();
    let r1_answers = answers[0].as_ref().unwrap();
    assert_eq!(
        r1_answers[0].as_ref().unwrap().seq,
        4,
        "after a, b and the deletion"
    );
    assert!(r1_answers[1].is_err(), "a deleted message is not tagged");
    assert_eq!(answers[1].as_ref().unwrap()[0].as_ref().unwrap().seq, 2);
    let rooms = common::store::room_seqs::last_seqs(&mut conn, &[r1, r2])
        .await
        .unwrap();
    assert!(
        rooms.contains(&(r1, 4)) && rooms.contains(&(r2, 2)),
        "{rooms:?}"
    );
    let shown = annotations::of_messages(&mut conn, &[r1, r2], &[a, b, c])
        .await
        .unwrap();
    assert_eq!(shown[&a][0].labels[0].label, "joy");
    assert_eq!(shown[&c][0].labels.len(), 2);
    assert!(!shown.contains_key(&b));
    // The same nonces again store nothing new: the stored events answer.
    let again = events::append_rooms(&mut conn, &batches[1..], &events::Policy::default())
        .await
        .unwrap();
    let repeat = again[0].as_ref().unwrap()[0].as_ref().unwrap();
    assert_eq!((repeat.seq, repeat.created), (2, false));
    // A tag taken back in bulk removes the row.
    let back = vec![(r2, vec![tag(&bot, c, "t4", &[])])];
    events::append_rooms(&mut conn, &back, &events::Policy::default())
        .await
        .unwrap();
    assert!(
        annotations::of_messages(&mut conn, &[r2], &[c])
            .await
            .unwrap()
            .is_empty()
    );
}
