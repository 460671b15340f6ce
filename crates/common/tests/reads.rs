//! The read pool against a real streaming replica (`PgReplica`): reads
//! come from the replica while it keeps up, and from the primary whenever
//! it is behind what the reader knows (its replay paused on purpose).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use common::db::{self, DbPools};
use common::reads;
use common::store::{messages, room_seqs};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use test_support::store::*;
use test_support::{PgReplica, TestDb};

async fn pools(pg: &PgReplica, db: &TestDb) -> DbPools {
    DbPools::with_replica(
        db::build_pool(db.url(), 4, "parley-test").unwrap(),
        db::build_pool(&pg.replica_url(db), 4, "parley-test").unwrap(),
    )
}

/// Whether a connection is the standby's.
async fn in_recovery(conn: &mut AsyncPgConnection) -> bool {
    #[derive(QueryableByName)]
    struct Recovery {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        r: bool,
    }
    diesel::sql_query("SELECT pg_is_in_recovery() AS r")
        .get_result::<Recovery>(conn)
        .await
        .unwrap()
        .r
}

fn seqs(rows: &[(i64, String)]) -> Vec<i64> {
    rows.iter().map(|r| r.0).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn history_and_replay_come_from_the_replica_and_from_the_primary_while_it_is_behind() {
    let pg = PgReplica::start().await;
    let db = pg.database().await;
    let pools = pools(&pg, &db).await;
    assert!(in_recovery(&mut pools.read.get().await.unwrap()).await);
    assert!(!in_recovery(&mut pools.write.get().await.unwrap()).await);
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "replicated", &ann).await;
    for i in 1..=3 {
        append(
            &mut conn,
            room,
            &[say(&ann, &format!("m{i}"), &format!("n{i}"))],
        )
        .await;
    }
    pg.caught_up().await;

    // Keeping up: the replica answers everything, nothing falls back.
    let read = reads::events_after(&pools, room, 0, 100, Some(3))
        .await
        .unwrap();
    assert_eq!((seqs(&read.value), read.fell_back), (vec![1, 2, 3], false));
    let read = reads::newest_events_after(&pools, room, 1, 100, Some(3))
        .await
        .unwrap();
    assert_eq!((seqs(&read.value), read.fell_back), (vec![2, 3], false));
    let mut page_conn = reads::conn_caught_up(&pools, room, 3).await.unwrap();
    assert!(!page_conn.fell_back && in_recovery(&mut page_conn.value).await);
    drop(page_conn);

    // Behind: what the primary stores now, the replica does not have.
    pg.pause().await;
    for i in 4..=6 {
        append(
            &mut conn,
            room,
            &[say(&ann, &format!("m{i}"), &format!("n{i}"))],
        )
        .await;
    }
    let fresh = new_room(&mut conn, "fresh", &ann).await;
    // Asked without knowing better, the replica answers as it was...
    let stale = reads::events_after(&pools, room, 0, 100, None)
        .await
        .unwrap();
    assert_eq!(
        (seqs(&stale.value), stale.fell_back),
        (vec![1, 2, 3], false)
    );
    // ... knowing the room reached 6 (from a frame, or the primary), every
    // read gets all of it, from the primary.
    let read = reads::events_after(&pools, room, 0, 100, Some(6))
        .await
        .unwrap();
    assert_eq!(
        (seqs(&read.value), read.fell_back),
        (vec![1, 2, 3, 4, 5, 6], true)
    );
    let read = reads::events_after(&pools, room, 3, 2, Some(6))
        .await
        .unwrap();
    assert_eq!((seqs(&read.value), read.fell_back), (vec![4, 5], true));
    let read = reads::newest_events_after(&pools, room, 2, 2, Some(6))
        .await
        .unwrap();
    assert_eq!((seqs(&read.value), read.fell_back), (vec![5, 6], true));
    // A range the replica holds is still its to answer.
    let read = reads::events_after(&pools, room, 0, 2, Some(6))
        .await
        .unwrap();
    assert_eq!((seqs(&read.value), read.fell_back), (vec![1, 2], false));
    // A page of history, after the position the page shows.
    let mut page_conn = reads::conn_caught_up(&pools, room, 6).await.unwrap();
    assert!(page_conn.fell_back && !in_recovery(&mut page_conn.value).await);
    let page = messages::page_before(&mut page_conn.value, room, None, 10, ann.id)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [6, 5, 4, 3, 2, 1]
    );
    drop(page_conn);
    // Rooms: the replica lacks the new one (not gone!), and has an old
    // position of the other, older than what the caller saw before.
    let seen = HashMap::from([(room, 6)]);
    let mut read = reads::last_seqs(&pools, &[room, fresh, 999_999], &seen)
        .await
        .unwrap();
    read.value.sort_unstable();
    assert_eq!(
        (read.value, read.fell_back),
        (vec![(room, 6), (fresh, 0)], true)
    );
    let mut replica = pools.read.get().await.unwrap();
    assert_eq!(
        room_seqs::last_seqs(&mut replica, &[room, fresh])
            .await
            .unwrap(),
        [(room, 3)]
    );
    drop(replica);

    // Caught up again: the replica answers it all once more.
    pg.resume().await;
    pg.caught_up().await;
    let read = reads::events_after(&pools, room, 0, 100, Some(6))
        .await
        .unwrap();
    assert_eq!(
        (seqs(&read.value), read.fell_back),
        (vec![1, 2, 3, 4, 5, 6], false)
    );
    let mut read = reads::last_seqs(&pools, &[room, fresh], &seen)
        .await
        .unwrap();
    read.value.sort_unstable();
    assert_eq!(
        (read.value, read.fell_back),
        (vec![(room, 6), (fresh, 0)], false)
    );
    let mut page_conn = reads::conn_caught_up(&pools, room, 6).await.unwrap();
    assert!(!page_conn.fell_back && in_recovery(&mut page_conn.value).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_replica_every_read_is_the_primary_s_and_none_falls_back() {
    let db = TestDb::migrated().await;
    let pools = DbPools::primary_only(db::build_pool(db.url(), 2, "parley-test").unwrap());
    assert!(!pools.has_replica());
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "solo", &ann).await;
    append(&mut conn, room, &[say(&ann, "hi", "n1")]).await;
    // Knowing more than there is (a forged frame) reads once, and says so.
    let read = reads::events_after(&pools, room, 0, 10, Some(5))
        .await
        .unwrap();
    assert_eq!((seqs(&read.value), read.fell_back), (vec![1], false));
    let read = reads::last_seqs(&pools, &[room, 999_999], &HashMap::new())
        .await
        .unwrap();
    assert_eq!((read.value, read.fell_back), (vec![(room, 1)], false));
    assert!(
        !reads::conn_caught_up(&pools, room, 5)
            .await
            .unwrap()
            .fell_back
    );
}
