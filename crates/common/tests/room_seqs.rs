//! Each room's counter in `room_seqs`: made with every room, the room's
//! lock for every writer, and the only row a message writes of its room.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use common::access::{Role, Visibility};
use common::domain::RoomName;
use common::store::events::{self, Moderation, Policy};
use common::store::{room_seqs, rooms, users};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use test_support::TestDb;
use test_support::store::*;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .n
}

#[tokio::test(flavor = "multi_thread")]
async fn every_way_of_making_a_room_gives_it_a_counter() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let bot = users::bot(&mut conn).await.unwrap();
    let public = new_room(&mut conn, "pub", &ann).await;
    let private = private_room(&mut conn, "priv", &ann).await;
    let quota = rooms::insert_within_quota(
        &mut conn,
        &RoomName::parse("quota").unwrap(),
        &common::domain::Topic::parse("").unwrap(),
        Visibility::Public,
        ann.id,
        10,
    )
    .await
    .unwrap()
    .id;
    let dm = rooms::insert_dm(&mut conn, &[ann.id, bob.id])
        .await
        .unwrap();
    // The same DM again finds the room (and its counter) made before.
    let again = rooms::insert_dm(&mut conn, &[bob.id, ann.id])
        .await
        .unwrap();
    assert_eq!((again.id, again.last_seq), (dm.id, 0));
    let chat =
        rooms::insert_assistant_chat(&mut conn, &RoomName::parse("q").unwrap(), ann.id, bot.id, 5)
            .await
            .unwrap()
            .id;
    // The seeds (db/init.sql) too: no room of any kind is without one.
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM rooms r \
             WHERE NOT EXISTS (SELECT 1 FROM room_seqs s WHERE s.room_id = r.id)"
        )
        .await,
        0
    );
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM rooms").await, 7);
    // Each takes its first seq.
    for room in [public, private, quota, dm.id, chat] {
        let first = append(&mut conn, room, &[say(&ann, "hi", &format!("n{room}"))]).await;
        assert_eq!(first[0].seq, 1, "room {room}");
    }
    let found = rooms::find(&mut conn, public).await.unwrap().room;
    assert_eq!((found.last_seq, found.message_count), (1, 1));
    let mut seqs = room_seqs::last_seqs(&mut conn, &[public, dm.id, 999_999])
        .await
        .unwrap();
    seqs.sort_unstable();
    assert_eq!(seqs, [(public, 1), (dm.id, 1)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_writes_the_counter_and_never_the_rooms_row() {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        v: String,
    }
    async fn version(conn: &mut AsyncPgConnection, table: &str, key: &str, id: i64) -> String {
        diesel::sql_query(format!(
            "SELECT xmin::text || ':' || ctid::text AS v FROM {table} WHERE {key} = {id}"
        ))
        .get_result::<Version>(conn)
        .await
        .unwrap()
        .v
    }
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "quiet", &ann).await;
    let other = new_room(&mut conn, "other", &ann).await;
    let room_row = version(&mut conn, "rooms", "id", room).await;
    let counter = version(&mut conn, "room_seqs", "room_id", room).await;
    // One room on its own, then two together (the bulk path).
    append(&mut conn, room, &[say(&ann, "one", "a1")]).await;
    let batches = vec![
        (room, vec![say(&ann, "two", "a2")]),
        (other, vec![say(&ann, "three", "a3")]),
    ];
    for answer in events::append_rooms(&mut conn, &batches, &Policy::default())
        .await
        .unwrap()
    {
        answer.unwrap().into_iter().for_each(|a| {
            a.unwrap();
        });
    }
    assert_eq!(version(&mut conn, "rooms", "id", room).await, room_row);
    assert_ne!(
        version(&mut conn, "room_seqs", "room_id", room).await,
        counter
    );
    let found = rooms::find(&mut conn, room).await.unwrap().room;
    assert_eq!((found.last_seq, found.message_count), (2, 2));
}

/// Waits (generously) until some session of the test's database waits for
/// a lock.
async fn until_someone_waits_for_a_lock(conn: &mut AsyncPgConnection) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting = count(
            conn,
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .await;
        if waiting > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no writer waited for the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Holds the room's lock as a moderator's change does, makes the room
/// private under it, and commits once a writer waits for the lock.
async fn make_private_while_a_writer_waits<F>(db: &TestDb, room: i64, writer: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let mut moderator = db.connect().await;
    moderator.batch_execute("BEGIN").await.unwrap();
    assert!(rooms::lock(&mut moderator, room).await.unwrap().is_some());
    rooms::set_visibility(&mut moderator, room, Visibility::Private)
        .await
        .unwrap();
    let waiting = tokio::spawn(writer);
    let mut watcher = db.connect().await;
    until_someone_waits_for_a_lock(&mut watcher).await;
    moderator.batch_execute("COMMIT").await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the writer finished")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_writer_that_waited_for_the_lock_sees_what_its_holder_committed() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let eve = user(&mut conn, "eve").await;
    // One room written on its own (the seq update takes the lock), one in a
    // batch of rooms (the locks by one statement): in both, an outsider's
    // message waits for a moderator who makes the room private, and is
    // then refused as the room now is, not as it was when it began to wait.
    for (name, bulk) in [("single", false), ("bulk", true)] {
        let room = new_room(&mut conn, name, &ann).await;
        let other = new_room(&mut conn, &format!("{name}-other"), &ann).await;
        let url = db.url().to_owned();
        let eve_says = say(&eve, "let me in", &format!("e-{name}"));
        let ann_says = say(&ann, "hello", &format!("a-{name}"));
        let (tx, rx) = tokio::sync::oneshot::channel();
        make_private_while_a_writer_waits(&db, room, async move {
            use diesel_async::AsyncConnection;
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            let answer = if bulk {
                let batches = vec![(room, vec![eve_says]), (other, vec![ann_says])];
                let mut rooms = events::append_rooms(&mut conn, &batches, &Policy::default())
                    .await
                    .unwrap();
                assert_eq!(code(&rooms[1].as_ref().unwrap()[0]), "ok 1");
                rooms.remove(0).unwrap().remove(0)
            } else {
                events::append_batch(&mut conn, room, &[eve_says], &Policy::default())
                    .await
                    .unwrap()
                    .remove(0)
            };
            let _ = tx.send(code(&answer));
        })
        .await;
        assert_eq!(rx.await.unwrap(), "room_not_found", "{name}");
        assert_eq!(
            common::store::members::role(&mut conn, room, eve.id)
                .await
                .unwrap(),
            None
        );
        // The owner still posts (the moderator's change took no seq here).
        let ok = append(
            &mut conn,
            room,
            &[say(&ann, "still here", &format!("a2-{name}"))],
        )
        .await;
        assert_eq!(ok[0].seq, 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn moderation_takes_the_same_lock_and_its_change_holds_for_the_next_writer() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let room = new_room(&mut conn, "slow", &ann).await;
    common::store::members::add(&mut conn, room, bob.id, Role::Member)
        .await
        .unwrap();
    let set = append(
        &mut conn,
        room,
        &[draft(
            &ann,
            "m1",
            events::Change::Moderate(Moderation::SlowMode { secs: 60 }),
        )],
    )
    .await;
    assert_eq!(set[0].seq, 1);
    let answers = append_all(
        &mut conn,
        room,
        &[say(&bob, "one", "b1"), say(&bob, "two", "b2")],
    )
    .await;
    assert_eq!(code(&answers[0]), "ok 2");
    assert!(
        matches!(answers[1], Err(common::Error::RateLimited { .. })),
        "{:?}",
        answers[1]
    );
}
