//! The schema stays distributable by room (issue 14, docs/SCALING.md): the
//! tables Citus would distribute by `room_id` have that column in every
//! primary key, unique key and unique index, their foreign keys to one
//! another join on the room, and no other table refers to them (Citus
//! refuses a foreign key from a local or reference table into a distributed
//! one). Read from Postgres's catalog after every migration, so a new
//! table or key that breaks the rule fails here; and the keys hold what
//! they promise: a reply answers a message of its own room.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::QueryableByName;
use diesel::sql_types::{Array, Bool, Text};
use diesel_async::RunQueryDsl;
use test_support::TestDb;
use test_support::store::*;

/// The room colocation group of docs/SCALING.md ("Which table is what").
const BY_ROOM: &[&str] = &[
    "room_seqs",
    "room_events",
    "messages",
    "message_reactions",
    "message_annotations",
    "attachments",
    "message_search",
    "message_vectors",
    "room_members",
    "room_bans",
    "room_mutes",
    "room_usage",
    "room_notification_levels",
    "log_cursors",
];

#[derive(QueryableByName, Debug)]
struct Key {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    key_name: String,
    #[diesel(sql_type = Bool)]
    has_room: bool,
}

impl Key {
    fn named(&self) -> String {
        format!("{}: {}", self.table_name, self.key_name)
    }
}

/// The keys a catalog query finds for the tables of [`BY_ROOM`] (its `$1`).
async fn keys_of(conn: &mut diesel_async::AsyncPgConnection, sql: &str) -> Vec<Key> {
    diesel::sql_query(sql)
        .bind::<Array<Text>, _>(BY_ROOM)
        .load(conn)
        .await
        .unwrap()
}

/// The names of `keys` that do not hold the room.
fn without_room(keys: &[Key]) -> Vec<String> {
    keys.iter()
        .filter(|k| !k.has_room)
        .map(Key::named)
        .collect()
}

#[tokio::test]
async fn every_unique_key_of_the_room_tables_includes_the_room() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    // Unique indexes cover primary keys and unique constraints, and any
    // unique index made without a constraint.
    let keys = keys_of(
        &mut conn,
        "SELECT t.relname::text AS table_name, i.relname::text AS key_name, \
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid \
                        AND a.attname = 'room_id' AND a.attnum = ANY (x.indkey::int2[])) AS has_room \
         FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE x.indisunique AND n.nspname = current_schema() AND t.relname = ANY ($1) \
         ORDER BY 1, 2",
    )
    .await;
    let tables: std::collections::BTreeSet<&str> =
        keys.iter().map(|k| k.table_name.as_str()).collect();
    assert_eq!(
        tables.len(),
        BY_ROOM.len(),
        "every table of the group has a unique key: {tables:?}"
    );
    let without = without_room(&keys);
    assert!(
        without.is_empty(),
        "unique keys without room_id: {without:?}"
    );
}

#[tokio::test]
async fn foreign_keys_among_the_room_tables_join_on_the_room_and_none_come_from_outside() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    // Each foreign key that touches the group: from where to where, and
    // whether room_id of the one side is matched with room_id of the other.
    let keys = keys_of(
        &mut conn,
        "SELECT f.relname::text || ' -> ' || r.relname::text AS table_name, \
                c.conname::text AS key_name, \
                EXISTS (SELECT 1 FROM unnest(c.conkey, c.confkey) AS k(mine, theirs) \
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.mine \
                        JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = k.theirs \
                        WHERE a.attname = 'room_id' AND b.attname = 'room_id') AS has_room \
         FROM pg_constraint c JOIN pg_class f ON f.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace n ON n.oid = f.relnamespace \
         WHERE c.contype = 'f' AND n.nspname = current_schema() AND c.conparentid = 0 \
           AND r.relname = ANY ($1) \
         ORDER BY 1, 2",
    )
    .await;
    let from_outside: Vec<String> = keys
        .iter()
        .filter(|k| {
            let from = k.table_name.split(" -> ").next().unwrap_or_default();
            !BY_ROOM.contains(&from)
        })
        .map(Key::named)
        .collect();
    assert!(
        from_outside.is_empty(),
        "foreign keys into the room tables from tables that are not distributed: {from_outside:?}"
    );
    let not_on_room = without_room(&keys);
    assert!(
        not_on_room.is_empty(),
        "foreign keys that do not join on the room: {not_on_room:?}"
    );
    // The message-keyed tables are tied to their message by (room, id).
    let names: Vec<&str> = keys.iter().map(|k| k.table_name.as_str()).collect();
    for from in [
        "messages",
        "message_reactions",
        "message_annotations",
        "attachments",
    ] {
        assert!(
            names.contains(&format!("{from} -> messages").as_str()),
            "{from} refers to its message: {names:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reaction_row_carries_its_room_and_a_reply_cannot_cross_rooms() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let here = new_room(&mut conn, "here", &ann).await;
    let there = new_room(&mut conn, "there", &ann).await;
    let sent = append(&mut conn, there, &[say(&ann, "over there", "a")]).await;
    let elsewhere = message_id(&sent[0]);
    append(&mut conn, there, &[react(&ann, elsewhere, "👍", true, "r")]).await;

    #[derive(QueryableByName)]
    struct Room {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        room_id: i64,
    }
    let rooms: Vec<Room> = diesel::sql_query("SELECT room_id FROM message_reactions")
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        rooms.iter().map(|r| r.room_id).collect::<Vec<_>>(),
        vec![there]
    );

    // The log refuses a reply to a message of another room, as before...
    let refused = append_all(
        &mut conn,
        here,
        &[say_to(&ann, "answering", "b", Some(elsewhere))],
    )
    .await;
    assert!(refused[0].is_err(), "{:?}", code(&refused[0]));
    // ...and now so does the key, whoever writes the row.
    let crossed = diesel::sql_query(
        "INSERT INTO messages (room_id, seq, user_id, body, nonce, reply_to_id) \
         VALUES ($1, 99, $2, 'sneaking', 'x', $3)",
    )
    .bind::<diesel::sql_types::BigInt, _>(here)
    .bind::<diesel::sql_types::BigInt, _>(ann.id)
    .bind::<diesel::sql_types::BigInt, _>(elsewhere)
    .execute(&mut conn)
    .await;
    let err = crossed.expect_err("a reply across rooms is refused by the key");
    assert!(err.to_string().contains("messages_reply_to_fkey"), "{err}");

    // The answered row cannot go while a reply refers to it (a room is
    // emptied newest first); the reply going first frees it.
    let parent = append(&mut conn, here, &[say(&ann, "the question", "c")]).await;
    let parent = message_id(&parent[0]);
    let reply = append(
        &mut conn,
        here,
        &[say_to(&ann, "the answer", "d", Some(parent))],
    )
    .await;
    let reply = message_id(&reply[0]);
    let delete = |id: i64| {
        diesel::sql_query("DELETE FROM messages WHERE room_id = $1 AND id = $2")
            .bind::<diesel::sql_types::BigInt, _>(here)
            .bind::<diesel::sql_types::BigInt, _>(id)
    };
    let err = delete(parent)
        .execute(&mut conn)
        .await
        .expect_err("an answered message stays while its reply does");
    assert!(err.to_string().contains("messages_reply_to_fkey"), "{err}");
    assert_eq!(delete(reply).execute(&mut conn).await.unwrap(), 1);
    assert_eq!(delete(parent).execute(&mut conn).await.unwrap(), 1);
}
