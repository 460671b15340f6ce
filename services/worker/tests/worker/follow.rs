//! The search follower against a real Postgres: it indexes every room's
//! messages, edits and deletions, and a restarted worker resumes from its
//! cursors without indexing anything twice.

use std::time::{Duration, Instant};

use common::store::events::Change;
use common::store::{cursors, search};
use test_support::TestDb;
use test_support::store::*;

use crate::helpers::start;

/// Waits until the search rows of `ids` are `want`.
async fn until_indexed(
    conn: &mut diesel_async::AsyncPgConnection,
    ids: &[i64],
    want: &[(i64, &str)],
) {
    let want: Vec<(i64, String)> = want.iter().map(|(i, t)| (*i, (*t).to_owned())).collect();
    let mut rooms = Vec::new();
    for id in ids {
        rooms.push(room_of(conn, *id).await);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = search::indexed(conn, &rooms, ids).await.unwrap();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "indexed {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_messages_edits_and_deletions_of_every_room() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    // More rooms than one pass takes, more events than one transaction.
    let mut rooms = Vec::new();
    for i in 0..5 {
        rooms.push(new_room(&mut conn, &format!("room {i}"), &ann).await);
    }
    let private = private_room(&mut conn, "hidden", &ann).await;
    rooms.push(private);
    let worker = start(&db).await;
    let mut ids = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        let drafts: Vec<_> = (0..7)
            .map(|j| say(&ann, &format!("room {i} line {j}"), &format!("n{i}-{j}")))
            .collect();
        ids.extend(
            append(&mut conn, *room, &drafts)
                .await
                .iter()
                .map(message_id),
        );
    }
    let want: Vec<(i64, String)> = (0..rooms.len())
        .flat_map(|i| (0..7).map(move |j| format!("room {i} line {j}")))
        .zip(&ids)
        .map(|(t, id)| (*id, t))
        .collect();
    let want: Vec<(i64, &str)> = want.iter().map(|(i, t)| (*i, t.as_str())).collect();
    until_indexed(&mut conn, &ids, &want).await;

    // An edit is found in its new form, a deletion not at all.
    let (first, second) = (ids[0], ids[1]);
    append(
        &mut conn,
        rooms[0],
        &[
            edit(&ann, first, "edited words", "e1"),
            draft(&ann, "d1", Change::Delete { id: second }),
        ],
    )
    .await;
    until_indexed(&mut conn, &[first, second], &[(first, "edited words")]).await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_worker_resumes_from_its_cursors() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "resumes", &ann).await;
    let first = append(&mut conn, room, &[say(&ann, "before the restart", "a")]).await;
    let first = message_id(&first[0]);

    let worker = start(&db).await;
    until_indexed(&mut conn, &[first], &[(first, "before the restart")]).await;
    let applied = worker.state.metrics.followed("search");
    assert_eq!(applied, 1);
    worker.shutdown().await;
    assert_eq!(
        cursors::position(&mut conn, "search", room).await.unwrap(),
        1
    );

    let second = append(&mut conn, room, &[say(&ann, "after the restart", "b")]).await;
    let second = message_id(&second[0]);
    let worker = start(&db).await;
    until_indexed(
        &mut conn,
        &[first, second],
        &[(first, "before the restart"), (second, "after the restart")],
    )
    .await;
    // The second worker applied only the new event.
    assert_eq!(worker.state.metrics.followed("search"), 1);
    worker.shutdown().await;
}
