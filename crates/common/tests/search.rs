//! Message search in the store: the readable set agrees with the access
//! rules, the search rows follow messages, and lexical matching.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use common::access::{Role, forever};
use common::store::events::Change;
use common::store::search::{self, Filters};
use common::store::{annotations, bans, events, members, mutes, rooms};
use common::{Error, guard};
use test_support::TestDb;

use test_support::store::*;

/// Every standing of the access matrix, set up for `who` in `room`.
async fn stand(
    conn: &mut diesel_async::AsyncPgConnection,
    standing: &str,
    room: i64,
    who: i64,
    by: i64,
) {
    let later = Utc::now() + Duration::hours(1);
    let earlier = Utc::now() - Duration::hours(1);
    match standing {
        "non-member" => {}
        "member" => members::add(conn, room, who, Role::Member).await.unwrap(),
        "moderator" => members::add(conn, room, who, Role::Moderator)
            .await
            .unwrap(),
        "muted" => {
            members::add(conn, room, who, Role::Member).await.unwrap();
            mutes::put(conn, room, who, later, by).await.unwrap();
        }
        "banned" => bans::put(conn, room, who, Some(later), by).await.unwrap(),
        "banned for good" => bans::put(conn, room, who, Some(forever()), by)
            .await
            .unwrap(),
        "banned (null)" => bans::put(conn, room, who, None, by).await.unwrap(),
        "member, banned" => {
            members::add(conn, room, who, Role::Member).await.unwrap();
            bans::put(conn, room, who, Some(later), by).await.unwrap();
        }
        "ban lapsed" => {
            members::add(conn, room, who, Role::Member).await.unwrap();
            bans::put(conn, room, who, Some(earlier), by).await.unwrap();
        }
        "non-member, ban lapsed" => bans::put(conn, room, who, Some(earlier), by).await.unwrap(),
        other => panic!("unknown standing {other}"),
    }
}

