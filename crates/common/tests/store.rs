//! The schema and the store functions against a real Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::domain::{Email, MessageBody, Nonce, RoomName, Topic, Username};
use common::store::{members, messages, rooms, sessions, users};
use common::{Error, db};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use test_support::TestDb;

async fn user(conn: &mut diesel_async::AsyncPgConnection, name: &str) -> users::User {
    let email = format!("{name}@example.com");
    users::insert(
        conn,
        &Username::parse(name).unwrap(),
        &Email::parse(&email).unwrap(),
        "hash",
    )
    .await
    .unwrap()
}

async fn seeded_room_names(conn: &mut diesel_async::AsyncPgConnection) -> Vec<String> {
    use common::schema::rooms::dsl::*;
    rooms
        .select(name)
        .order(name)
        .load::<String>(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_then_do_nothing() {
    // A current-thread runtime on purpose: migrate must work on any runtime.
    let db = TestDb::empty().await;
    let applied = db::migrate(db.url()).await.unwrap();
    assert_eq!(applied.len(), 1, "{applied:?}");
    let mut conn = db.connect().await;
    assert_eq!(seeded_room_names(&mut conn).await, ["general", "random"]);
    // Up to date: nothing applied, nothing seeded twice.
    assert!(db::migrate(db.url()).await.unwrap().is_empty());
    assert_eq!(seeded_room_names(&mut conn).await, ["general", "random"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_migrating_together_apply_each_migration_once() {
    let db = TestDb::empty().await;
    let (a, b) = tokio::join!(db::migrate(db.url()), db::migrate(db.url()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.len() + b.len(),
        1,
        "one replica applies, the other finds it done: {a:?} {b:?}"
    );
    assert_eq!(
        seeded_room_names(&mut db.connect().await).await,
        ["general", "random"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn usernames_and_emails_are_unique_ignoring_case() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    user(&mut conn, "Ann").await;
    let again = users::insert(
        &mut conn,
        &Username::parse("aNN").unwrap(),
        &Email::parse("other@example.com").unwrap(),
        "h",
    )
    .await;
    assert!(
        matches!(
            again,
            Err(Error::Conflict {
                field: "username",
                ..
            })
        ),
        "{again:?}"
    );
    let same_mail = users::insert(
        &mut conn,
        &Username::parse("bob").unwrap(),
        &Email::parse("ANN@Example.com").unwrap(),
        "h",
    )
    .await;
    assert!(
        matches!(same_mail, Err(Error::Conflict { field: "email", .. })),
        "{same_mail:?}"
    );
    assert_eq!(
        users::find_by_login(&mut conn, "ANN")
            .await
            .unwrap()
            .map(|u| u.username),
        Some("Ann".into())
    );
    assert!(
        users::find_by_login(&mut conn, "ann@EXAMPLE.com")
            .await
            .unwrap()
            .is_some()
    );
    assert!(users::username_taken(&mut conn, "anN").await.unwrap());
    assert!(
        !users::email_taken(&mut conn, "nobody@example.com")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_stop_being_active_when_revoked_or_expired() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let s = sessions::create(&mut conn, ann.id, later).await.unwrap();
    assert!(
        sessions::find_active(&mut conn, s.id, ann.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        sessions::find_active(&mut conn, s.id, ann.id + 1)
            .await
            .unwrap()
            .is_none()
    );
    sessions::revoke(&mut conn, s.id).await.unwrap();
    assert!(
        sessions::find_active(&mut conn, s.id, ann.id)
            .await
            .unwrap()
            .is_none()
    );
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let old = sessions::create(&mut conn, ann.id, past).await.unwrap();
    assert!(
        sessions::find_active(&mut conn, old.id, ann.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rooms_are_searched_by_name_or_topic_and_paged_by_name() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    for (name, topic) in [
        ("Rust", "systems"),
        ("cooking", "Rust removal from pans"),
        ("100%", "percent"),
    ] {
        rooms::insert(
            &mut conn,
            &RoomName::parse(name).unwrap(),
            &Topic::parse(topic).unwrap(),
            ann.id,
        )
        .await
        .unwrap();
    }
    let dup = rooms::insert(
        &mut conn,
        &RoomName::parse("RUST").unwrap(),
        &Topic::parse("").unwrap(),
        ann.id,
    )
    .await;
    assert!(
        matches!(dup, Err(Error::Conflict { field: "name", .. })),
        "{dup:?}"
    );
    let names = |v: Vec<rooms::RoomView>| v.into_iter().map(|r| r.room.name).collect::<Vec<_>>();
    assert_eq!(
        names(
            rooms::search(&mut conn, Some("rUsT"), None, 10)
                .await
                .unwrap()
        ),
        ["cooking", "Rust"]
    );
    assert_eq!(
        names(rooms::search(&mut conn, Some("%"), None, 10).await.unwrap()),
        ["100%"]
    );
    let first = rooms::search(&mut conn, None, None, 2).await.unwrap();
    assert_eq!(names(first.clone()), ["100%", "cooking"]);
    let cursor = first.last().unwrap().room.name.to_lowercase();
    assert_eq!(
        names(
            rooms::search(&mut conn, None, Some(&cursor), 10)
                .await
                .unwrap()
        ),
        ["general", "random", "Rust"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owner_deletes_a_room() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob) = (user(&mut conn, "ann").await, user(&mut conn, "bob").await);
    let room = rooms::insert(
        &mut conn,
        &RoomName::parse("mine").unwrap(),
        &Topic::parse("").unwrap(),
        ann.id,
    )
    .await
    .unwrap();
    assert!(matches!(
        rooms::delete(&mut conn, room.id, bob.id).await,
        Err(Error::Forbidden(_))
    ));
    rooms::delete(&mut conn, room.id, ann.id).await.unwrap();
    assert!(matches!(
        rooms::find(&mut conn, room.id).await,
        Err(Error::NotFound("room"))
    ));
    let general = rooms::search(&mut conn, Some("general"), None, 1)
        .await
        .unwrap()
        .remove(0);
    assert!(matches!(
        rooms::delete(&mut conn, general.room.id, ann.id).await,
        Err(Error::Forbidden(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_take_consecutive_seqs_and_a_repeated_nonce_is_stored_once() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = rooms::insert(
        &mut conn,
        &RoomName::parse("r").unwrap(),
        &Topic::parse("").unwrap(),
        ann.id,
    )
    .await
    .unwrap();
    let body = |s: &str| MessageBody::parse(s).unwrap();
    let nonce = |s: &str| Nonce::parse(s).unwrap();
    let first = messages::store(
        &mut conn,
        room.id,
        ann.id,
        "ann",
        &body("one"),
        &nonce("n1"),
    )
    .await
    .unwrap();
    let second = messages::store(
        &mut conn,
        room.id,
        ann.id,
        "ann",
        &body("two"),
        &nonce("n2"),
    )
    .await
    .unwrap();
    let again = messages::store(
        &mut conn,
        room.id,
        ann.id,
        "ann",
        &body("two?"),
        &nonce("n2"),
    )
    .await
    .unwrap();
    assert_eq!((first.view.message.seq, second.view.message.seq), (1, 2));
    assert!(first.created && second.created && !again.created);
    assert_eq!(again.view.message.id, second.view.message.id);
    assert_eq!(again.view.message.body, "two");
    assert_eq!(
        rooms::find(&mut conn, room.id).await.unwrap().room.last_seq,
        2
    );
    let newest = messages::page_before(&mut conn, room.id, None, 50)
        .await
        .unwrap();
    assert_eq!(
        newest.iter().map(|m| m.message.seq).collect::<Vec<_>>(),
        [2, 1]
    );
    let older = messages::page_before(&mut conn, room.id, Some(2), 50)
        .await
        .unwrap();
    assert_eq!(older.iter().map(|m| m.message.seq).collect::<Vec<_>>(), [1]);
    let replay = messages::after(&mut conn, room.id, 0, 1000).await.unwrap();
    assert_eq!(
        replay.iter().map(|m| m.message.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    let missing =
        messages::store(&mut conn, 999_999, ann.id, "ann", &body("x"), &nonce("n3")).await;
    assert!(
        matches!(missing, Err(Error::NotFound("room"))),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_senders_get_distinct_consecutive_seqs() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = rooms::insert(
        &mut conn,
        &RoomName::parse("busy").unwrap(),
        &Topic::parse("").unwrap(),
        ann.id,
    )
    .await
    .unwrap();
    let tasks = (0..8).map(|i| {
        let url = db.url().to_owned();
        tokio::spawn(async move {
            let mut conn: diesel_async::AsyncPgConnection =
                <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url)
                    .await
                    .unwrap();
            let mut seqs = Vec::new();
            for j in 0..10 {
                let body = MessageBody::parse(&format!("{i}-{j}")).unwrap();
                let nonce = Nonce::parse(&format!("n-{i}-{j}")).unwrap();
                seqs.push(
                    messages::store(&mut conn, room.id, ann.id, "ann", &body, &nonce)
                        .await
                        .unwrap()
                        .view
                        .message
                        .seq,
                );
            }
            seqs
        })
    });
    let mut all: Vec<i64> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=80).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn read_marks_only_move_forward() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let general = rooms::search(&mut conn, Some("general"), None, 1)
        .await
        .unwrap()
        .remove(0)
        .room;
    assert_eq!(
        members::last_read(&mut conn, general.id, ann.id)
            .await
            .unwrap(),
        None
    );
    members::mark_read(&mut conn, general.id, ann.id, 5)
        .await
        .unwrap();
    members::mark_read(&mut conn, general.id, ann.id, 3)
        .await
        .unwrap();
    assert_eq!(
        members::last_read(&mut conn, general.id, ann.id)
            .await
            .unwrap(),
        Some(5)
    );
}

fn draft(user: &users::User, body: &str, nonce: &str) -> messages::Draft {
    messages::Draft {
        user_id: user.id,
        username: user.username.clone(),
        body: MessageBody::parse(body).unwrap(),
        nonce: Nonce::parse(nonce).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_takes_consecutive_seqs_and_stores_each_nonce_once() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob) = (user(&mut conn, "ann").await, user(&mut conn, "bob").await);
    let room = rooms::insert(
        &mut conn,
        &RoomName::parse("r").unwrap(),
        &Topic::parse("").unwrap(),
        ann.id,
    )
    .await
    .unwrap();
    messages::store(
        &mut conn,
        room.id,
        ann.id,
        "ann",
        &MessageBody::parse("earlier").unwrap(),
        &Nonce::parse("old").unwrap(),
    )
    .await
    .unwrap();
    let batch = [
        draft(&ann, "one", "a"),
        draft(&bob, "two", "a"), // another user's same nonce: a new message
        draft(&ann, "one again", "a"), // repeated in the batch: the first one
        draft(&ann, "earlier?", "old"), // stored before the batch
        draft(&bob, "three", "b"),
    ];
    let stored = messages::store_batch(&mut conn, room.id, &batch)
        .await
        .unwrap();
    let seqs: Vec<(i64, bool)> = stored
        .iter()
        .map(|s| (s.view.message.seq, s.created))
        .collect();
    assert_eq!(
        seqs,
        [(2, true), (3, true), (2, false), (1, false), (4, true)]
    );
    assert_eq!(stored[2].view.message.body, "one");
    assert_eq!(stored[3].view.message.body, "earlier");
    assert_eq!(
        rooms::find(&mut conn, room.id).await.unwrap().room.last_seq,
        4
    );
    assert_eq!(
        members::last_read(&mut conn, room.id, bob.id)
            .await
            .unwrap(),
        Some(4)
    );
    let gone = messages::store_batch(&mut conn, 999_999, &batch[..1]).await;
    assert!(matches!(gone, Err(Error::NotFound("room"))), "{gone:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_writer_batches_concurrent_sends_without_holes_or_duplicates() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let mut room_ids = Vec::new();
    for name in ["a", "b", "c"] {
        room_ids.push(
            rooms::insert(
                &mut conn,
                &RoomName::parse(name).unwrap(),
                &Topic::parse("").unwrap(),
                ann.id,
            )
            .await
            .unwrap()
            .id,
        );
    }
    // Two writers on their own pools: two instances racing, the same nonces included.
    let writers: Vec<common::writer::MessageWriter> = (0..2)
        .map(|_| {
            common::writer::MessageWriter::start(db::build_pool(db.url(), 4, "test").unwrap(), 2)
        })
        .collect();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let writer = writers[i % 2].clone();
        // Every nonce is sent twice to its room, once through each writer.
        let room = room_ids[(i / 2) % 3];
        let d = draft(&ann, &format!("m{}", i / 2), &format!("n{}", i / 2));
        tasks.push(tokio::spawn(async move {
            (room, writer.store(room, d).await.unwrap())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    for room in &room_ids {
        let created: Vec<i64> = {
            let mut v: Vec<i64> = results
                .iter()
                .filter(|(r, s)| r == room && s.created)
                .map(|(_, s)| s.view.message.seq)
                .collect();
            v.sort_unstable();
            v
        };
        let last = rooms::find(&mut conn, *room).await.unwrap().room.last_seq;
        assert_eq!(
            created,
            (1..=last).collect::<Vec<_>>(),
            "room {room}: consecutive, no holes"
        );
    }
    // Each nonce was stored once, and both of its senders got that message.
    let mut by_nonce: std::collections::HashMap<String, Vec<i64>> =
        std::collections::HashMap::new();
    for (_, s) in &results {
        by_nonce
            .entry(s.view.message.nonce.clone())
            .or_default()
            .push(s.view.message.id);
    }
    assert!(
        by_nonce
            .values()
            .all(|ids| ids.len() == 2 && ids[0] == ids[1])
    );
    assert_eq!(results.iter().filter(|(_, s)| s.created).count(), 150);
}
