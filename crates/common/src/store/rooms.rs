//! The `rooms` table: rooms, their owners and settings. Each room's
//! `last_seq` and message count live in `room_seqs` (its lock too), which
//! every query of a [`Room`] joins.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use std::collections::HashMap;

use super::Fixed;
use super::sql::lower;
use super::users::Person;
use crate::access::{Kind, Role, RoomFacts, Standing, Visibility};
use crate::domain::{RoomName, Topic};
use crate::error::{Code, Entity, Error, Result};
use crate::schema::{room_bans, room_members, room_mutes, room_seqs, rooms, users};

/// A room as stored: its row of `rooms` with its counters from
/// `room_seqs` (a query selecting it joins the two: [`with_seqs`]).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = rooms)]
pub struct Room {
    pub id: i64,
    pub name: String,
    pub topic: String,
    pub owner_id: Option<i64>,
    /// The seq of the room's newest event (not a message count).
    #[diesel(select_expression = room_seqs::last_seq)]
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    /// Messages that are not deleted.
    #[diesel(select_expression = room_seqs::message_count)]
    pub message_count: i64,
    /// `public` or `private` (see [`Room::visibility`]).
    pub visibility: String,
    /// `room` or `dm` (see [`Room::kind`]).
    pub kind: String,
    /// One message per this many seconds per member (0: off).
    pub slow_mode_secs: i32,
    /// Its owner lets the server tag messages with emotions.
    pub emotions: bool,
}

impl Room {
    /// Who can find and read the room.
    pub fn visibility(&self) -> Visibility {
        Visibility::parse(&self.visibility)
    }

    /// A named room or a direct conversation.
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind)
    }
}

/// `rooms` joined with each room's counters, which [`Room`] is selected from.
fn with_seqs() -> diesel::dsl::InnerJoin<rooms::table, room_seqs::table> {
    rooms::table.inner_join(room_seqs::table)
}

/// The columns [`RoomFacts`] is read from, and their row.
type FactsRow = (i64, Option<i64>, String, String, i32, Option<DateTime<Utc>>);

fn facts_columns() -> (
    rooms::id,
    rooms::owner_id,
    rooms::visibility,
    rooms::kind,
    rooms::slow_mode_secs,
    rooms::restricted_until,
) {
    (
        rooms::id,
        rooms::owner_id,
        rooms::visibility,
        rooms::kind,
        rooms::slow_mode_secs,
        rooms::restricted_until,
    )
}

fn facts_of(row: FactsRow) -> RoomFacts {
    let (id, owner_id, visibility, kind, slow_mode_secs, restricted_until) = row;
    RoomFacts {
        id,
        owner_id,
        visibility: Visibility::parse(&visibility),
        kind: Kind::parse(&kind),
        slow_mode_secs,
        restricted_until,
    }
}

/// A room with its owner's name, as pages and the API show it.
#[derive(Debug, Clone)]
pub struct RoomView {
    pub room: Room,
    pub owner_name: Option<String>,
    /// A DM's members, by the name pages show (ignoring case): a DM has
    /// no name, it is called after its people. Empty for a room.
    pub people: Vec<Person>,
}

impl RoomView {
    /// Whether `user_id` owns this room (seeded rooms have no owner).
    pub fn is_owned_by(&self, user_id: i64) -> bool {
        self.room.owner_id == Some(user_id)
    }

    /// Whether this is a direct conversation.
    pub fn is_dm(&self) -> bool {
        self.room.kind() == Kind::Dm
    }

    /// The people of a DM other than `viewer` (everyone if the viewer is
    /// not among them); empty for a room.
    pub fn others(&self, viewer: i64) -> Vec<&Person> {
        self.people.iter().filter(|p| p.id != viewer).collect()
    }

    /// What `viewer` calls the room: a room's name, or the names of a
    /// DM's other people ("Ann, Bob"; "Just you" once they all left).
    pub fn title_for(&self, viewer: i64) -> String {
        if !self.is_dm() {
            return self.room.name.clone();
        }
        let names: Vec<&str> = self.others(viewer).iter().map(|p| p.shown_name()).collect();
        if names.is_empty() {
            "Just you".to_owned()
        } else {
            names.join(", ")
        }
    }
}

