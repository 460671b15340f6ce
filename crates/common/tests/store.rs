//! The schema and the store functions against a real Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::access::{Role, Visibility};
use common::domain::{Email, Reason, RoomName, Topic, Username};
use common::error::Entity;
use common::protocol::{ServerFrame, UserRef};
use common::store::events::{self, Appended, Change, EventDraft, Policy};
use common::store::{members, messages, rooms, sessions, users};
use common::{Error, db};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use test_support::TestDb;

use test_support::store::*;

async fn seeded_room_names(conn: &mut diesel_async::AsyncPgConnection) -> Vec<String> {
    use common::schema::rooms::dsl::*;
    rooms
        .select(name)
        .order(name)
        .load::<String>(conn)
        .await
        .unwrap()
}

/// How many migrations `db/migrations` holds.
fn migration_count() -> usize {
    use diesel::migration::MigrationSource;
    MigrationSource::<diesel::pg::Pg>::migrations(&db::MIGRATIONS)
        .unwrap()
        .len()
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_then_do_nothing() {
    // A current-thread runtime on purpose: migrate must work on any runtime.
    let db = TestDb::empty().await;
    let applied = db::migrate(db.url()).await.unwrap();
    assert_eq!(applied.len(), migration_count(), "{applied:?}");
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
        migration_count(),
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
        matches!(&again, Err(e @ Error::Conflict { .. }) if e.field() == Some("username")),
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
        matches!(&same_mail, Err(e @ Error::Conflict { .. }) if e.field() == Some("email")),
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
    let s = sessions::create(&mut conn, ann.id, later, &Default::default())
        .await
        .unwrap();
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
    let old = sessions::create(&mut conn, ann.id, past, &Default::default())
        .await
        .unwrap();
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
            Visibility::Public,
            ann.id,
        )
        .await
        .unwrap();
    }
    let dup = rooms::insert(
        &mut conn,
        &RoomName::parse("RUST").unwrap(),
        &Topic::parse("").unwrap(),
        Visibility::Public,
        ann.id,
    )
    .await;
    assert!(
        matches!(&dup, Err(e @ Error::Conflict { .. }) if e.field() == Some("name")),
        "{dup:?}"
    );
    let names = |v: Vec<rooms::RoomView>| v.into_iter().map(|r| r.room.name).collect::<Vec<_>>();
    assert_eq!(
        names(
            rooms::directory(&mut conn, Some("rUsT"), None, 10)
                .await
                .unwrap()
        ),
        ["cooking", "Rust"]
    );
    assert_eq!(
        names(
            rooms::directory(&mut conn, Some("00%"), None, 10)
                .await
                .unwrap()
        ),
        ["100%"]
    );
    // One or two characters match the start of names; `%` is no wildcard.
    assert!(
        names(
            rooms::directory(&mut conn, Some("%"), None, 10)
                .await
                .unwrap()
        )
        .is_empty()
    );
    assert_eq!(
        names(
            rooms::directory(&mut conn, Some("10"), None, 10)
                .await
                .unwrap()
        ),
        ["100%"]
    );
    let first = rooms::directory(&mut conn, None, None, 2).await.unwrap();
    assert_eq!(names(first.clone()), ["100%", "cooking"]);
    let cursor = first.last().unwrap().room.name.to_lowercase();
    assert_eq!(
        names(
            rooms::directory(&mut conn, None, Some(&cursor), 10)
                .await
                .unwrap()
        ),
        ["general", "random", "Rust"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_room_takes_its_log_and_messages_with_it() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "mine", &ann).await;
    append(&mut conn, room, &[say(&ann, "hello", "n1")]).await;
    assert_eq!(
        members::role(&mut conn, room, ann.id).await.unwrap(),
        Some(common::access::Role::Owner)
    );
    events::delete_room(&mut conn, room).await.unwrap();
    assert!(matches!(
        rooms::find(&mut conn, room).await,
        Err(Error::NotFound(Entity::Room))
    ));
    assert!(
        events::after(&mut conn, room, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // No foreign key deletes them: the log and the messages have none.
    assert!(
        messages::page_before(&mut conn, room, None, 10, ann.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        events::delete_room(&mut conn, room).await,
        Err(Error::NotFound(Entity::Room))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_big_room_is_deleted_whole_and_others_keep_theirs() {
    use diesel::sql_types::BigInt;
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let (big, other) = (
        new_room(&mut conn, "big", &ann).await,
        new_room(&mut conn, "other", &ann).await,
    );
    append(&mut conn, other, &[say(&ann, "stays", "k1")]).await;
    // More rows than one batch of the deletion takes, as the writer leaves them.
    diesel::sql_query(
        "WITH m AS (INSERT INTO messages (room_id, seq, user_id, body, nonce) \
           SELECT $1, g, $2, 'x', 'n' || g FROM generate_series(1, 12345) g RETURNING id, seq) \
         INSERT INTO room_events (room_id, seq, kind, message_id, user_id, nonce, frame) \
           SELECT $1, seq, 'message', id, $2, 'n' || seq, '{}' FROM m",
    )
    .bind::<BigInt, _>(big)
    .bind::<BigInt, _>(ann.id)
    .execute(&mut conn)
    .await
    .unwrap();
    // Every later message answers the first, which only the last batch may
    // take: the reply key has no ON DELETE action.
    diesel::sql_query(
        "UPDATE messages SET reply_to_id = (SELECT min(id) FROM messages WHERE room_id = $1) \
         WHERE room_id = $1 AND seq > 1",
    )
    .bind::<BigInt, _>(big)
    .execute(&mut conn)
    .await
    .unwrap();
    events::delete_room(&mut conn, big).await.unwrap();
    assert!(
        events::after(&mut conn, big, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let left: i64 = common::schema::messages::table
        .filter(common::schema::messages::room_id.eq(big))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(matches!(
        rooms::find(&mut conn, big).await,
        Err(Error::NotFound(Entity::Room))
    ));
    assert_eq!(
        events::after(&mut conn, other, 0, 10).await.unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_take_consecutive_seqs_and_a_repeated_nonce_is_stored_once() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "r", &ann).await;
    let first = append(&mut conn, room, &[say(&ann, "one", "n1")])
        .await
        .remove(0);
    let second = append(&mut conn, room, &[say(&ann, "two", "n2")])
        .await
        .remove(0);
    let again = append(&mut conn, room, &[say(&ann, "two?", "n2")])
        .await
        .remove(0);
    assert_eq!((first.seq, second.seq), (1, 2));
    assert!(first.created && second.created && !again.created);
    assert_eq!(again.json, second.json, "the stored event is answered");
    let found = rooms::find(&mut conn, room).await.unwrap().room;
    assert_eq!((found.last_seq, found.message_count), (2, 2));
    let newest = messages::page_before(&mut conn, room, None, 50, ann.id)
        .await
        .unwrap();
    assert_eq!(newest.iter().map(|m| m.seq).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(newest[0].body, "two");
    let older = messages::page_before(&mut conn, room, Some(2), 50, ann.id)
        .await
        .unwrap();
    assert_eq!(older.iter().map(|m| m.seq).collect::<Vec<_>>(), [1]);
    let replay = events::after(&mut conn, room, 0, 1000).await.unwrap();
    assert_eq!(
        replay,
        [(1, first.json.clone()), (2, second.json.clone())],
        "replay sends the stored frames as they were sent"
    );
    let missing = events::append_batch(
        &mut conn,
        999_999,
        &[say(&ann, "x", "n3")],
        &Policy::default(),
    )
    .await;
    assert!(
        matches!(missing, Err(Error::NotFound(Entity::Room))),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_senders_get_distinct_consecutive_seqs() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "busy", &ann).await;
    let tasks = (0..8).map(|i| {
        let url = db.url().to_owned();
        let ann = ann.clone();
        tokio::spawn(async move {
            let mut conn: diesel_async::AsyncPgConnection =
                <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url)
                    .await
                    .unwrap();
            let mut seqs = Vec::new();
            for j in 0..10 {
                let d = say(&ann, &format!("{i}-{j}"), &format!("n-{i}-{j}"));
                seqs.push(append(&mut conn, room, &[d]).await.remove(0).seq);
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
async fn read_marks_only_move_forward_and_only_for_members() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob) = (user(&mut conn, "ann").await, user(&mut conn, "bob").await);
    let room = new_room(&mut conn, "r", &ann).await;
    assert_eq!(
        members::last_read(&mut conn, room, ann.id).await.unwrap(),
        Some(0)
    );
    assert_eq!(
        members::mark_read(&mut conn, room, bob.id, 5)
            .await
            .unwrap(),
        None,
        "reading does not make a member"
    );
    assert_eq!(
        members::mark_read(&mut conn, room, ann.id, 5)
            .await
            .unwrap(),
        Some(5)
    );
    assert_eq!(
        members::mark_read(&mut conn, room, ann.id, 3)
            .await
            .unwrap(),
        Some(5)
    );
    assert_eq!(
        members::last_read(&mut conn, room, ann.id).await.unwrap(),
        Some(5)
    );
    assert_eq!(
        members::last_read(&mut conn, room, bob.id).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_takes_consecutive_seqs_and_stores_each_nonce_once() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob) = (user(&mut conn, "ann").await, user(&mut conn, "bob").await);
    let room = new_room(&mut conn, "r", &ann).await;
    append(&mut conn, room, &[say(&ann, "earlier", "old")]).await;
    let batch = [
        say(&ann, "one", "a"),
        say(&bob, "two", "a"),       // another user's same nonce: a new message
        say(&ann, "one again", "a"), // repeated in the batch: the first one
        say(&ann, "earlier?", "old"), // stored before the batch
        say(&bob, "three", "b"),
    ];
    let stored = append(&mut conn, room, &batch).await;
    let seqs: Vec<(i64, bool)> = stored.iter().map(|s| (s.seq, s.created)).collect();
    assert_eq!(
        seqs,
        [(2, true), (3, true), (2, false), (1, false), (4, true)]
    );
    assert!(stored[2].json.contains(r#""body":"one""#));
    assert!(stored[3].json.contains(r#""body":"earlier""#));
    assert_eq!(rooms::find(&mut conn, room).await.unwrap().room.last_seq, 4);
    assert_eq!(
        members::last_read(&mut conn, room, bob.id).await.unwrap(),
        Some(4),
        "an author becomes a member and has read what they wrote"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_deletes_and_reactions_are_events_with_the_rules_of_protocol_md() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob, cat) = (
        user(&mut conn, "ann").await,
        user(&mut conn, "bob").await,
        user(&mut conn, "cat").await,
    );
    let room = new_room(&mut conn, "r", &ann).await;
    let other = new_room(&mut conn, "other", &ann).await;
    let sent = append(
        &mut conn,
        room,
        &[say(&bob, "hello", "b1"), say(&cat, "hi", "c1")],
    )
    .await;
    let (hello, hi) = (message_id(&sent[0]), message_id(&sent[1]));
    let elsewhere = message_id(&append(&mut conn, other, &[say(&bob, "x", "b1")]).await[0]);
    let answers = append_all(
        &mut conn,
        room,
        &[
            edit(&bob, hello, "hello again", "b2"),
            edit(&cat, hello, "not mine", "c2"),
            edit(&bob, elsewhere, "other room", "b3"),
            edit(&bob, 424_242, "unknown", "b4"),
            react(&cat, hello, "👍", true, "c3"),
            react(&ann, hello, "👍", true, "a1"),
            react(&cat, hello, "👍", false, "c4"),
            draft(&cat, "c5", Change::Delete { id: hello }),
            say_to(&cat, "re", "c6", Some(elsewhere)),
            say_to(&cat, "re", "c7", Some(hello)),
            draft(&ann, "a2", Change::Delete { id: hi }), // the owner moderates
            edit(&cat, hi, "too late", "c8"),
            draft(&ann, "a2", Change::Delete { id: hi }), // repeated nonce
        ],
    )
    .await;
    let codes: Vec<String> = answers.iter().map(code).collect();
    assert_eq!(
        codes,
        [
            "ok 3",
            "not_author",
            "message_not_found",
            "message_not_found",
            "ok 4",
            "ok 5",
            "ok 6",
            "forbidden",
            "message_not_found",
            "ok 7",
            "ok 8",
            "message_not_found",
            "ok 8",
        ]
    );
    let count = |r: &Result<Appended, Error>| match &r.as_ref().unwrap().frame {
        ServerFrame::Reaction(r) => (r.on, r.count),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        [count(&answers[4]), count(&answers[5]), count(&answers[6])],
        [(true, 1), (true, 2), (false, 1)]
    );
    let shown = messages::page_before(&mut conn, room, None, 10, ann.id)
        .await
        .unwrap();
    let hello_now = shown.iter().find(|m| m.id == hello).unwrap();
    assert_eq!(hello_now.body, "hello again");
    assert!(hello_now.edited_at.is_some());
    assert_eq!(hello_now.reactions.len(), 1);
    assert_eq!(
        (hello_now.reactions[0].count, hello_now.reactions[0].me),
        (1, true)
    );
    let reply = shown.iter().find(|m| m.reply_to.is_some()).unwrap();
    assert_eq!(reply.reply_to.as_ref().unwrap().id, hello);
    assert_eq!(reply.reply_to.as_ref().unwrap().excerpt, "hello again");
    let hi_now = shown.iter().find(|m| m.id == hi).unwrap();
    assert!(hi_now.deleted && hi_now.body.is_empty() && hi_now.html.is_empty());
    let found = rooms::find(&mut conn, room).await.unwrap().room;
    assert_eq!((found.last_seq, found.message_count), (8, 2));
    // The log, replayed: seqs with no holes, the deleted text nowhere.
    let log = events::after(&mut conn, room, 0, 100).await.unwrap();
    assert_eq!(
        log.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    assert!(
        log.iter()
            .all(|(_, f)| !f.contains("\"hi\"") && !f.contains(">hi<")),
        "{log:?}"
    );
    assert!(log[1].1.contains(r#""deleted":true"#), "{}", log[1].1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_edit_window_closes() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "r", &ann).await;
    let id = message_id(&append(&mut conn, room, &[say(&ann, "one", "n1")]).await[0]);
    let closed = Policy {
        edit_window: chrono::Duration::zero(),
    };
    let answer = events::append_batch(&mut conn, room, &[edit(&ann, id, "two", "n2")], &closed)
        .await
        .unwrap();
    assert_eq!(code(&answer[0]), "edit_window_closed");
    assert_eq!(
        rooms::find(&mut conn, room).await.unwrap().room.last_seq,
        1,
        "nothing appended"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_message_leaves_no_trace_of_its_text_in_the_database() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob) = (user(&mut conn, "ann").await, user(&mut conn, "bob").await);
    let room = new_room(&mut conn, "r", &ann).await;
    let secret = "a-secret-first-version";
    let edited = "a-secret-second-version";
    let id = message_id(&append(&mut conn, room, &[say(&ann, secret, "n1")]).await[0]);
    append(
        &mut conn,
        room,
        &[
            edit(&ann, id, edited, "n2"),
            say_to(&bob, "quoting it", "b1", Some(id)),
            react(&bob, id, "🎉", true, "b2"),
        ],
    )
    .await;
    let before = dump(&db);
    assert!(
        before.contains(secret) && before.contains(edited),
        "the dump sees the text before"
    );
    append(&mut conn, room, &[draft(&ann, "n3", Change::Delete { id })]).await;
    let after = dump(&db);
    for text in [secret, edited, "a-secret"] {
        assert!(!after.contains(text), "{text} survived the deletion");
    }
    assert!(after.contains("quoting it"), "the reply stays");
}

/// The whole database as `pg_dump` writes it.
fn dump(db: &TestDb) -> String {
    let bin = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    let out = std::process::Command::new(format!("{bin}/pg_dump"))
        .arg("--data-only")
        .arg("--inserts")
        .arg(db.url())
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn unread_counts_come_from_the_log_and_the_read_mark() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob) = (user(&mut conn, "ann").await, user(&mut conn, "bob").await);
    let room = new_room(&mut conn, "r", &ann).await;
    let mut mention = say(&bob, "@ann look", "b1");
    if let Change::Message { mentions, .. } = &mut mention.change {
        mentions.push(ann.id);
    }
    let sent = append(
        &mut conn,
        room,
        &[
            say(&ann, "mine", "a1"),
            say(&bob, "one", "b0"),
            mention,
            say(&bob, "three", "b2"),
        ],
    )
    .await;
    let state = |v: Vec<members::Unread>| {
        let u = &v[0];
        (u.last_seq, u.read_seq, u.unread, u.mentions)
    };
    assert_eq!(
        state(members::unread(&mut conn, ann.id, None).await.unwrap()),
        (4, 1, 3, 1)
    );
    // A reaction is an event, not an unread message; a deletion takes one away.
    append(
        &mut conn,
        room,
        &[
            react(&bob, message_id(&sent[0]), "👍", true, "b3"),
            draft(
                &bob,
                "b4",
                Change::Delete {
                    id: message_id(&sent[3]),
                },
            ),
        ],
    )
    .await;
    assert_eq!(
        state(members::unread(&mut conn, ann.id, None).await.unwrap()),
        (6, 1, 2, 1)
    );
    members::mark_read(&mut conn, room, ann.id, 3)
        .await
        .unwrap();
    assert_eq!(
        state(
            members::unread(&mut conn, ann.id, Some(&[room]))
                .await
                .unwrap()
        ),
        (6, 3, 0, 0)
    );
    assert!(
        members::unread(&mut conn, ann.id, Some(&[424_242]))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_writer_batches_concurrent_sends_without_holes_or_duplicates() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let mut room_ids = Vec::new();
    for name in ["a", "b", "c"] {
        room_ids.push(new_room(&mut conn, name, &ann).await);
    }
    // Two writers on their own pools: two instances racing, the same nonces included.
    let writers: Vec<common::writer::EventWriter> = (0..2)
        .map(|_| {
            common::writer::EventWriter::start(
                db::build_pool(db.url(), 4, "test").unwrap(),
                common::writer::WriterConfig {
                    shards: 2,
                    ..Default::default()
                },
                Policy::default(),
                None,
            )
        })
        .collect();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let writer = writers[i % 2].clone();
        // Every nonce is sent twice to its room, once through each writer.
        let room = room_ids[(i / 2) % 3];
        let d = say(&ann, &format!("m{}", i / 2), &format!("n{}", i / 2));
        tasks.push(tokio::spawn(async move {
            (room, writer.append(room, d).await.unwrap())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    for room in &room_ids {
        let mut created: Vec<i64> = results
            .iter()
            .filter(|(r, s)| r == room && s.created)
            .map(|(_, s)| s.seq)
            .collect();
        created.sort_unstable();
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
        let ServerFrame::Message(m) = &s.frame else {
            panic!("{:?}", s.frame)
        };
        by_nonce.entry(m.nonce.clone()).or_default().push(m.id);
    }
    assert!(
        by_nonce
            .values()
            .all(|ids| ids.len() == 2 && ids[0] == ids[1])
    );
    assert_eq!(results.iter().filter(|(_, s)| s.created).count(), 150);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_log_migration_moves_every_message_over() {
    use diesel_async::SimpleAsyncConnection;
    let db = TestDb::empty().await;
    let mut conn = db.connect().await;
    // The first schema, with a room of messages as the first release stored them.
    conn.batch_execute(include_str!(
        "../../../db/migrations/2026-11-21-000001_create_schema/up.sql"
    ))
    .await
    .unwrap();
    conn.batch_execute(
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
         run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
         INSERT INTO __diesel_schema_migrations (version) VALUES ('20261121000001');
         INSERT INTO users (username, email, password_hash) VALUES ('ann', 'ann@example.com', 'h'), ('bob', 'bob@example.com', 'h');
         INSERT INTO rooms (name, owner_id, last_seq) VALUES ('old', 1, 2);
         INSERT INTO room_members (room_id, user_id, last_read_seq) VALUES (1, 2, 1);
         INSERT INTO messages (room_id, seq, user_id, body, nonce) VALUES
             (1, 1, 1, 'first <b>&', 'n1'), (1, 2, 2, E'second\nline', 'n1');",
    )
    .await
    .unwrap();
    let applied = db::migrate(db.url()).await.unwrap();
    assert!(!applied.is_empty());
    let log = events::after(&mut conn, 1, 0, 10).await.unwrap();
    assert_eq!(log.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2]);
    let frames: Vec<ServerFrame> = log
        .iter()
        .map(|(_, f)| serde_json::from_str(f).unwrap())
        .collect();
    let ServerFrame::Message(first) = &frames[0] else {
        panic!("{frames:?}")
    };
    assert_eq!(
        (
            first.body.as_str(),
            first.html.as_str(),
            first.user.name.as_str(),
            first.nonce.as_str()
        ),
        ("first <b>&", "<p>first &lt;b&gt;&amp;</p>", "ann", "n1")
    );
    let found = rooms::find(&mut conn, 1).await.unwrap().room;
    assert_eq!((found.last_seq, found.message_count), (2, 2));
    assert_eq!(
        members::role(&mut conn, 1, 1).await.unwrap(),
        Some(common::access::Role::Owner)
    );
    assert_eq!(members::last_read(&mut conn, 1, 2).await.unwrap(), Some(1));
    // The log goes on from where the messages stopped, and old nonces still count.
    let ann = users::find_by_login(&mut conn, "ann")
        .await
        .unwrap()
        .unwrap();
    let next = append(
        &mut conn,
        1,
        &[say(&ann, "third", "n2"), say(&ann, "again", "n1")],
    )
    .await;
    assert_eq!(
        (next[0].seq, next[0].created, next[1].seq, next[1].created),
        (3, true, 1, false)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_room_s_unread_counts_for_many_members_match_each_member_s_own() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let mut people = Vec::new();
    for name in ["ann", "bob", "cat", "dan"] {
        people.push(user(&mut conn, name).await);
    }
    let room = new_room(&mut conn, "r", &people[0]).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let author = &people[i % 3];
        let mut d = say(author, &format!("m{i}"), &format!("n{i}"));
        if i % 4 == 0
            && let Change::Message { mentions, .. } = &mut d.change
        {
            mentions.push(people[3].id);
            mentions.push(people[1].id);
        }
        ids.push(message_id(&append(&mut conn, room, &[d]).await[0]));
    }
    append(
        &mut conn,
        room,
        &[draft(&people[0], "del", Change::Delete { id: ids[28] })],
    )
    .await;
    members::add(&mut conn, room, people[3].id, common::access::Role::Member)
        .await
        .unwrap();
    members::mark_read(&mut conn, room, people[1].id, 10)
        .await
        .unwrap();
    let users: Vec<i64> = people.iter().map(|u| u.id).collect();
    let together = members::unread_of_members(&mut conn, room, &users)
        .await
        .unwrap();
    assert_eq!(together.len(), 4);
    for (user_id, state) in together {
        let alone = members::unread(&mut conn, user_id, Some(&[room]))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(state, alone, "user {user_id}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn several_rooms_commit_together_and_a_gone_room_undoes_none_of_the_others() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let (a, b) = (
        new_room(&mut conn, "a", &ann).await,
        new_room(&mut conn, "b", &ann).await,
    );
    append(&mut conn, a, &[say(&ann, "earlier", "n0")]).await;
    let batches = vec![
        (b, vec![say(&ann, "b1", "n1"), say(&ann, "b2", "n2")]),
        (999_999, vec![say(&ann, "nowhere", "n3")]),
        (a, vec![say(&ann, "again?", "n0"), say(&ann, "a2", "n4")]),
    ];
    let answers = events::append_rooms(&mut conn, &batches, &Policy::default())
        .await
        .unwrap();
    let seqs = |r: &Result<Vec<Result<Appended, Error>>, Error>| -> Vec<(i64, bool)> {
        r.as_ref()
            .unwrap()
            .iter()
            .map(|a| {
                let a = a.as_ref().unwrap();
                (a.seq, a.created)
            })
            .collect()
    };
    assert_eq!(seqs(&answers[0]), [(1, true), (2, true)]);
    assert!(
        matches!(answers[1], Err(Error::NotFound(_))),
        "{:?}",
        answers[1]
    );
    assert_eq!(seqs(&answers[2]), [(1, false), (2, true)]);
    assert_eq!(rooms::find(&mut conn, a).await.unwrap().room.last_seq, 2);
    assert_eq!(rooms::find(&mut conn, b).await.unwrap().room.last_seq, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_messages_of_many_rooms_are_written_in_bulk_beside_the_rooms_that_need_care() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob) = (user(&mut conn, "ann").await, user(&mut conn, "bob").await);
    let mut plain_rooms = Vec::new();
    for i in 0..12 {
        plain_rooms.push(new_room(&mut conn, &format!("p{i}"), &ann).await);
    }
    let careful = new_room(&mut conn, "careful", &ann).await;
    let first = append(&mut conn, careful, &[say(&ann, "first", "c0")]).await;
    let first_id = message_id(&first[0]);
    let mut batches: Vec<(i64, Vec<EventDraft>)> = plain_rooms
        .iter()
        .enumerate()
        .map(|(i, room)| {
            let mut mentioning = say(&bob, &format!("hi @ann {i}"), &format!("b{i}"));
            if let Change::Message { mentions, .. } = &mut mentioning.change {
                mentions.push(ann.id);
            }
            (*room, vec![say(&ann, &format!("r{i}"), "a"), mentioning])
        })
        .collect();
    // A reply needs the general path; so does a nonce repeated in one batch.
    batches.push((
        careful,
        vec![
            say_to(&bob, "answer", "c1", Some(first_id)),
            say(&bob, "twice", "c2"),
            say(&bob, "twice", "c2"),
        ],
    ));
    batches.reverse();
    let answers = events::append_rooms(&mut conn, &batches, &Policy::default())
        .await
        .unwrap();
    for ((room, _), answer) in batches.iter().zip(&answers) {
        let events: Vec<&Appended> = answer
            .as_ref()
            .unwrap()
            .iter()
            .map(|a| a.as_ref().unwrap())
            .collect();
        let stored = events::after(&mut conn, *room, 0, 10).await.unwrap();
        if *room == careful {
            assert_eq!(
                events
                    .iter()
                    .map(|a| (a.seq, a.created))
                    .collect::<Vec<_>>(),
                [(2, true), (3, true), (3, false)]
            );
            assert_eq!(stored.len(), 3);
            continue;
        }
        assert_eq!(
            events
                .iter()
                .map(|a| (a.seq, a.created, a.joined))
                .collect::<Vec<_>>(),
            [(1, true, false), (2, true, true)],
            "ann owns the room; bob joins it by posting"
        );
        // What was answered is what was stored and what catch-up sends.
        assert_eq!(
            stored,
            events
                .iter()
                .map(|a| (a.seq, a.json.clone()))
                .collect::<Vec<_>>()
        );
        let ServerFrame::Message(m) = &events[1].frame else {
            panic!("{:?}", events[1].frame)
        };
        assert_eq!(m.mentions, [ann.id]);
        let found = rooms::find(&mut conn, *room).await.unwrap().room;
        assert_eq!((found.last_seq, found.message_count), (2, 2));
        assert_eq!(
            members::last_read(&mut conn, *room, bob.id).await.unwrap(),
            Some(2)
        );
        let unread = members::unread(&mut conn, ann.id, Some(&[*room]))
            .await
            .unwrap();
        assert_eq!(
            (unread[0].unread, unread[0].mentions),
            (1, 1),
            "bob's message mentions ann"
        );
    }
    // The same batch again stores nothing new and answers the same events.
    let again = events::append_rooms(&mut conn, &batches, &Policy::default())
        .await
        .unwrap();
    for (before, after) in answers.iter().zip(&again) {
        for (b, a) in before.as_ref().unwrap().iter().zip(after.as_ref().unwrap()) {
            let (b, a) = (b.as_ref().unwrap(), a.as_ref().unwrap());
            assert_eq!((a.seq, a.created, &a.json), (b.seq, false, &b.json));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writers_taking_many_rooms_in_opposite_orders_never_deadlock() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let mut room_ids = Vec::new();
    for i in 0..16 {
        room_ids.push(new_room(&mut conn, &format!("r{i}"), &ann).await);
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let url = db.url().to_owned();
        let mut order = room_ids.clone();
        if w % 2 == 1 {
            order.reverse();
        }
        let ann = ann.clone();
        tasks.push(tokio::spawn(async move {
            use diesel_async::AsyncConnection;
            let mut conn = diesel_async::AsyncPgConnection::establish(&url)
                .await
                .unwrap();
            for round in 0..25 {
                let batches: Vec<(i64, Vec<EventDraft>)> = order
                    .iter()
                    .map(|r| (*r, vec![say(&ann, "x", &format!("w{w}-{round}"))]))
                    .collect();
                let answers = events::append_rooms(&mut conn, &batches, &Policy::default())
                    .await
                    .unwrap();
                assert!(
                    answers
                        .iter()
                        .all(|a| a.as_ref().is_ok_and(|v| v.iter().all(Result::is_ok)))
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for room in room_ids {
        let stored = events::after(&mut conn, room, 0, 1000).await.unwrap();
        assert_eq!(
            stored.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            (1..=100).collect::<Vec<_>>()
        );
    }
}

/// Eight writers (as eight chat instances would run) over overlapping sets
/// of rooms, each pair sending the same changes under the same nonces (a
/// resend that reached two instances): no deadlock, every room's seqs
/// consecutive from 1, each nonce stored once, and the writer that lost
/// the race answered with the winner's event.
#[tokio::test(flavor = "multi_thread")]
async fn eight_writers_over_overlapping_rooms_store_each_nonce_once_without_holes() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let mut room_ids = Vec::new();
    for i in 0..12 {
        room_ids.push(new_room(&mut conn, &format!("r{i}"), &ann).await);
    }
    const ROUNDS: usize = 12;
    let mut tasks = Vec::new();
    for w in 0..8usize {
        let url = db.url().to_owned();
        // Writers w and w + 4 share rooms and nonces; neighbours overlap.
        let pair = w % 4;
        let mut rooms: Vec<i64> = (0..6).map(|k| room_ids[(pair * 3 + k) % 12]).collect();
        if w >= 4 {
            rooms.reverse();
        }
        let ann = ann.clone();
        tasks.push(tokio::spawn(async move {
            use diesel_async::AsyncConnection;
            let mut conn = diesel_async::AsyncPgConnection::establish(&url)
                .await
                .unwrap();
            let mut got = Vec::new();
            for round in 0..ROUNDS {
                let batches: Vec<(i64, Vec<EventDraft>)> = rooms
                    .iter()
                    .map(|r| (*r, vec![say(&ann, "x", &format!("p{pair}-{round}"))]))
                    .collect();
                let answers = events::append_rooms(&mut conn, &batches, &Policy::default())
                    .await
                    .unwrap();
                for ((room, _), answer) in batches.iter().zip(answers) {
                    for a in answer.unwrap() {
                        let a = a.unwrap();
                        got.push((*room, format!("p{pair}-{round}"), a.seq, a.created));
                    }
                }
            }
            got
        }));
    }
    let mut answered: std::collections::HashMap<(i64, String), Vec<(i64, bool)>> =
        std::collections::HashMap::new();
    for t in tasks {
        for (room, nonce, seq, created) in t.await.unwrap() {
            answered
                .entry((room, nonce))
                .or_default()
                .push((seq, created));
        }
    }
    // Each (room, nonce) was asked twice: stored once, answered the same.
    for (key, answers) in &answered {
        assert_eq!(answers.len(), 2, "{key:?}");
        assert_eq!(answers[0].0, answers[1].0, "{key:?}: one seq for both");
        assert_eq!(
            answers.iter().filter(|(_, created)| *created).count(),
            1,
            "{key:?}: created once"
        );
    }
    for room in room_ids {
        let stored = events::after(&mut conn, room, 0, 1000).await.unwrap();
        let seqs: Vec<i64> = stored.iter().map(|(s, _)| *s).collect();
        let distinct = answered.keys().filter(|(r, _)| *r == room).count() as i64;
        assert_eq!(seqs, (1..=distinct).collect::<Vec<_>>(), "room {room}");
    }
}

// ---- People and rooms: private rooms, moderation --------------------------

/// The id of `user_id`'s first message in a room.
async fn members_message(
    conn: &mut diesel_async::AsyncPgConnection,
    room: i64,
    user_id: i64,
) -> i64 {
    use common::schema::messages;
    messages::table
        .filter(messages::room_id.eq(room))
        .filter(messages::user_id.eq(user_id))
        .order(messages::seq.asc())
        .select(messages::id)
        .first(conn)
        .await
        .unwrap()
}

fn moderate(u: &users::User, nonce: &str, m: events::Moderation) -> EventDraft {
    draft(u, nonce, Change::Moderate(m))
}

fn target(u: &users::User) -> UserRef {
    author(u)
}

fn no_reason() -> Reason {
    Reason::parse("").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn private_rooms_are_not_in_the_directory_and_their_names_do_not_collide() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    private_room(&mut conn, "secret plans", &ann).await;
    // Another private room, and a public one, may take the same name: a
    // clash would tell bob the private room exists.
    private_room(&mut conn, "Secret Plans", &bob).await;
    new_room(&mut conn, "secret plans", &bob).await;
    let listed: Vec<String> = rooms::directory(&mut conn, Some("secret"), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.room.name, r.room.visibility))
        .collect();
    assert_eq!(listed, ["secret plans public"]);
    let dup = rooms::insert(
        &mut conn,
        &RoomName::parse("SECRET PLANS").unwrap(),
        &Topic::parse("").unwrap(),
        Visibility::Public,
        ann.id,
    )
    .await;
    assert!(
        matches!(&dup, Err(e @ Error::Conflict { .. }) if e.field() == Some("name")),
        "{dup:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_member_cannot_post_in_a_private_room_nor_become_a_member() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let eve = user(&mut conn, "eve").await;
    let room = private_room(&mut conn, "p", &ann).await;
    let answers = append_all(
        &mut conn,
        room,
        &[say(&ann, "hi", "a1"), say(&eve, "let me in", "e1")],
    )
    .await;
    assert_eq!(
        answers.iter().map(code).collect::<Vec<_>>(),
        ["ok 1", "room_not_found"]
    );
    assert_eq!(members::role(&mut conn, room, eve.id).await.unwrap(), None);
    // The bulk path of many rooms refuses the same way.
    let batches = vec![(room, vec![say(&eve, "again", "e2")])];
    let answers = events::append_rooms(&mut conn, &batches, &Policy::default())
        .await
        .unwrap();
    let room_answers = answers.into_iter().next().unwrap().unwrap();
    assert_eq!(code(&room_answers[0]), "room_not_found");
    assert_eq!(members::role(&mut conn, room, eve.id).await.unwrap(), None);
    // A member posts, through the bulk path too.
    members::add(&mut conn, room, eve.id, Role::Member)
        .await
        .unwrap();
    let batches = vec![(room, vec![say(&eve, "thanks", "e3")])];
    let answers = events::append_rooms(&mut conn, &batches, &Policy::default())
        .await
        .unwrap();
    assert_eq!(code(&answers[0].as_ref().unwrap()[0]), "ok 2");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_member_resending_an_old_nonce_gets_room_not_found() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let room = private_room(&mut conn, "p", &ann).await;
    members::add(&mut conn, room, bob.id, Role::Member)
        .await
        .unwrap();
    append(&mut conn, room, &[say(&bob, "secret", "b1")]).await;
    append(
        &mut conn,
        room,
        &[moderate(
            &ann,
            "k1",
            events::Moderation::Kick {
                target: target(&bob),
                reason: no_reason(),
            },
        )],
    )
    .await;
    // The stored event would carry what was said since; it is not answered.
    let again = append_all(&mut conn, room, &[say(&bob, "secret", "b1")]).await;
    assert_eq!(code(&again[0]), "room_not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn moderation_is_sequenced_logged_and_enforced() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let cid = user(&mut conn, "cid").await;
    let room = new_room(&mut conn, "r", &ann).await;
    append(
        &mut conn,
        room,
        &[say(&bob, "hi", "b1"), say(&cid, "yo", "c1")],
    )
    .await;
    let hour = chrono::Utc::now() + chrono::Duration::hours(1);
    let acts = append_all(
        &mut conn,
        room,
        &[
            moderate(
                &ann,
                "m1",
                events::Moderation::Role {
                    target: target(&bob),
                    role: Role::Moderator,
                },
            ),
            moderate(
                &bob,
                "m2",
                events::Moderation::Mute {
                    target: target(&cid),
                    until: Some(hour),
                    reason: Reason::parse("shouting").unwrap(),
                },
            ),
            // A moderator cannot act on the owner, nor on themselves.
            moderate(
                &bob,
                "m3",
                events::Moderation::Kick {
                    target: target(&ann),
                    reason: no_reason(),
                },
            ),
            moderate(
                &bob,
                "m4",
                events::Moderation::Ban {
                    target: target(&bob),
                    until: None,
                    reason: no_reason(),
                },
            ),
            // The owner's role changes only by handing the room over.
            moderate(
                &bob,
                "m5",
                events::Moderation::Role {
                    target: target(&ann),
                    role: Role::Member,
                },
            ),
            moderate(
                &ann,
                "m6",
                events::Moderation::Role {
                    target: target(&ann),
                    role: Role::Member,
                },
            ),
        ],
    )
    .await;
    assert_eq!(
        acts.iter().map(code).collect::<Vec<_>>(),
        [
            "ok 3",
            "ok 4",
            "outranks_you",
            "cannot_moderate_self",
            "forbidden",
            "cannot_moderate_self"
        ]
    );
    match &acts[1].as_ref().unwrap().frame {
        ServerFrame::Moderation(m) => {
            assert_eq!((m.action.as_str(), m.by.id), ("mute", bob.id));
            assert_eq!(m.target.as_ref().map(|t| t.id), Some(cid.id));
            assert!(m.until.is_some());
            assert!(!acts[1].as_ref().unwrap().json.contains("shouting"));
        }
        other => panic!("not a moderation event: {other:?}"),
    }
    // Muted: cid reads but cannot post or react; the others can.
    let answers = append_all(
        &mut conn,
        room,
        &[say(&cid, "let me talk", "c2"), say(&bob, "calm down", "b2")],
    )
    .await;
    assert_eq!(
        answers.iter().map(code).collect::<Vec<_>>(),
        ["muted", "ok 5"]
    );
    // Taking back one's own words stays possible.
    let own = members_message(&mut conn, room, cid.id).await;
    let taken_back = append_all(
        &mut conn,
        room,
        &[draft(&cid, "c9", Change::Delete { id: own })],
    )
    .await;
    assert_eq!(code(&taken_back[0]), "ok 6");
    // Banned for good: out of the room, and cannot come back by posting.
    let ban = append_all(
        &mut conn,
        room,
        &[moderate(
            &ann,
            "m7",
            events::Moderation::Ban {
                target: target(&cid),
                until: None,
                reason: no_reason(),
            },
        )],
    )
    .await;
    assert_eq!(code(&ban[0]), "ok 7");
    assert_eq!(members::role(&mut conn, room, cid.id).await.unwrap(), None);
    let answers = append_all(&mut conn, room, &[say(&cid, "back", "c3")]).await;
    assert_eq!(code(&answers[0]), "banned");
    // The log keeps who did what, with the reason, for moderators.
    let log = common::store::modlog::page(&mut conn, room, None, 10)
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["ban", "mute", "role"]);
    assert_eq!(log[1].reason, "shouting");
    // Unread counts are about messages: moderation events do not count.
    let unread = members::unread(&mut conn, bob.id, Some(&[room]))
        .await
        .unwrap();
    assert_eq!(unread[0].unread, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_mode_spaces_a_members_messages_not_a_moderators() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let room = new_room(&mut conn, "r", &ann).await;
    append(
        &mut conn,
        room,
        &[moderate(
            &ann,
            "s1",
            events::Moderation::SlowMode { secs: 60 },
        )],
    )
    .await;
    let answers = append_all(
        &mut conn,
        room,
        &[
            say(&bob, "one", "b1"),
            say(&bob, "two", "b2"),
            say(&ann, "one", "a1"),
            say(&ann, "two", "a2"),
        ],
    )
    .await;
    let codes: Vec<String> = answers
        .iter()
        .map(|a| match a {
            Err(Error::RateLimited { retry_after_secs }) => {
                assert!((59..=60).contains(retry_after_secs), "{retry_after_secs}");
                "slow".into()
            }
            other => code(other),
        })
        .collect();
    assert_eq!(codes, ["ok 2", "slow", "ok 3", "ok 4"]);
    // A later batch is slowed too (the last post is stored).
    let later = append_all(&mut conn, room, &[say(&bob, "three", "b3")]).await;
    assert!(
        matches!(later[0], Err(Error::RateLimited { .. })),
        "{later:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_rooms_are_only_those_both_are_members_of() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob, cy) = (
        user(&mut conn, "ann").await,
        user(&mut conn, "bob").await,
        user(&mut conn, "cyd").await,
    );
    let both = new_room(&mut conn, "Zebra both", &ann).await;
    members::add(&mut conn, both, bob.id, common::access::Role::Member)
        .await
        .unwrap();
    let also = new_room(&mut conn, "alpha both", &bob).await;
    members::add(&mut conn, also, ann.id, common::access::Role::Member)
        .await
        .unwrap();
    // Only the profile's person is in it: the viewer must not see it.
    new_room(&mut conn, "bob alone", &bob).await;
    // Only the viewer, and someone else.
    let theirs = new_room(&mut conn, "ann and cyd", &ann).await;
    members::add(&mut conn, theirs, cy.id, common::access::Role::Member)
        .await
        .unwrap();
    let shared = members::shared_rooms(&mut conn, ann.id, bob.id, 100)
        .await
        .unwrap();
    assert_eq!(
        shared,
        [
            (also, "alpha both".to_owned()),
            (both, "Zebra both".to_owned())
        ]
    );
    assert_eq!(
        members::shared_rooms(&mut conn, ann.id, bob.id, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        members::shared_rooms(&mut conn, bob.id, cy.id, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn blocks_are_idempotent_listed_and_never_of_oneself() {
    use common::store::blocks;
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (ann, bob, cy) = (
        user(&mut conn, "ann").await,
        user(&mut conn, "bob").await,
        user(&mut conn, "cyd").await,
    );
    assert!(blocks::add(&mut conn, ann.id, bob.id).await.unwrap());
    assert!(!blocks::add(&mut conn, ann.id, bob.id).await.unwrap());
    assert!(blocks::add(&mut conn, ann.id, cy.id).await.unwrap());
    assert!(blocks::exists(&mut conn, ann.id, bob.id).await.unwrap());
    assert!(!blocks::exists(&mut conn, bob.id, ann.id).await.unwrap());
    assert_eq!(
        blocks::blocked_ids(&mut conn, ann.id).await.unwrap(),
        [bob.id, cy.id]
    );
    let listed: Vec<String> = blocks::list(&mut conn, ann.id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.user.username)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&"bob".to_owned()) && listed.contains(&"cyd".to_owned()));
    // The table refuses a block of oneself, whatever the caller checked.
    assert!(blocks::add(&mut conn, ann.id, ann.id).await.is_err());
    assert!(blocks::remove(&mut conn, ann.id, bob.id).await.unwrap());
    assert!(!blocks::remove(&mut conn, ann.id, bob.id).await.unwrap());
    assert_eq!(
        blocks::blocked_ids(&mut conn, ann.id).await.unwrap(),
        [cy.id]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_are_set_in_part_and_the_table_refuses_deceptive_names() {
    use common::domain::{Bio, DisplayName};
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    assert_eq!((ann.display_name.as_str(), ann.shown_name()), ("", "ann"));
    let name = DisplayName::parse("Ann Lee").unwrap();
    let bio = Bio::parse("Likes crabs.\nAnd tea.").unwrap();
    let set = users::set_profile(&mut conn, ann.id, Some(&name), Some(&bio))
        .await
        .unwrap();
    assert_eq!(set.shown_name(), "Ann Lee");
    let only_bio = Bio::parse("").unwrap();
    let set = users::set_profile(&mut conn, ann.id, None, Some(&only_bio))
        .await
        .unwrap();
    assert_eq!(
        (set.display_name.as_str(), set.bio.as_str()),
        ("Ann Lee", "")
    );
    let same = users::set_profile(&mut conn, ann.id, None, None)
        .await
        .unwrap();
    assert_eq!(same.display_name, "Ann Lee");
    let found = users::find_by_username(&mut conn, "ANN").await.unwrap();
    assert_eq!(found.id, ann.id);
    assert!(matches!(
        users::find_by_username(&mut conn, "nobody").await,
        Err(Error::NotFound(Entity::User))
    ));
    let people = users::people(&mut conn, &[ann.id, ann.id + 100])
        .await
        .unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[&ann.id].shown_name(), "Ann Lee");
    // A writer that skipped the domain type still cannot store a bidi override.
    let sneaky = diesel::update(common::schema::users::table.find(ann.id))
        .set(common::schema::users::display_name.eq("adm\u{202E}nimda"))
        .execute(&mut conn)
        .await;
    assert!(sneaky.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dm_is_one_room_per_set_of_people_and_a_block_stops_its_other_person() {
    use common::access::Kind;
    use common::store::blocks;
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let cyd = user(&mut conn, "cyd").await;

    let one = rooms::insert_dm(&mut conn, &[bob.id, ann.id])
        .await
        .unwrap();
    assert_eq!(one.kind(), Kind::Dm);
    assert_eq!((one.name.as_str(), one.owner_id), ("", None));
    // Any order, repeats: the same room; a member who left comes back.
    assert!(members::remove(&mut conn, one.id, bob.id).await.unwrap());
    let again = rooms::insert_dm(&mut conn, &[ann.id, bob.id, ann.id])
        .await
        .unwrap();
    assert_eq!(again.id, one.id);
    assert_eq!(
        members::role(&mut conn, one.id, bob.id).await.unwrap(),
        Some(Role::Member)
    );
    assert_eq!(
        rooms::find_dm(&mut conn, &[ann.id, bob.id])
            .await
            .unwrap()
            .map(|r| r.id),
        Some(one.id)
    );
    let group = rooms::insert_dm(&mut conn, &[ann.id, bob.id, cyd.id])
        .await
        .unwrap();
    assert_ne!(group.id, one.id);
    // Concurrent starts settle on one room.
    let mut conns = Vec::new();
    for _ in 0..6 {
        conns.push(db.connect().await);
    }
    let racers = conns
        .iter_mut()
        .map(|c| async move { rooms::insert_dm(c, &[cyd.id, bob.id]).await.unwrap().id });
    let ids: Vec<i64> = futures_util::future::join_all(racers).await;
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");

    // Named after its people; not a room ann and bob "share".
    let view = rooms::find(&mut conn, one.id).await.unwrap();
    assert_eq!(view.title_for(ann.id), "bob");
    assert!(
        members::shared_rooms(&mut conn, ann.id, bob.id, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Bob blocks ann: in their DM of two, ann's standing says so; in the
    // group, nobody's does.
    blocks::add(&mut conn, bob.id, ann.id).await.unwrap();
    let facts = rooms::facts(&mut conn, one.id).await.unwrap().unwrap();
    let standings = members::standings_in(&mut conn, &facts, &[ann.id, bob.id])
        .await
        .unwrap();
    assert!(standings[&ann.id].blocked_by_peer);
    assert!(!standings[&bob.id].blocked_by_peer);
    let (_, mine) = rooms::facts_with_standing(&mut conn, one.id, ann.id)
        .await
        .unwrap()
        .unwrap();
    assert!(mine.blocked_by_peer);
    let refused = append_all(&mut conn, one.id, &[say(&ann, "hi", "n1")]).await;
    assert_eq!(code(&refused[0]), "blocked");
    let facts = rooms::facts(&mut conn, group.id).await.unwrap().unwrap();
    let standings = members::standings_in(&mut conn, &facts, &[ann.id])
        .await
        .unwrap();
    assert!(!standings[&ann.id].blocked_by_peer);
    append(&mut conn, group.id, &[say(&ann, "hi all", "n2")]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mute_outlives_leaving_and_coming_back() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let room = new_room(&mut conn, "r", &ann).await;
    append(&mut conn, room, &[say(&bob, "hi", "b1")]).await;
    let mute = events::Moderation::Mute {
        target: target(&bob),
        until: None,
        reason: no_reason(),
    };
    append(&mut conn, room, &[moderate(&ann, "m1", mute)]).await;
    // Bob leaves, then posts in the public room again (which makes him a
    // member again): still muted.
    assert!(members::remove(&mut conn, room, bob.id).await.unwrap());
    let again = append_all(&mut conn, room, &[say(&bob, "I'm back", "b2")]).await;
    assert_eq!(code(&again[0]), "muted");
}
