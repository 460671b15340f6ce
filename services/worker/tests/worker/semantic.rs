//! Semantic search with the real model (scripts/fetch-models puts it in
//! .data/models): the `vectors` follower embeds messages, edits and
//! deletions, and a search finds a paraphrase among the rooms its person
//! may read only.

use std::time::{Duration, Instant};

use common::access::Role;
use common::store::events::Change;
use common::store::{members, vectors};
use test_support::TestDb;
use test_support::store::*;
use worker::semantic::{Ask, nearest};

use crate::helpers::{answers, ended, send};

async fn start(db: &TestDb) -> worker::Worker {
    crate::helpers::start_with_models(db).await
}

/// Waits until the rooms hold `n` vectors.
async fn until_vectors(conn: &mut diesel_async::AsyncPgConnection, rooms: &[i64], n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = vectors::of_rooms(conn, rooms, ml::MODEL_ID)
            .await
            .unwrap()
            .len();
        if got == n {
            return;
        }
        assert!(Instant::now() < deadline, "{got} vectors, want {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ids(worker: &worker::Worker, user: i64, q: &str, room: Option<i64>) -> Vec<i64> {
    let ask = Ask {
        user,
        q: q.into(),
        room,
        limit: 10,
    };
    match nearest(&worker.state, ask).await {
        Ok(answer) => answer.hits.iter().map(|h| h.id).collect(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paraphrase_with_no_word_in_common_is_found_in_readable_rooms_only() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let public = new_room(&mut conn, "plans", &ann).await;
    let private = private_room(&mut conn, "secret", &ann).await;
    members::add(&mut conn, private, ann.id, Role::Owner)
        .await
        .unwrap();
    let sent = append(
        &mut conn,
        public,
        &[
            say(&ann, "What time do we ship the release?", "a"),
            say(&ann, "The cat sleeps on the sofa", "b"),
        ],
    )
    .await;
    let (ship, cat) = (message_id(&sent[0]), message_id(&sent[1]));
    let secret = append(
        &mut conn,
        private,
        &[say(&ann, "When does the product go live?", "c")],
    )
    .await;
    let secret = message_id(&secret[0]);
    let worker = start(&db).await;
    until_vectors(&mut conn, &[public, private], 3).await;

    let found = ids(&worker, ann.id, "When is the deploy scheduled?", None).await;
    assert!(
        found.contains(&ship) && found.contains(&secret),
        "{found:?}"
    );
    assert!(
        !found.contains(&cat),
        "unrelated text is not near: {found:?}"
    );
    // Bob may not read the private room.
    let found = ids(&worker, bob.id, "When is the deploy scheduled?", None).await;
    assert_eq!(found, vec![ship]);
    // A room filter he may not read finds nothing.
    assert!(
        ids(&worker, bob.id, "deploy", Some(private))
            .await
            .is_empty()
    );

    // An edit gets a new vector; a deletion takes it away at once.
    append(
        &mut conn,
        public,
        &[edit(&ann, ship, "Lunch is at noon", "e")],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while ids(&worker, bob.id, "When is the deploy scheduled?", None)
        .await
        .contains(&ship)
    {
        assert!(Instant::now() < deadline, "the edit was never embedded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    append(
        &mut conn,
        private,
        &[draft(&ann, "d", Change::Delete { id: secret })],
    )
    .await;
    assert!(
        !ids(&worker, ann.id, "When is the deploy scheduled?", None)
            .await
            .contains(&secret)
    );
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_assistant_finds_an_answer_put_in_other_words() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "release", &ann).await;
    let sent = append(
        &mut conn,
        room,
        &[
            say(&ann, "We ship the release on Friday at noon", "a"),
            say(&ann, "The cat sleeps on the sofa", "b"),
        ],
    )
    .await;
    let (ship, cat) = (&sent[0], &sent[1]);
    let worker = start(&db).await;
    until_vectors(&mut conn, &[room], 2).await;
    let bot = worker.state.bot.clone();

    // No word of the question is in the history: only meaning finds it.
    let question = send(
        &worker,
        &author(&ann),
        room,
        "@assistant when is the deploy scheduled?",
    )
    .await;
    ended(&mut conn, question.id).await;
    let got = answers(&mut conn, room, bot.id).await;
    assert_eq!(got.len(), 1);
    let link = |s: i64| format!("/rooms/{room}?at={s}#m{s}");
    assert!(got[0].html.contains(&link(ship.seq)), "{}", got[0].html);
    assert!(!got[0].html.contains(&link(cat.seq)), "{}", got[0].html);
    worker.shutdown().await;
}