fn with_owner(rows: Vec<(Room, Option<String>)>) -> Vec<RoomView> {
    rows.into_iter()
        .map(|(room, owner_name)| RoomView {
            room,
            owner_name,
            people: Vec::new(),
        })
        .collect()
}

/// Fills in the people of the DMs among `views` (one query, none when
/// there is no DM).
async fn with_people(conn: &mut AsyncPgConnection, views: &mut [RoomView]) -> Result<()> {
    let dms: Vec<i64> = views
        .iter()
        .filter(|v| v.is_dm())
        .map(|v| v.room.id)
        .collect();
    if dms.is_empty() {
        return Ok(());
    }
    let mut people = dm_people(conn, &dms).await?;
    for v in views.iter_mut().filter(|v| v.is_dm()) {
        v.people = people.remove(&v.room.id).unwrap_or_default();
    }
    Ok(())
}

/// The members of each of the DMs `ids` (id, username, display name), by
/// the name pages show ignoring case: what a DM is called. One query.
pub async fn dm_people(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<Person>>> {
    let rows: Vec<(i64, Person)> = room_members::table
        .inner_join(users::table.on(users::id.eq(room_members::user_id)))
        .filter(room_members::room_id.eq_any(ids))
        .select((room_members::room_id, Person::as_select()))
        .load(conn)
        .await?;
    let mut out: HashMap<i64, Vec<Person>> = HashMap::new();
    for (room, person) in rows {
        out.entry(room).or_default().push(person);
    }
    for people in out.values_mut() {
        people.sort_by_cached_key(|p| (p.shown_name().to_lowercase(), p.id));
    }
    Ok(out)
}

/// The key of the DM of exactly these people: their ids sorted, joined by
/// commas (`rooms.dm_key`, unique).
pub fn dm_key(member_ids: &[i64]) -> String {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The DM of exactly these people, if it exists.
pub async fn find_dm(conn: &mut AsyncPgConnection, member_ids: &[i64]) -> Result<Option<Room>> {
    Ok(with_seqs()
        .filter(rooms::dm_key.eq(dm_key(member_ids)))
        .select(Room::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The DM of exactly these people (the starter among them), created if
/// there is none, with every one of them a member (again, if one had
/// left). Races are settled by the unique `dm_key`: concurrent calls for
/// one set get one room.
pub async fn insert_dm(conn: &mut AsyncPgConnection, member_ids: &[i64]) -> Result<Room> {
    let key = dm_key(member_ids);
    conn.transaction::<_, Error, _>(async |conn| {
        let inserted: Option<i64> = diesel::insert_into(rooms::table)
            .values((
                rooms::name.eq(""),
                rooms::topic.eq(""),
                rooms::visibility.eq(Visibility::Private.as_str()),
                rooms::kind.eq(Kind::Dm.as_str()),
                rooms::dm_key.eq(&key),
            ))
            .on_conflict(rooms::dm_key)
            .do_nothing()
            .returning(rooms::id)
            .get_result(conn)
            .await
            .optional()?;
        if let Some(id) = inserted {
            super::room_seqs::create(conn, id).await?;
        }
        let room = with_seqs()
            .filter(rooms::dm_key.eq(&key))
            .select(Room::as_select())
            .first(conn)
            .await?;
        let mut ids = member_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            super::members::add(conn, room.id, id, Role::Member).await?;
        }
        Ok(room)
    })
    .await
}

/// Creates a room owned by `owner_id`, who becomes its first member; a
/// public room's name taken (ignoring case) by another public room is a
/// conflict. Private rooms' names may repeat: a unique one would tell
/// whoever tries it that the private room exists.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    name: &RoomName,
    topic: &Topic,
    visibility: Visibility,
    owner_id: i64,
) -> Result<Room> {
    conn.transaction::<_, Error, _>(async |conn| {
        let room = insert_row(conn, name, topic, visibility, owner_id).await?;
        super::members::add(conn, room.id, owner_id, Role::Owner).await?;
        Ok(room)
    })
    .await
}

/// Like [`insert`], but refused (409 `room_quota`) when `owner_id` already
/// owns `max_owned` rooms. The owner's row is locked first, so concurrent
/// creations cannot each see room for one more.
pub async fn insert_within_quota(
    conn: &mut AsyncPgConnection,
    name: &RoomName,
    topic: &Topic,
    visibility: Visibility,
    owner_id: i64,
    max_owned: i64,
) -> Result<Room> {
    conn.transaction::<_, Error, _>(async |conn| {
        super::users::lock(conn, owner_id).await?;
        if owned_count(conn, owner_id).await? >= max_owned {
            return Err(Error::conflict(
                "name",
                Code::RoomQuota,
                format!(
                    "You own {max_owned} rooms, the most one person may; \
                     delete one to create another."
                ),
            ));
        }
        let room = insert_row(conn, name, topic, visibility, owner_id).await?;
        super::members::add(conn, room.id, owner_id, Role::Owner).await?;
        Ok(room)
    })
    .await
}

/// How many rooms `owner_id` owns (assistant chats are not rooms here:
/// they have a limit of their own).
pub async fn owned_count(conn: &mut AsyncPgConnection, owner_id: i64) -> Result<i64> {
    rooms::table
        .filter(rooms::owner_id.eq(owner_id))
        .filter(rooms::kind.eq(Kind::Room.as_str()))
        .count()
        .get_result(conn)
        .await
        .map_err(Into::into)
}

async fn insert_row(
    conn: &mut AsyncPgConnection,
    name: &RoomName,
    topic: &Topic,
    visibility: Visibility,
    owner_id: i64,
) -> Result<Room> {
    let id: i64 = diesel::insert_into(rooms::table)
        .values((
            rooms::name.eq(name.as_str()),
            rooms::topic.eq(topic.as_str()),
            rooms::visibility.eq(visibility.as_str()),
            rooms::owner_id.eq(owner_id),
        ))
        .returning(rooms::id)
        .get_result(conn)
        .await
        .map_err(name_taken)?;
    with_counter(conn, id).await
}

/// Gives the room just inserted (in this transaction) its counter, and
/// returns it as stored.
async fn with_counter(conn: &mut AsyncPgConnection, id: i64) -> Result<Room> {
    super::room_seqs::create(conn, id).await?;
    Ok(with_seqs()
        .filter(rooms::id.eq(id))
        .select(Room::as_select())
        .first(conn)
        .await?)
}

/// A public room's name clashing with another's is the user's to fix.
fn name_taken(e: diesel::result::Error) -> Error {
    match super::unique_violation(&e) {
        Some("rooms_public_name_lower_key") => Error::conflict(
            "name",
            Code::NameTaken,
            "A public room with that name exists.",
        ),
        _ => e.into(),
    }
}

/// Starts an assistant chat for `owner_id` named `name`: a private room
/// of kind `assistant` whose members are its owner and the bot `bot_id`.
/// Refused (409 `chat_quota`) when they already have `max_chats`; the
/// owner's row is locked first, so concurrent starts cannot each see room
/// for one more.
pub async fn insert_assistant_chat(
    conn: &mut AsyncPgConnection,
    name: &RoomName,
    owner_id: i64,
    bot_id: i64,
    max_chats: i64,
) -> Result<Room> {
    conn.transaction::<_, Error, _>(async |conn| {
        super::users::lock(conn, owner_id).await?;
        let chats: i64 = rooms::table
            .filter(rooms::owner_id.eq(owner_id))
            .filter(rooms::kind.eq(Kind::Assistant.as_str()))
            .count()
            .get_result(conn)
            .await?;
        if chats >= max_chats {
            return Err(Error::conflict(
                "name",
                Code::ChatQuota,
                format!(
                    "You have {max_chats} assistant chats, the most one person may; \
                     delete one to start another."
                ),
            ));
        }
        let id: i64 = diesel::insert_into(rooms::table)
            .values((
                rooms::name.eq(name.as_str()),
                rooms::topic.eq(""),
                rooms::visibility.eq(Visibility::Private.as_str()),
                rooms::kind.eq(Kind::Assistant.as_str()),
                rooms::owner_id.eq(owner_id),
            ))
            .returning(rooms::id)
            .get_result(conn)
            .await?;
        let room = with_counter(conn, id).await?;
        super::members::add(conn, room.id, owner_id, Role::Owner).await?;
        super::members::add(conn, room.id, bot_id, Role::Member).await?;
        Ok(room)
    })
    .await
}

/// The assistant chats of `owner_id`, newest activity first (the newest
/// event of each, else when it started).
pub async fn assistant_chats(conn: &mut AsyncPgConnection, owner_id: i64) -> Result<Vec<Room>> {
    let mut chats: Vec<(Room, Option<DateTime<Utc>>)> = with_seqs()
        .filter(rooms::owner_id.eq(owner_id))
        .filter(rooms::kind.eq(Kind::Assistant.as_str()))
        .select((Room::as_select(), last_activity()))
        .load(conn)
        .await?;
    chats.sort_by_key(|(room, at)| std::cmp::Reverse((at.unwrap_or(room.created_at), room.id)));
    Ok(chats.into_iter().map(|(room, _)| room).collect())
}

/// When the room's newest event was written (`NULL` without one).
fn last_activity()
-> diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>> {
    diesel::dsl::sql(
        "(SELECT e.created_at FROM room_events e \
          WHERE e.room_id = rooms.id AND e.seq = room_seqs.last_seq)",
    )
}

/// Renames a room (an assistant chat: who may is `access`'s call).
pub async fn rename(conn: &mut AsyncPgConnection, id: i64, name: &RoomName) -> Result<()> {
    let changed = diesel::update(rooms::table.find(id))
        .set(rooms::name.eq(name.as_str()))
        .execute(conn)
        .await
        .map_err(name_taken)?;
    if changed == 0 {
        return Err(Error::NotFound(Entity::Room));
    }
    Ok(())
}

/// The room with this id, with its owner's name (and a DM's people).
pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> Result<RoomView> {
    let row = with_seqs()
        .left_join(users::table)
        .filter(rooms::id.eq(id))
        .select((Room::as_select(), users::username.nullable()))
        .first(conn)
        .await
        .optional()?
        .ok_or(Error::NotFound(Entity::Room))?;
    let mut views = with_owner(vec![row]);
    with_people(conn, &mut views).await?;
    Ok(views.remove(0))
}

/// The rooms with these ids, with their owners' names (and a DM's
/// people), ordered by name ignoring case (DMs, named '', first). Sorted here, not by Postgres: with `ORDER BY lower(name)`
/// Postgres planned the statement anew on every call (a sidebar on every
/// page), which cost ten times its execution.
pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<Vec<RoomView>> {
    let mut rooms = with_owner(
        with_seqs()
            .left_join(users::table)
            .filter(rooms::id.eq_any(ids))
            .select((Room::as_select(), users::username.nullable()))
            .load(conn)
            .await?,
    );
    rooms.sort_by_cached_key(|r| (r.room.name.to_lowercase(), r.room.id));
    with_people(conn, &mut rooms).await?;
    Ok(rooms)
}

/// One page of the directory: public rooms ordered by name ignoring case,
/// optionally only those whose name or topic contains `query` (ignoring
/// case); a query of one or two characters matches the start of names only
/// (the trigram indexes need three). `after` is the lower-cased name of the
/// last room of the previous page. Private rooms and DMs are never listed.
pub async fn directory(
    conn: &mut AsyncPgConnection,
    query: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<RoomView>> {
    let mut q = with_seqs()
        .left_join(users::table)
        .filter(rooms::visibility.eq(Visibility::Public.as_str()))
        .select((Room::as_select(), users::username.nullable()))
        .order(lower(rooms::name))
        .limit(limit)
        .into_boxed();
    match query.map(str::trim).filter(|t| !t.is_empty()) {
        // Too short for the trigram indexes: names starting with it, by
        // the prefix index (a scan of every name and topic otherwise).
        Some(text) if text.chars().count() < 3 => {
            q = q.filter(lower(rooms::name).like(super::like_prefix(&text.to_lowercase())));
        }
        Some(text) => {
            let pattern = super::like_contains(text);
            q = q.filter(
                rooms::name
                    .ilike(pattern.clone())
                    .or(rooms::topic.ilike(pattern)),
            );
        }
        None => {}
    }
    if let Some(after) = after {
        q = q.filter(lower(rooms::name).gt(after.to_owned()));
    }
    Ok(with_owner(q.load(conn).await?))
}

/// Deletes the room's row, and with it what refers to it by a foreign key
/// (members). Its log and messages have none: [`super::events::delete_room`]
/// deletes them first, and is the only caller.
pub(crate) async fn delete(conn: &mut AsyncPgConnection, id: i64) -> Result<()> {
    let gone = diesel::delete(rooms::table.find(id)).execute(conn).await?;
    if gone == 0 {
        return Err(Error::NotFound(Entity::Room));
    }
    Ok(())
}

/// What the access rules need of a room, or `None` when it does not exist.
pub async fn facts(conn: &mut AsyncPgConnection, id: i64) -> Result<Option<RoomFacts>> {
    Ok(rooms::table
        .find(id)
        .select(facts_columns())
        .first::<FactsRow>(conn)
        .await
        .optional()?
        .map(facts_of))
}

/// What the access rules need of a room and of `user_id` in it, in one
/// statement (every page and join asks it; a member of a DM, two: whether
/// the other blocked them): `None` when the room does not exist.
pub async fn facts_with_standing(
    conn: &mut AsyncPgConnection,
    id: i64,
    user_id: i64,
) -> Result<Option<(RoomFacts, Standing)>> {
    type Row = (
        FactsRow,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<i64>,
        Option<DateTime<Utc>>,
    );
    let row: Option<Row> = rooms::table
        .left_join(
            room_members::table.on(room_members::room_id
                .eq(rooms::id)
                .and(room_members::user_id.eq(user_id))),
        )
        .left_join(
            room_bans::table.on(room_bans::room_id
                .eq(rooms::id)
                .and(room_bans::user_id.eq(user_id))),
        )
        .left_join(
            room_mutes::table.on(room_mutes::room_id
                .eq(rooms::id)
                .and(room_mutes::user_id.eq(user_id))),
        )
        .filter(rooms::id.eq(id))
        .select((
            facts_columns(),
            room_members::role.nullable(),
            room_mutes::until.nullable(),
            room_members::last_posted_at.nullable(),
            room_bans::user_id.nullable(),
            room_bans::until.nullable(),
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((facts, role, muted_until, last_posted_at, banned, until)) = row else {
        return Ok(None);
    };
    let facts = facts_of(facts);
    let role = role.as_deref().map(Role::parse);
    // Only a member of a DM may be blocked from posting in it: a second
    // look-up then, never for a room.
    let blocked_by_peer = facts.kind == Kind::Dm
        && role.is_some()
        && !super::members::blocked_by_peer(conn, id, &[user_id])
            .await?
            .is_empty();
    Ok(Some((
        facts,
        Standing {
            user_id,
            role,
            muted_until,
            banned: banned.map(|_| until),
            last_posted_at,
            blocked_by_peer,
        },
    )))
}

/// The same, taking the room's lock (its row of `room_seqs`) until the
/// transaction ends: the lock every writer of the room's log holds, so
/// what is checked under it stays true until the commit. The facts are
/// read by a statement of their own once the lock is held, so they are
/// those the previous holder committed (one statement would read them as
/// they were when it began waiting).
pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> Result<Option<RoomFacts>> {
    if super::room_seqs::lock(conn, id).await?.is_none() {
        return Ok(None);
    }
    facts(conn, id).await
}

/// Takes the room's next `n` seqs and returns the last of them with what
/// the access rules need of the room, adjusting its message count by
/// `messages_delta`; the lock this holds until the transaction ends is
/// what orders concurrent writers (the facts are read after it, as
/// [`lock`] does). `None` when the room is gone.
pub async fn take_seqs(
    conn: &mut AsyncPgConnection,
    id: i64,
    n: i64,
    messages_delta: i64,
) -> Result<Option<(i64, RoomFacts)>> {
    let Some(last) = super::room_seqs::take(conn, id, n, messages_delta).await? else {
        return Ok(None);
    };
    Ok(facts(conn, id).await?.map(|facts| (last, facts)))
}

/// Locks every room of `ids` that exists, in id order, and returns each
/// with its last seq and what the access rules need of it: two statements
/// for a whole batch of rooms, the locks ([`super::room_seqs::lock_many`])
/// then the facts (read once the locks are held, as [`lock`] does). Taking
/// the locks in id order is what keeps writers on every instance from
/// deadlocking. With `skip_locked`, a room whose lock another transaction
/// holds is left out instead of waited for (see [`existing`] to tell it
/// from a room that does not exist).
pub async fn lock_many(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    skip_locked: bool,
) -> Result<Vec<(i64, RoomFacts)>> {
    let locked = super::room_seqs::lock_many(conn, ids, skip_locked).await?;
    if locked.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<i64> = locked.iter().map(|(id, _)| *id).collect();
    let mut facts: HashMap<i64, RoomFacts> = rooms::table
        .filter(rooms::id.eq_any(&held))
        .select(facts_columns())
        .load::<FactsRow>(conn)
        .await?
        .into_iter()
        .map(|row| (row.0, facts_of(row)))
        .collect();
    Ok(locked
        .into_iter()
        .filter_map(|(id, last_seq)| Some((last_seq, facts.remove(&id)?)))
        .collect())
}

/// Sets a room's topic.
pub async fn set_topic(conn: &mut AsyncPgConnection, id: i64, topic: &Topic) -> Result<()> {
    diesel::update(rooms::table.find(id))
        .set(rooms::topic.eq(topic.as_str()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets a room's slow mode (seconds between two messages of a member).
pub async fn set_slow_mode(conn: &mut AsyncPgConnection, id: i64, secs: i32) -> Result<()> {
    diesel::update(rooms::table.find(id))
        .set(rooms::slow_mode_secs.eq(secs))
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes a room public or private. Going public with the name of another
/// public room is a conflict (409 `name_taken`) for the owner to fix.
pub async fn set_visibility(
    conn: &mut AsyncPgConnection,
    id: i64,
    visibility: Visibility,
) -> Result<()> {
    diesel::update(rooms::table.find(id))
        .set(rooms::visibility.eq(visibility.as_str()))
        .execute(conn)
        .await
        .map_err(name_taken)?;
    Ok(())
}

/// Whether another public room than `id` is named `name` (ignoring case).
pub async fn public_name_taken(conn: &mut AsyncPgConnection, id: i64) -> Result<bool> {
    let other: Option<i64> = Fixed::new(
        "SELECT o.id FROM rooms r JOIN rooms o ON lower(o.name) = lower(r.name) \
         WHERE r.id = $1 AND o.id <> r.id AND o.visibility = 'public' LIMIT 1",
    )
    .bind::<diesel::sql_types::BigInt, _>(id)
    .load::<Other>(conn)
    .await?
    .pop()
    .map(|o| o.id);
    Ok(other.is_some())
}

#[derive(QueryableByName)]
struct Other {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Records `owner_id` as the room's owner.
pub async fn set_owner(conn: &mut AsyncPgConnection, id: i64, owner_id: i64) -> Result<()> {
    diesel::update(rooms::table.find(id))
        .set(rooms::owner_id.eq(owner_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Notes that a mute or ban lasts until `until` in the room: posting looks
/// up standings until the latest such end has passed.
pub async fn restrict(conn: &mut AsyncPgConnection, id: i64, until: DateTime<Utc>) -> Result<()> {
    diesel::update(rooms::table.find(id))
        .set(
            rooms::restricted_until.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("GREATEST(restricted_until, ")
            .bind::<diesel::sql_types::Timestamptz, _>(until)
            .sql(")")),
        )
        .execute(conn)
        .await?;
    Ok(())
}

/// Which of `ids` are rooms, without locking anything.
pub async fn existing(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<Vec<i64>> {
    Ok(rooms::table
        .filter(rooms::id.eq_any(ids))
        .select(rooms::id)
        .load(conn)
        .await?)
}

/// The rooms whose owner turned emotion tags off.
pub async fn without_emotions(conn: &mut AsyncPgConnection) -> Result<Vec<i64>> {
    Ok(rooms::table
        .filter(rooms::emotions.eq(false))
        .select(rooms::id)
        .load(conn)
        .await?)
}

/// Turns emotion tags on or off in a room (its owner's switch).
pub async fn set_emotions(conn: &mut AsyncPgConnection, id: i64, on: bool) -> Result<()> {
    diesel::update(rooms::table.find(id))
        .set(rooms::emotions.eq(on))
        .execute(conn)
        .await?;
    Ok(())
}
