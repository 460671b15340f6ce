//! The event log hash-partitioned by room (migration 2026-12-14-000002):
//! its shape, that what the store does for one room reads and writes that
//! room's partition only, and that a nonce race is still recognised when
//! the violated key is a partition's copy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::store::annotations::EMOTION;
use common::store::events::{self, Change, Policy};
use common::store::usage;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use test_support::TestDb;
use test_support::store::*;

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn named(conn: &mut AsyncPgConnection, sql: &str) -> Vec<(String, i64)> {
    diesel::sql_query(sql)
        .load::<Named>(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.n))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_has_sixteen_hash_partitions_and_every_unique_key_includes_the_room() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let partitions = named(
        &mut conn,
        "SELECT c.relname::text AS name, 0::bigint AS n FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'room_events'::regclass ORDER BY c.relname",
    )
    .await;
    let mut expected: Vec<String> = (0..16).map(|i| format!("room_events_p{i}")).collect();
    expected.sort();
    assert_eq!(
        partitions.into_iter().map(|p| p.0).collect::<Vec<_>>(),
        expected
    );
    let strategy = named(
        &mut conn,
        "SELECT p.partstrat::text AS name, p.partnatts::bigint AS n \
         FROM pg_partitioned_table p WHERE p.partrelid = 'room_events'::regclass",
    )
    .await;
    assert_eq!(strategy, [("h".to_owned(), 1)]);
    // Citus distributes the log and the counters by room: each of their
    // unique keys (the primary keys too) must include `room_id`.
    let unique_without_room = named(
        &mut conn,
        "SELECT i.indexrelid::regclass::text AS name, 0::bigint AS n FROM pg_index i \
         WHERE i.indisunique AND i.indrelid IN ('room_events'::regclass, 'room_seqs'::regclass) \
           AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid \
                           AND a.attname = 'room_id' AND a.attnum = ANY(i.indkey))",
    )
    .await;
    assert_eq!(unique_without_room, []);
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_a_room_s_log_is_planned_on_its_partition_alone() {
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        plan: String,
    }
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    // The statements of events::after and of the nonce look-up, with their
    // parameters bound as the store binds them.
    let after: Plan = diesel::sql_query(
        "EXPLAIN (FORMAT JSON) SELECT seq, frame FROM room_events \
         WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind::<BigInt, _>(7)
    .bind::<BigInt, _>(0)
    .bind::<BigInt, _>(10)
    .get_result(&mut conn)
    .await
    .unwrap();
    let nonce: Plan = diesel::sql_query(
        "EXPLAIN (FORMAT JSON) SELECT seq FROM room_events \
         WHERE room_id = $1 AND user_id = $2 AND nonce = $3 LIMIT 1",
    )
    .bind::<BigInt, _>(7)
    .bind::<BigInt, _>(1)
    .bind::<Text, _>("n")
    .get_result(&mut conn)
    .await
    .unwrap();
    for plan in [after, nonce] {
        let scanned: std::collections::BTreeSet<&str> = plan
            .plan
            .match_indices("room_events_p")
            .map(|(at, _)| {
                let rest = &plan.plan[at..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert_eq!(scanned.len(), 1, "{}", plan.plan);
    }
}

/// Per partition of the log: scans, and rows inserted, updated or deleted.
async fn activity(conn: &mut AsyncPgConnection) -> HashMap<String, i64> {
    named(
        conn,
        "SELECT relname::text AS name, \
           (coalesce(seq_scan, 0) + coalesce(idx_scan, 0) + n_tup_ins + n_tup_upd + n_tup_del) \
             ::bigint AS n \
         FROM pg_stat_user_tables WHERE relname LIKE 'room\\_events\\_p%'",
    )
    .await
    .into_iter()
    .collect()
}

/// Makes this connection's statistics visible to others now (they are
/// otherwise sent up to a second, or longer, later).
async fn flush_statistics(conn: &mut AsyncPgConnection) {
    diesel::sql_query("SELECT pg_stat_force_next_flush()")
        .execute(conn)
        .await
        .unwrap();
}

async fn partition_of(conn: &mut AsyncPgConnection, room: i64) -> String {
    named(
        conn,
        &format!(
            "SELECT tableoid::regclass::text AS name, 0::bigint AS n \
             FROM room_events WHERE room_id = {room} LIMIT 1"
        ),
    )
    .await
    .remove(0)
    .0
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_store_does_for_one_room_touches_its_partition_only() {
    let db = TestDb::migrated().await;
    let mut setup = db.connect().await;
    let ann = user(&mut setup, "ann").await;
    let bot = bot(&mut setup).await;
    // Two rooms whose logs live in different partitions, each with a few
    // messages.
    let a = new_room(&mut setup, "a", &ann).await;
    append(
        &mut setup,
        a,
        &[say(&ann, "one", "a1"), say(&ann, "two", "a2")],
    )
    .await;
    let home = partition_of(&mut setup, a).await;
    for i in 0.. {
        let b = new_room(&mut setup, &format!("b{i}"), &ann).await;
        append(&mut setup, b, &[say(&ann, "elsewhere", "b1")]).await;
        if partition_of(&mut setup, b).await != home {
            break;
        }
    }
    flush_statistics(&mut setup).await;
    drop(setup);
    let mut observer = db.connect().await;
    let before = activity(&mut observer).await;
    assert_eq!(before.len(), 16);

    let mut conn = db.connect().await;
    let policy = Policy::default();
    assert_eq!(events::after(&mut conn, a, 0, 100).await.unwrap().len(), 2);
    assert_eq!(
        events::newest_after(&mut conn, a, 0, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    events::moderation_between(&mut conn, a, 1, 100)
        .await
        .unwrap();
    assert!(
        events::nonce_stored(
            &mut conn,
            a,
            ann.id,
            &common::domain::Nonce::parse("a1").unwrap()
        )
        .await
        .unwrap()
    );
    // A resend and a new message (one room's writer), an edit, a reaction
    // and a deletion (full care: the lock, the messages, the redaction).
    let sent = append(
        &mut conn,
        a,
        &[say(&ann, "one", "a1"), say(&ann, "three", "a3")],
    )
    .await;
    assert_eq!((sent[0].created, sent[1].seq), (false, 3));
    let one = message_id(&sent[0]);
    let three = message_id(&sent[1]);
    append(
        &mut conn,
        a,
        &[
            edit(&ann, three, "three!", "a4"),
            react(&ann, one, "👍", true, "a5"),
            draft(&ann, "a6", Change::Delete { id: three }),
        ],
    )
    .await;
    // The writer of many rooms, with this one only: plain messages, a resend
    // among them, then the server's tags.
    let batches = vec![(a, vec![say(&ann, "four", "a7"), say(&ann, "two", "a2")])];
    let answers = events::append_rooms(&mut conn, &batches, &policy)
        .await
        .unwrap();
    assert!(answers[0].as_ref().unwrap().iter().all(Result::is_ok));
    let tags = vec![(
        a,
        vec![emotion_tag(&bot, one, "t1", &[("joy", 0.9)], "test")],
    )];
    let answers = events::append_rooms(&mut conn, &tags, &policy)
        .await
        .unwrap();
    assert!(answers[0].as_ref().unwrap().iter().all(Result::is_ok));
    // What the worker's followers read, and the tags they take back.
    let (touched, last) = events::touched_after(&mut conn, a, 0, 100).await.unwrap();
    assert!(!touched.is_empty() && last.is_some());
    let texts = events::last_text_seqs(&mut conn, &[a], &[one])
        .await
        .unwrap();
    assert_eq!(texts.get(&one), Some(&1));
    events::forget_annotation_labels(&mut conn, &[a], &[one], EMOTION)
        .await
        .unwrap();
    // A use of the room counts its author's messages there.
    usage::record(&mut conn, ann.id, a, chrono::TimeDelta::zero())
        .await
        .unwrap();
    // And at last the room goes, with its log.
    events::delete_room(&mut conn, a).await.unwrap();
    flush_statistics(&mut conn).await;

    let after = activity(&mut observer).await;
    let changed: Vec<&String> = after
        .iter()
        .filter(|(name, n)| before.get(*name) != Some(n))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(changed, [&home], "{before:?} -> {after:?}");
}

/// Waits (generously) until some session of the test's database waits for
/// a lock.
async fn until_someone_waits_for_a_lock(conn: &mut AsyncPgConnection) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting = named(
            conn,
            "SELECT 'waiting' AS name, count(*)::bigint AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .await;
        if waiting[0].1 > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no writer waited for the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nonce_stored_by_a_writer_elsewhere_meanwhile_is_answered_not_stored_again() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "raced", &ann).await;
    append(&mut conn, room, &[say(&ann, "first", "n0")]).await;
    // A writer on another instance stores "n1" and holds the room's lock
    // until told to commit; ours looks the nonce up meanwhile (not there
    // yet), waits for the lock, and its insert then hits the partition's
    // copy of the (room, user, nonce) key: it must know that key, retry,
    // and answer the other's event.
    let (stored_tx, stored_rx) = tokio::sync::oneshot::channel();
    let (commit_tx, commit_rx) = tokio::sync::oneshot::channel::<()>();
    let url = db.url().to_owned();
    let theirs = say(&ann, "hello", "n1");
    let other = tokio::spawn(async move {
        let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
        conn.transaction::<_, common::Error, _>(async move |conn| {
            let answer = append(conn, room, &[theirs]).await.remove(0);
            stored_tx.send(answer.seq).unwrap();
            commit_rx.await.unwrap();
            Ok(())
        })
        .await
        .unwrap();
    });
    let their_seq = stored_rx.await.unwrap();
    assert_eq!(their_seq, 2);
    let url = db.url().to_owned();
    let ours = say(&ann, "hello", "n1");
    let mine = tokio::spawn(async move {
        let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
        append_all(&mut conn, room, &[ours]).await.remove(0)
    });
    until_someone_waits_for_a_lock(&mut conn).await;
    commit_tx.send(()).unwrap();
    other.await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(30), mine)
        .await
        .expect("our writer finished")
        .unwrap()
        .unwrap();
    assert_eq!((answer.seq, answer.created), (2, false));
    let log = events::after(&mut conn, room, 0, 10).await.unwrap();
    assert_eq!(log.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
}