const STANDINGS: &[&str] = &[
    "non-member",
    "member",
    "moderator",
    "muted",
    "banned",
    "banned for good",
    "banned (null)",
    "member, banned",
    "ban lapsed",
    "non-member, ban lapsed",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_readable_set_agrees_with_may_read() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let owner = user(&mut conn, "owner").await;
    let mut checked = 0;
    for (i, standing) in STANDINGS.iter().enumerate() {
        let who = user(&mut conn, &format!("who{i}")).await;
        let public = new_room(&mut conn, &format!("public {i}"), &owner).await;
        let private = private_room(&mut conn, &format!("private {i}"), &owner).await;
        let dm = rooms::insert_dm(&mut conn, &[owner.id, who.id])
            .await
            .unwrap()
            .id;
        let other_dm = {
            let third = user(&mut conn, &format!("third{i}")).await;
            rooms::insert_dm(&mut conn, &[owner.id, third.id])
                .await
                .unwrap()
                .id
        };
        let owned = private_room(&mut conn, &format!("owned {i}"), &who).await;
        let bot = common::store::users::bot(&mut conn).await.unwrap().id;
        let chat_name = common::domain::RoomName::parse(&format!("chat {i}")).unwrap();
        let chat = rooms::insert_assistant_chat(&mut conn, &chat_name, owner.id, bot, 100)
            .await
            .unwrap()
            .id;
        let own_chat = rooms::insert_assistant_chat(&mut conn, &chat_name, who.id, bot, 100)
            .await
            .unwrap()
            .id;
        for room in [public, private, chat] {
            stand(&mut conn, standing, room, who.id, owner.id).await;
        }
        let readable = search::readable_rooms(&mut conn, who.id).await.unwrap();
        for room in [public, private, dm, other_dm, owned, chat, own_chat] {
            let rule = match guard::readable(&mut conn, who.id, room).await {
                Ok(_) => true,
                Err(Error::NotFound(_) | Error::Denied { .. } | Error::Forbidden(_)) => false,
                Err(e) => panic!("{e:?}"),
            };
            assert_eq!(
                readable.contains(&room),
                rule,
                "standing {standing:?}, room {room}: SQL says {}, may_read says {rule}",
                readable.contains(&room)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, STANDINGS.len() * 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_rows_follow_messages_and_a_deletion_erases_its_row_at_once() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "search here", &ann).await;
    let sent = append(
        &mut conn,
        room,
        &[
            say(&ann, "deploy on friday", "n1"),
            say(&ann, "lunch?", "n2"),
        ],
    )
    .await;
    let (a, b) = (message_id(&sent[0]), message_id(&sent[1]));
    assert!(
        search::indexed(&mut conn, &[room], &[a, b])
            .await
            .unwrap()
            .is_empty()
    );

    search::refresh(&mut conn, &[room], &[a, b]).await.unwrap();
    search::refresh(&mut conn, &[room], &[a, b]).await.unwrap();
    let rows = search::indexed(&mut conn, &[room], &[a, b]).await.unwrap();
    assert_eq!(
        rows,
        vec![(a, "deploy on friday".into()), (b, "lunch?".into())]
    );

    append(&mut conn, room, &[edit(&ann, a, "deploy on monday", "n3")]).await;
    search::refresh(&mut conn, &[room], &[a]).await.unwrap();
    assert_eq!(
        search::indexed(&mut conn, &[room], &[a]).await.unwrap(),
        vec![(a, "deploy on monday".into())]
    );

    // The deletion's own transaction erases the row, before any follower.
    append(
        &mut conn,
        room,
        &[draft(&ann, "n4", Change::Delete { id: a })],
    )
    .await;
    assert_eq!(
        search::indexed(&mut conn, &[room], &[a, b]).await.unwrap(),
        vec![(b, "lunch?".into())]
    );
    // And a follower that read the message before it was deleted puts
    // nothing back.
    search::refresh(&mut conn, &[room], &[a]).await.unwrap();
    assert_eq!(
        search::indexed(&mut conn, &[room], &[a]).await.unwrap(),
        vec![]
    );

    events::delete_room(&mut conn, room).await.unwrap();
    assert_eq!(
        search::indexed(&mut conn, &[room], &[b]).await.unwrap(),
        vec![]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_tells_a_follower_which_messages_changed() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "search here", &ann).await;
    let sent = append(
        &mut conn,
        room,
        &[say(&ann, "one", "n1"), say(&ann, "two", "n2")],
    )
    .await;
    let (a, b) = (message_id(&sent[0]), message_id(&sent[1]));
    append(&mut conn, room, &[react(&ann, a, "👍", true, "n3")]).await;

    assert_eq!(
        events::touched_after(&mut conn, room, 0, 100)
            .await
            .unwrap(),
        (vec![a, b], Some(3))
    );
    assert_eq!(
        events::touched_after(&mut conn, room, 1, 1).await.unwrap(),
        (vec![b], Some(2))
    );
    assert_eq!(
        events::touched_after(&mut conn, room, 3, 100)
            .await
            .unwrap(),
        (vec![], None)
    );
    // A reaction changes no message's text: read past, touching nothing.
    assert_eq!(
        events::touched_after(&mut conn, room, 2, 100)
            .await
            .unwrap(),
        (vec![], Some(3))
    );

    // Many rooms in one statement, each from its own cursor and up to the
    // limit; a room with nothing after its cursor is left out.
    let other = new_room(&mut conn, "elsewhere", &ann).await;
    let there = append(&mut conn, other, &[say(&ann, "three", "n4")]).await;
    let c = message_id(&there[0]);
    let touched = events::touched_after_many(
        &mut conn,
        &[(room, 1, 9), (other, 0, 9), (room + other, 0, 9)],
        5,
    )
    .await
    .unwrap();
    let got: Vec<(i64, Vec<i64>, i64)> = touched
        .into_iter()
        .map(|t| (t.room_id, t.ids, t.last))
        .collect();
    let mut want = vec![(room, vec![b], 3), (other, vec![c], 1)];
    want.sort();
    assert_eq!(got, want);
    let capped = events::touched_after_many(&mut conn, &[(room, 0, 9)], 1)
        .await
        .unwrap();
    assert_eq!((capped[0].ids.clone(), capped[0].last), (vec![a], 1));
    // Up to where the follower saw the log end, whatever came since.
    let upto = events::touched_after_many(&mut conn, &[(room, 0, 2)], 5)
        .await
        .unwrap();
    assert_eq!((upto[0].ids.clone(), upto[0].last), (vec![a, b], 2));
}

#[tokio::test]
async fn a_transcript_touches_its_message_for_search_and_joins_its_text() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bot = bot(&mut conn).await;
    let room = new_room(&mut conn, "voices", &ann).await;
    let sent = append(&mut conn, room, &[say(&ann, "listen", "n1")]).await;
    let a = message_id(&sent[0]);
    let transcript = |nonce: &str, text: &str| common::store::events::EventDraft {
        user: bot.clone(),
        nonce: common::domain::Nonce::parse(nonce).unwrap(),
        change: Change::Annotate {
            id: a,
            kind: annotations::TRANSCRIPT.into(),
            labels: vec![],
            model: "whisper-tiny.en".into(),
            text: text.into(),
        },
    };
    append(
        &mut conn,
        room,
        &[
            emotion_tag(&bot, a, "e1", &[("joy", 0.9)], "emotion-v1"),
            transcript("t1", "see you on Thursday"),
        ],
    )
    .await;
    let read = async |conn: &mut diesel_async::AsyncPgConnection, kinds: &[&str]| {
        let t = events::touched_after_many_with(conn, &[(room, 1, 9)], 10, kinds)
            .await
            .unwrap();
        (t[0].ids.clone(), t[0].last)
    };
    // Annotations touch nothing unless their kind is asked for; an emotion
    // tag never is.
    assert_eq!(read(&mut conn, &[]).await, (vec![], 3));
    assert_eq!(
        read(&mut conn, &[annotations::TRANSCRIPT]).await,
        (vec![a], 3)
    );
    assert_eq!(
        events::touched_after_many_with(&mut conn, &[(room, 1, 2)], 10, &["transcript"])
            .await
            .unwrap()[0]
            .ids,
        Vec::<i64>::new()
    );

    search::refresh(&mut conn, &[room], &[a]).await.unwrap();
    assert_eq!(
        search::indexed(&mut conn, &[room], &[a]).await.unwrap(),
        vec![(a, "listen\nsee you on Thursday".to_owned())]
    );
    assert_eq!(
        find(&mut conn, ann.id, "thursday", &[], &Filters::default()).await,
        vec![(a, true)]
    );
}

/// Indexes every message of `room` (what the worker does).
async fn index_room(conn: &mut diesel_async::AsyncPgConnection, room: i64) {
    let (ids, _) = events::touched_after(conn, room, 0, 10_000).await.unwrap();
    search::refresh(conn, &[room], &ids).await.unwrap();
}

async fn find(
    conn: &mut diesel_async::AsyncPgConnection,
    who: i64,
    q: &str,
    parts: &[&str],
    filters: &Filters,
) -> Vec<(i64, bool)> {
    let terms = common::search_text::Terms {
        parts: parts.iter().map(|p| (*p).to_owned()).collect(),
        ..Default::default()
    };
    search::lexical(
        conn,
        who,
        q,
        &terms,
        filters,
        100,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap()
    .into_iter()
    .map(|c| (c.message_id, c.words))
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lexical_matches_words_then_parts_of_words_in_readable_rooms_only() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bob = user(&mut conn, "bob").await;
    let public = new_room(&mut conn, "search here", &ann).await;
    let private = private_room(&mut conn, "secret", &ann).await;
    let sent = append(
        &mut conn,
        public,
        &[
            say(&ann, "we deploy tonight", "p1"),
            say(&ann, "redeploying the cluster", "p2"),
            say(&ann, "lunch at noon", "p3"),
        ],
    )
    .await;
    let (deploy, redeploying, lunch) = (
        message_id(&sent[0]),
        message_id(&sent[1]),
        message_id(&sent[2]),
    );
    let secret = append(&mut conn, private, &[say(&ann, "deploy the canary", "s1")]).await;
    let secret = message_id(&secret[0]);
    index_room(&mut conn, public).await;
    index_room(&mut conn, private).await;
    let all = Filters::default();

    // Ann reads both rooms; whole words first, then parts of words.
    assert_eq!(
        find(&mut conn, ann.id, "deploy", &["deploy"], &all).await,
        vec![(secret, true), (deploy, true), (redeploying, false)]
    );
    // Bob may not read the private room.
    assert_eq!(
        find(&mut conn, bob.id, "deploy", &["deploy"], &all).await,
        vec![(deploy, true), (redeploying, false)]
    );
    // -word and or.
    assert_eq!(
        find(&mut conn, bob.id, "tonight or noon", &[], &all)
            .await
            .len(),
        2
    );
    assert_eq!(
        find(&mut conn, bob.id, "deploy -tonight", &[], &all).await,
        vec![]
    );
    assert_eq!(
        find(&mut conn, bob.id, "\"at noon\"", &[], &all).await,
        vec![(lunch, true)]
    );
    // Filters.
    let by_bob = Filters {
        author: Some(bob.id),
        ..Filters::default()
    };
    assert_eq!(
        find(&mut conn, ann.id, "deploy", &["deploy"], &by_bob).await,
        vec![]
    );
    let in_public = Filters {
        room: Some(public),
        ..Filters::default()
    };
    assert_eq!(
        find(&mut conn, ann.id, "deploy", &[], &in_public).await,
        vec![(deploy, true)]
    );
    let future = Filters {
        after: Some(Utc::now() + Duration::hours(1)),
        ..Filters::default()
    };
    assert_eq!(
        find(&mut conn, ann.id, "deploy", &["deploy"], &future).await,
        vec![]
    );
    let replied = Filters {
        replied: true,
        ..Filters::default()
    };
    assert_eq!(
        find(&mut conn, ann.id, "lunch", &[], &replied).await,
        vec![]
    );
    append(
        &mut conn,
        public,
        &[say_to(&bob, "yes!", "b1", Some(lunch))],
    )
    .await;
    assert_eq!(
        find(&mut conn, ann.id, "lunch", &[], &replied).await,
        vec![(lunch, true)]
    );
    // A query of operators only, or of nothing, finds nothing (no error).
    assert_eq!(find(&mut conn, ann.id, "-", &[], &all).await, vec![]);
    assert_eq!(find(&mut conn, ann.id, "", &[], &all).await, vec![]);
}

#[tokio::test]
async fn the_questions_among_some_messages_are_among_those_messages_only() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let bot = common::store::users::bot(&mut conn).await.unwrap();
    let room = new_room(&mut conn, "lounge", &ann).await;
    let chat = common::store::rooms::insert_assistant_chat(
        &mut conn,
        &common::domain::RoomName::parse("my chat").unwrap(),
        ann.id,
        bot.id,
        10,
    )
    .await
    .unwrap()
    .id;
    let asked = append(&mut conn, chat, &[say(&ann, "what is new?", "q")]).await;
    let plain = append(&mut conn, room, &[say(&ann, "hello", "p")]).await;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    // A chat message is a question only when it is among the ids asked about.
    let got = common::store::assistant::questions_among(
        &mut conn,
        &[room],
        &[message_id(&plain[0])],
        bot.id,
        since,
    )
    .await
    .unwrap();
    assert!(got.is_empty(), "{got:?}");
    let got = common::store::assistant::questions_among(
        &mut conn,
        &[room, chat],
        &[message_id(&asked[0]), message_id(&plain[0])],
        bot.id,
        since,
    )
    .await
    .unwrap();
    assert_eq!(
        got.iter().map(|q| q.id).collect::<Vec<_>>(),
        vec![message_id(&asked[0])]
    );
    // Nor when it is older than `since`.
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let got = common::store::assistant::questions_among(
        &mut conn,
        &[chat],
        &[message_id(&asked[0])],
        bot.id,
        later,
    )
    .await
    .unwrap();
    assert!(got.is_empty(), "{got:?}");
}
