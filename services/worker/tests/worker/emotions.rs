//! Emotion tags with the real models (the sentence model from
//! scripts/fetch-models, the head compiled in): the `emotions` follower tags
//! each message once from its stored vector, again after an edit, never a
//! deleted one, and takes tags back when their author or room turns
//! tagging off. Short lines go by the rules, odd input never stalls it.

use std::time::{Duration, Instant};

use common::preferences::Patch;
use common::protocol::{Annotation, ServerFrame};
use common::store::annotations::{self, EMOTION};
use common::store::events::Change;
use common::store::{events, preferences, room_seqs, rooms};
use diesel_async::AsyncPgConnection;
use test_support::TestDb;
use test_support::store::*;

async fn start(db: &TestDb) -> worker::Worker {
    crate::helpers::start_with_models(db).await
}

/// Every annotation event of the room's log, in order.
async fn annotation_events(conn: &mut AsyncPgConnection, room: i64) -> Vec<Annotation> {
    events::after(conn, room, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(_, json)| match serde_json::from_str(&json).unwrap() {
            ServerFrame::Annotation(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// The message's current emotion labels (empty: no tag).
async fn labels(conn: &mut AsyncPgConnection, id: i64) -> Vec<String> {
    let room = room_of(conn, id).await;
    annotations::of_messages(conn, &[room], &[id])
        .await
        .unwrap()
        .remove(&id)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.kind == EMOTION)
        .flat_map(|a| a.labels.into_iter().map(|l| l.label))
        .collect()
}

/// Waits until `check` holds, for up to a minute (the model is slow in a
/// debug build on a busy machine).
async fn until<F>(what: &str, mut check: F)
where
    F: AsyncFnMut() -> bool,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the follower has read the room's whole log.
async fn caught_up(conn: &mut AsyncPgConnection, room: i64) {
    until("the emotions follower caught up", async || {
        let last = room_seqs::last_seqs(conn, &[room]).await.unwrap()[0].1;
        let at = common::store::cursors::position(conn, "emotions", room)
            .await
            .unwrap();
        at == last
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_message_is_tagged_once_again_after_an_edit_and_never_once_deleted() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let room = new_room(&mut conn, "lounge", &ann).await;
    let sent = append(
        &mut conn,
        room,
        &[
            say(&ann, "I am so happy today, this is wonderful news!", "a"),
            say(&bob, "This is disgusting and I am furious about it", "b"),
            say(&bob, "lol", "c"),
            say(&ann, "https://example.com/notes", "d"),
            say(&bob, "```\nfn main() {}\n```", "e"),
            say(&ann, "😭😭", "f"),
        ],
    )
    .await;
    let ids: Vec<i64> = sent.iter().map(message_id).collect();
    let worker = start(&db).await;
    caught_up(&mut conn, room).await;

    let joy = labels(&mut conn, ids[0]).await;
    assert_eq!(joy.first().map(String::as_str), Some("joy"), "{joy:?}");
    let angry = labels(&mut conn, ids[1]).await;
    assert!(
        matches!(angry.first().map(String::as_str), Some("anger" | "disgust")),
        "{angry:?}"
    );
    assert_eq!(labels(&mut conn, ids[2]).await, vec!["joy"], "laughter");
    assert!(labels(&mut conn, ids[3]).await.is_empty(), "a bare link");
    assert!(labels(&mut conn, ids[4]).await.is_empty(), "only code");
    assert_eq!(labels(&mut conn, ids[5]).await, vec!["sadness"], "😭");

    // One event per tagged message, by the bot, with the model's name.
    let tags = annotation_events(&mut conn, room).await;
    let mut about: Vec<i64> = tags.iter().map(|a| a.id).collect();
    about.sort_unstable();
    assert_eq!(about, vec![ids[0], ids[1], ids[2], ids[5]]);
    let head = ml::EmotionHead::bundled().unwrap();
    assert!(tags.iter().any(|a| a.model == head.version()));
    assert!(
        tags.iter()
            .any(|a| a.model == worker::emotions::RULES_MODEL)
    );
    for a in &tags {
        assert!(!a.labels.is_empty());
        let scores: Vec<f32> = a.labels.iter().map(|l| l.score.get()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    }

    // History carries the latest tag of each message.
    let page = common::store::messages::page_before(&mut conn, room, None, 50, ann.id)
        .await
        .unwrap();
    let first = page.iter().find(|m| m.id == ids[0]).unwrap();
    assert_eq!(first.annotations.len(), 1);
    assert_eq!(first.annotations[0].labels[0].label, "joy");

    // An edit is tagged again; the row follows the new text.
    append(
        &mut conn,
        room,
        &[edit(
            &ann,
            ids[0],
            "My dog died this morning and I cannot stop crying",
            "g",
        )],
    )
    .await;
    until("the edit is tagged", async || {
        labels(&mut conn, ids[0]).await.first().map(String::as_str) == Some("sadness")
    })
    .await;
    assert_eq!(annotation_events(&mut conn, room).await.len(), 5);

    // A deletion takes the tags with the text, in the stored frames too.
    append(
        &mut conn,
        room,
        &[draft(&bob, "h", Change::Delete { id: ids[1] })],
    )
    .await;
    assert!(labels(&mut conn, ids[1]).await.is_empty());
    let stored = annotation_events(&mut conn, room).await;
    let of_deleted: Vec<&Annotation> = stored.iter().filter(|a| a.id == ids[1]).collect();
    assert_eq!(of_deleted.len(), 1);
    assert!(of_deleted[0].labels.is_empty(), "{of_deleted:?}");

    // A restart tags nothing twice.
    caught_up(&mut conn, room).await;
    worker.shutdown().await;
    let before = annotation_events(&mut conn, room).await.len();
    let worker = start(&db).await;
    append(
        &mut conn,
        room,
        &[say(&bob, "Thank you so much, I love it!", "i")],
    )
    .await;
    caught_up(&mut conn, room).await;
    assert_eq!(annotation_events(&mut conn, room).await.len(), before + 1);
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn turning_tagging_off_takes_the_tags_back_and_stops_it() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let room = new_room(&mut conn, "lounge", &ann).await;
    let other = new_room(&mut conn, "garden", &bob).await;
    let sent = append(
        &mut conn,
        room,
        &[
            say(&ann, "What a lovely surprise, thank you all!", "a"),
            say(&bob, "I am really scared of the storm tonight", "b"),
        ],
    )
    .await;
    let in_other = append(&mut conn, other, &[say(&bob, "haha", "c")]).await;
    let (ann_msg, bob_msg) = (message_id(&sent[0]), message_id(&sent[1]));
    let worker = start(&db).await;
    caught_up(&mut conn, room).await;
    caught_up(&mut conn, other).await;
    assert!(!labels(&mut conn, ann_msg).await.is_empty());

    // Ann opts out: her tag goes (an empty annotation, the old frame
    // emptied), Bob's stays, and her new messages are never analysed.
    preferences::update(
        &mut conn,
        ann.id,
        &Patch {
            emotion_tagging: Some(false),
            ..Patch::default()
        },
    )
    .await
    .unwrap();
    until("ann's tag is taken back", async || {
        labels(&mut conn, ann_msg).await.is_empty()
    })
    .await;
    let tags = annotation_events(&mut conn, room).await;
    assert!(
        tags.iter()
            .filter(|a| a.id == ann_msg)
            .all(|a| a.labels.is_empty()),
        "{tags:?}"
    );
    assert!(tags.iter().filter(|a| a.id == ann_msg).count() >= 2);
    assert!(!labels(&mut conn, bob_msg).await.is_empty());
    let later = append(
        &mut conn,
        room,
        &[say(&ann, "I am thrilled, best day ever!", "d")],
    )
    .await;
    caught_up(&mut conn, room).await;
    assert!(labels(&mut conn, message_id(&later[0])).await.is_empty());

    // The owner turns tags off in the room: Bob's go too, not elsewhere.
    rooms::set_emotions(&mut conn, room, false).await.unwrap();
    until("the room's tags are taken back", async || {
        labels(&mut conn, bob_msg).await.is_empty()
    })
    .await;
    assert_eq!(
        labels(&mut conn, message_id(&in_other[0])).await,
        vec!["joy"]
    );
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_lines_get_a_sensible_tag_or_none_and_never_stall_the_follower() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "odd", &ann).await;
    let huge = "so happy ".repeat(400);
    let sent = append(
        &mut conn,
        room,
        &[
            say(&ann, &huge, "a"),
            say(&ann, "¿Dónde está la biblioteca? Estoy muy triste.", "b"),
            say(&ann, "🎉🎉🎉", "c"),
            say(&ann, "...", "d"),
            say(&ann, "Deleted before anyone tags it: I am angry!", "e"),
        ],
    )
    .await;
    let gone = message_id(&sent[4]);
    append(
        &mut conn,
        room,
        &[draft(&ann, "f", Change::Delete { id: gone })],
    )
    .await;
    let worker = start(&db).await;
    caught_up(&mut conn, room).await;
    assert_eq!(
        labels(&mut conn, message_id(&sent[0]))
            .await
            .first()
            .map(String::as_str),
        Some("joy")
    );
    assert!(!labels(&mut conn, message_id(&sent[1])).await.is_empty());
    assert_eq!(labels(&mut conn, message_id(&sent[2])).await, vec!["joy"]);
    assert!(labels(&mut conn, message_id(&sent[3])).await.is_empty());
    assert!(labels(&mut conn, gone).await.is_empty());
    assert!(
        annotation_events(&mut conn, room)
            .await
            .iter()
            .all(|a| a.id != gone),
        "a message deleted before tagging is never tagged"
    );
    worker.shutdown().await;
}
