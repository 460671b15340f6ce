//! The `room_events` table: the room as an ordered log. Every change to a
//! room (a new message, an edit, a deletion, a reaction) is appended here by
//! one path, [`append_batch`], which takes the room's next seqs and updates
//! the current state (`messages`, `message_reactions`) in the same
//! transaction. The stored frame is what every client receives, so catch-up
//! and replay ([`after`]) send it as it is, knowing nothing of event kinds.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::Fixed;
use super::messages::{self, MessageState, NewMessage};
use super::{annotations, attachments, members, modlog, reactions, rooms};
use crate::access::{self, RoomFacts, Standing};
use crate::domain::{MessageBody, Nonce};
use crate::emoji::Emoji;
use crate::error::{Code, Entity, Error, Result};
use crate::protocol::{
    Annotation, ChatMessage, MessageEdited, ReactionChanged, ReplyRef, ScoredLabel, ServerFrame,
    UserRef,
};
use crate::schema::room_events;

mod moderation;
mod plain;
mod tags;

pub use moderation::Moderation;

/// Rows a room's deletion removes per statement before its last one.
const DELETE_BATCH: i64 = 5000;

/// Deletes a room with its log and messages (who may is `access`'s call).
/// A big room is emptied first in short statements of [`DELETE_BATCH`] rows,
/// without its lock, so no statement nears the statement timeout and writers
/// are not held up; then the room's lock comes, so a writer that holds it
/// finishes before, and one that waits for it finds no room: nothing is
/// left behind.
pub async fn delete_room(conn: &mut AsyncPgConnection, room_id: i64) -> Result<()> {
    loop {
        let oldest: Vec<i64> = room_events::table
            .filter(room_events::room_id.eq(room_id))
            .select(room_events::seq)
            .order(room_events::seq)
            .limit(DELETE_BATCH)
            .load(conn)
            .await?;
        let gone = diesel::delete(
            room_events::table
                .filter(room_events::room_id.eq(room_id))
                .filter(room_events::seq.eq_any(&oldest)),
        )
        .execute(conn)
        .await?;
        if (gone as i64) < DELETE_BATCH {
            break;
        }
    }
    while messages::delete_some_in_room(conn, room_id, DELETE_BATCH).await? as i64 == DELETE_BATCH {
    }
    while super::search::forget_some_in_room(conn, room_id, DELETE_BATCH).await? as i64
        == DELETE_BATCH
    {}
    while super::vectors::forget_some_in_room(conn, room_id, DELETE_BATCH).await? as i64
        == DELETE_BATCH
    {}
    conn.transaction::<_, Error, _>(async |conn| {
        rooms::lock(conn, room_id)
            .await?
            .ok_or(Error::NotFound(Entity::Room))?;
        diesel::delete(room_events::table.filter(room_events::room_id.eq(room_id)))
            .execute(conn)
            .await?;
        messages::delete_in_room(conn, room_id).await?;
        rooms::delete(conn, room_id).await
    })
    .await
}

/// What a client asks to change in a room.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new message; `html` and `mentions` are its rendering.
    Message {
        body: MessageBody,
        html: String,
        mentions: Vec<i64>,
        reply_to: Option<i64>,
        /// The tokens of the author's pending uploads it sends, in order.
        attachments: Vec<String>,
    },
    /// A new text for one's own message.
    Edit {
        id: i64,
        body: MessageBody,
        html: String,
        mentions: Vec<i64>,
    },
    /// Removes a message's text for good.
    Delete { id: i64 },
    /// Adds (`on`) or takes back one user's reaction.
    React { id: i64, emoji: Emoji, on: bool },
    /// An act of a moderator or the owner.
    Moderate(Moderation),
    /// What the server learned about a message (an emotion tag), appended
    /// by the worker as the bot, never by a client: no access rule applies
    /// and it makes no one a member. Empty `labels` take the kind's earlier
    /// annotation back.
    Annotate {
        id: i64,
        kind: String,
        labels: Vec<ScoredLabel>,
        model: String,
        /// A transcript's text (empty for labels).
        text: String,
    },
}

impl Change {
    /// The message an edit, deletion, reaction or reply concerns.
    fn target(&self) -> Option<i64> {
        match self {
            Self::Message { reply_to, .. } => *reply_to,
            Self::Edit { id, .. }
            | Self::Delete { id }
            | Self::React { id, .. }
            | Self::Annotate { id, .. } => Some(*id),
            Self::Moderate(_) => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Message { .. } => "message",
            Self::Edit { .. } => "edited",
            Self::Delete { .. } => "deleted",
            Self::React { .. } => "reaction",
            Self::Moderate(_) => "moderation",
            Self::Annotate { .. } => "annotation",
        }
    }
}

/// One change to append: who asks for what, under which idempotency key.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub user: UserRef,
    pub nonce: Nonce,
    pub change: Change,
}

/// The rules a batch applies that operators may tune.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// How long after sending its author may edit a message.
    pub edit_window: chrono::Duration,
}

impl Policy {
    /// The rules the operator's settings ask for.
    pub fn from_config(config: &crate::config::CommonConfig) -> Self {
        Self {
            edit_window: chrono::Duration::from_std(config.edit_window)
                .unwrap_or_else(|_| Self::default().edit_window),
        }
    }

    /// Whether a message sent at `sent_at` may still be edited at `now`:
    /// the one statement of the rule, for the writer and for the pages
    /// that offer the action.
    pub fn editable(&self, sent_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now - sent_at <= self.edit_window
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            edit_window: chrono::Duration::hours(24),
        }
    }
}

/// An event in the log, as a draft's answer.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: i64,
    pub frame: ServerFrame,
    /// The frame as stored and sent, serialized once.
    pub json: String,
    /// False when the nonce was used before: the stored event is answered
    /// and nothing new was appended.
    pub created: bool,
    /// This event made its author a member of the room.
    pub joined: bool,
}

/// Why a draft was refused without touching anything. Kept small and
/// `Copy` so a draft repeated within a batch gets the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The access rules refuse the author (a room they may not see answers
    /// like one that does not exist).
    Denied(access::Denial),
    MessageNotFound,
    NotAuthor,
    EditWindowClosed,
    NotAllowedToDelete,
    /// A moderator acting on themselves.
    SelfTarget,
    /// Acting on someone whose role is not below one's own.
    Outranks,
    /// Acting on a member who is not one.
    NotMember,
    /// Changing the owner's role other than by handing ownership over.
    OwnerRole,
    /// Lifting a ban or mute that is not in force.
    NotRestricted,
    /// Making a room public under another public room's name.
    NameTaken,
    /// A message naming an upload that is not pending for its author here.
    AttachmentGone,
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Denied(d) => d.into(),
            Refusal::MessageNotFound => Error::NotFound(Entity::Message),
            Refusal::AttachmentGone => Error::invalid(
                "attachments",
                Code::AttachmentNotFound,
                "an attached file was sent already, expired or is not yours: upload it again",
            ),
            Refusal::NotAuthor => Error::Denied {
                code: Code::NotAuthor,
                message: "only its author can edit a message",
            },
            Refusal::EditWindowClosed => Error::conflict(
                "id",
                Code::EditWindowClosed,
                "this message can no longer be edited",
            ),
            Refusal::NotAllowedToDelete => Error::Forbidden(
                "only its author, the room's owner or a moderator can delete a message",
            ),
            Refusal::SelfTarget => Error::invalid(
                "user_id",
                Code::CannotModerateSelf,
                "you cannot do that to yourself",
            ),
            Refusal::Outranks => Error::Denied {
                code: Code::OutranksYou,
                message: "a moderator acts on members only; the owner on anyone else",
            },
            Refusal::NotMember => Error::conflict(
                "user_id",
                Code::NotMember,
                "that person is not a member of this room",
            ),
            Refusal::OwnerRole => Error::conflict(
                "user_id",
                Code::CannotDemoteOwner,
                "the owner's role changes only when they hand the room over",
            ),
            Refusal::NotRestricted => Error::conflict(
                "user_id",
                Code::NotRestricted,
                "there is no such ban or mute in force",
            ),
            Refusal::NameTaken => Error::conflict(
                "visibility",
                Code::NameTaken,
                "a public room with this name exists: rename this one first",
            ),
        }
    }
}

/// What becomes of one draft of a batch.
enum Fate {
    /// Its nonce was used before this batch: the stored event.
    Existing(Box<Appended>),
    /// The same (user, nonce) as an earlier draft of this batch.
    SameAs(usize),
    Refused(Refusal),
    /// New: the k-th event the batch appends.
    New(i64),
}

/// Appends a batch of changes to one room's log in one transaction (group
/// commit): each accepted change takes the room's next seq, in the order
/// given, and updates the current state. A draft whose (user, nonce) was
/// stored before, or comes earlier in the batch, stores nothing and answers
/// that event; a draft the rules refuse (unknown message, not the author,
/// edit window closed, not allowed to delete) gets its error and takes no
/// seq. The authors become members and their read marks move to their
/// newest event. Returns one answer per draft, in order; `Err` for the whole
/// batch only when the room is gone or storage failed.
///
/// The room's row lock orders concurrent writers of a room. A batch of
/// new messages that answer nothing (the common case) takes it with the
/// seq update itself and asks the access rules after; should they refuse
/// anyone, the batch is rolled back and checked fully. Any other batch
/// takes the lock first and checks every draft before taking seqs. A nonce
/// stored concurrently by another writer aborts the transaction (no seq is
/// lost) and the batch is retried.
pub async fn append_batch(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    drafts: &[EventDraft],
    policy: &Policy,
) -> Result<Vec<Result<Appended>>> {
    let mut attempt = 0;
    let mut care = if drafts
        .iter()
        .all(|d| matches!(&d.change, Change::Message { reply_to: None, attachments, .. } if attachments.is_empty()))
    {
        Care::Quick
    } else {
        Care::Full
    };
    loop {
        match conn
            .transaction::<_, Error, _>(async |conn| {
                append_once(conn, room_id, drafts, policy, care).await
            })
            .await
        {
            Err(Error::Database(e)) if is_nonce_race(&e) => {
                if attempt == 3 {
                    // Not a bug: resending the same nonce answers the
                    // event that won the race.
                    return Err(Error::unavailable_from(
                        "a nonce kept being stored concurrently",
                        e,
                    ));
                }
                attempt += 1;
            }
            Err(Error::Database(diesel::result::Error::RollbackTransaction))
                if care == Care::Quick =>
            {
                care = Care::Full;
            }
            outcome => return outcome,
        }
    }
}

/// Appends the batches of several rooms in one transaction: one commit
/// (and one fsync) for all of them, which is what many quiet rooms need.
/// Every room's lock is taken first, by one statement in id order, so
/// writers on every instance never deadlock. Rooms holding only new
/// messages that answer nothing (the common case) are then written
/// together by a handful of statements whatever their number ([`plain`]);
/// any other room runs [`append_batch`] in a savepoint of its own, so a
/// refusal in one room undoes nothing of the others. Returns each room's
/// answers in the order given; `Err` only when the transaction failed.
pub async fn append_rooms(
    conn: &mut AsyncPgConnection,
    batches: &[(i64, Vec<EventDraft>)],
    policy: &Policy,
) -> Result<Vec<Result<Vec<Result<Appended>>>>> {
    let answers = append_rooms_locking(conn, batches, policy, false).await?;
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(Error::internal("a room was skipped while waiting"))))
        .collect())
}

/// [`append_rooms`], except that a room whose row another transaction
/// holds (a deletion, a writer elsewhere) is not waited for: its answer is
/// `None` and nothing of it is written, so one locked room cannot hold
/// back the others of the batch. The caller writes it apart, waiting.
pub async fn append_rooms_skipping_locked(
    conn: &mut AsyncPgConnection,
    batches: &[(i64, Vec<EventDraft>)],
    policy: &Policy,
) -> Result<Vec<Option<Result<Vec<Result<Appended>>>>>> {
    append_rooms_locking(conn, batches, policy, true).await
}

async fn append_rooms_locking(
    conn: &mut AsyncPgConnection,
    batches: &[(i64, Vec<EventDraft>)],
    policy: &Policy,
    skip_locked: bool,
) -> Result<Vec<Option<Result<Vec<Result<Appended>>>>>> {
    let mut attempt = 0;
    loop {
        let outcome = conn
            .transaction::<_, Error, _>(async |conn| {
                append_rooms_once(conn, batches, policy, skip_locked).await
            })
            .await;
        match outcome {
            // A nonce stored concurrently: the retry finds it stored.
            Err(Error::Database(e)) if is_nonce_race(&e) && attempt < 3 => attempt += 1,
            outcome => return outcome,
        }
    }
}

/// Whether a failed insert lost a race for a (room, user, nonce).
fn is_nonce_race(e: &diesel::result::Error) -> bool {
    super::unique_violation(e).is_some_and(is_nonce_key)
}

/// Whether a unique key violated is the log's (room, user, nonce) key. A
/// violation names the copy of the key it hit: the log's partitions each
/// have theirs (`room_events_p3_room_id_user_id_nonce_key`, see migration
/// 2026-12-14-000002), and Citus adds its shard's id to the names it puts
/// on shards (`…_102008`).
fn is_nonce_key(name: &str) -> bool {
    let name = match name.rsplit_once('_') {
        Some((base, shard)) if !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit()) => {
            base
        }
        _ => name,
    };
    name == "room_events_room_user_nonce_key"
        || name
            .strip_prefix("room_events_p")
            .and_then(|rest| rest.strip_suffix("_room_id_user_id_nonce_key"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

async fn append_rooms_once(
    conn: &mut AsyncPgConnection,
    batches: &[(i64, Vec<EventDraft>)],
    policy: &Policy,
    skip_locked: bool,
) -> Result<Vec<Option<Result<Vec<Result<Appended>>>>>> {
    let mut ids: Vec<i64> = batches.iter().map(|(room, _)| *room).collect();
    ids.sort_unstable();
    ids.dedup();
    let locked: HashMap<i64, (i64, RoomFacts)> = rooms::lock_many(conn, &ids, skip_locked)
        .await?
        .into_iter()
        .map(|(last_seq, facts)| (facts.id, (last_seq, facts)))
        .collect();
    // Rooms that exist but are locked elsewhere: left for the caller.
    let held: std::collections::HashSet<i64> = if skip_locked && locked.len() < ids.len() {
        let missing: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !locked.contains_key(id))
            .collect();
        rooms::existing(conn, &missing).await?.into_iter().collect()
    } else {
        Default::default()
    };
    let mut seen = std::collections::HashSet::new();
    let mut quick: Vec<usize> = (0..batches.len())
        .filter(|&i| {
            let (room, drafts) = &batches[i];
            seen.insert(*room)
                && locked
                    .get(room)
                    .is_some_and(|(_, facts)| plain::eligible(facts, drafts))
        })
        .collect();
    let stored = plain::rooms_with_stored_nonces(conn, &quick, batches).await?;
    quick.retain(|&i| !stored.contains(&batches[i].0));
    let mut answers: Vec<Option<Result<Vec<Result<Appended>>>>> =
        (0..batches.len()).map(|_| None).collect();
    let (quick, plain_rooms) = bulk_rooms(batches, &quick, &locked);
    for (&i, events) in quick.iter().zip(plain::append(conn, &plain_rooms).await?) {
        answers[i] = Some(Ok(events.into_iter().map(Ok).collect()));
    }
    // The server's tags: in bulk too, in rooms named once in the batch.
    let mut named: HashMap<i64, usize> = HashMap::new();
    for (room, _) in batches {
        *named.entry(*room).or_default() += 1;
    }
    let mut tagged: Vec<usize> = (0..batches.len())
        .filter(|&i| {
            let (room, drafts) = &batches[i];
            answers[i].is_none()
                && locked.contains_key(room)
                && named.get(room) == Some(&1)
                && tags::eligible(drafts)
        })
        .collect();
    let stored = plain::rooms_with_stored_nonces(conn, &tagged, batches).await?;
    tagged.retain(|&i| !stored.contains(&batches[i].0));
    let (tagged, tag_rooms) = bulk_rooms(batches, &tagged, &locked);
    if !tag_rooms.is_empty() {
        for (&i, events) in tagged.iter().zip(tags::append(conn, &tag_rooms).await?) {
            answers[i] = Some(Ok(events));
        }
    }
    let mut rest: Vec<usize> = (0..batches.len())
        .filter(|i| answers[*i].is_none() && !held.contains(&batches[*i].0))
        .collect();
    rest.sort_by_key(|&i| batches[i].0);
    for i in rest {
        let (room_id, drafts) = &batches[i];
        answers[i] = Some(if locked.contains_key(room_id) {
            append_batch(conn, *room_id, drafts, policy).await
        } else {
            Err(Error::NotFound(Entity::Room))
        });
    }
    Ok(answers)
}

/// The locked rooms among `chosen` (indices into `batches`) as a bulk
/// write takes them, each with its index: their drafts and where their
/// seqs start.
fn bulk_rooms<'a>(
    batches: &'a [(i64, Vec<EventDraft>)],
    chosen: &[usize],
    locked: &HashMap<i64, (i64, RoomFacts)>,
) -> (Vec<usize>, Vec<plain::Room<'a>>) {
    chosen
        .iter()
        .filter_map(|&i| {
            let (id, drafts) = &batches[i];
            let room = plain::Room {
                id: *id,
                last_seq: locked.get(id)?.0,
                drafts,
            };
            Some((i, room))
        })
        .unzip()
}

/// How a batch checks its drafts against the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Care {
    /// New messages answering nothing: seqs first (that statement takes the
    /// room's lock), the access rules after; a refusal rechecks in full.
    Quick,
    /// The room's lock first, then what the drafts concern, each draft
    /// checked before any seq is taken.
    Full,
}

/// A row of the log to insert.
struct NewEvent<'a> {
    room_id: i64,
    seq: i64,
    kind: &'static str,
    message_id: Option<i64>,
    user_id: i64,
    nonce: &'a str,
    frame: String,
}

/// Appends rows to the log, of any rooms, in one statement whose text
/// does not depend on how many there are.
async fn insert(conn: &mut AsyncPgConnection, rows: &[NewEvent<'_>]) -> Result<()> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    if rows.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&NewEvent<'_>) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    Fixed::new(
        "INSERT INTO room_events (room_id, seq, kind, message_id, user_id, nonce, frame) \
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], \
                              $5::bigint[], $6::text[], $7::text[])",
    )
    .bind::<Array<BigInt>, _>(column(|r| r.room_id))
    .bind::<Array<BigInt>, _>(column(|r| r.seq))
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.kind).collect::<Vec<_>>())
    .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.message_id).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(column(|r| r.user_id))
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.nonce).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.frame.as_str()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn append_once(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    drafts: &[EventDraft],
    policy: &Policy,
    care: Care,
) -> Result<Vec<Result<Appended>>> {
    let mut existing = stored_by_nonce(conn, room_id, drafts).await?;
    if care == Care::Quick && !existing.is_empty() {
        // A resend is answered only to whom may still read the room:
        // the full check, under the room's lock.
        return Err(diesel::result::Error::RollbackTransaction.into());
    }
    // In full care every writer of the room takes its lock first: what is
    // checked under it (who may post, the messages a change concerns) stays
    // true until the commit. Once per batch, not per event.
    let mut room = match care {
        Care::Quick => None,
        Care::Full => Some(
            rooms::lock(conn, room_id)
                .await?
                .ok_or(Error::NotFound(Entity::Room))?,
        ),
    };
    let targets: Vec<i64> = drafts.iter().filter_map(|d| d.change.target()).collect();
    let mut state: HashMap<i64, MessageState> = HashMap::new();
    if !targets.is_empty() {
        state = messages::states(conn, &[room_id], &targets)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
    }
    let now = Utc::now();
    let deletes = drafts
        .iter()
        .any(|d| matches!(d.change, Change::Delete { .. }));
    let moderates = drafts
        .iter()
        .any(|d| matches!(d.change, Change::Moderate(_)));
    let mut standings = match &room {
        Some(room)
            if deletes
                || moderates
                || !existing.is_empty()
                || access::posting_needs_standing(room, now) =>
        {
            concerned_standings(conn, room, drafts).await?
        }
        _ => HashMap::new(),
    };
    let name_clash = drafts.iter().any(|d| {
        matches!(
            d.change,
            Change::Moderate(Moderation::Visibility {
                visibility: access::Visibility::Public
            })
        )
    }) && rooms::public_name_taken(conn, room_id).await?;
    let mut uploads = pending_uploads(conn, room_id, drafts).await?;
    let mut first_of: HashMap<(i64, &str), usize> = HashMap::new();
    let mut fates = Vec::with_capacity(drafts.len());
    let mut fresh = 0i64;
    for (i, d) in drafts.iter().enumerate() {
        let key = (d.user.id, d.nonce.as_str());
        let who = standings
            .get(&d.user.id)
            .copied()
            .unwrap_or_else(|| Standing::outsider(d.user.id));
        if let Some(stored) = existing.remove(&(d.user.id, d.nonce.as_str().to_owned())) {
            first_of.insert(key, i);
            let annotates = matches!(d.change, Change::Annotate { .. });
            fates.push(
                match room.as_ref().map(|r| access::may_read(r, &who, now)) {
                    Some(Err(denial)) if !annotates => Fate::Refused(Refusal::Denied(denial)),
                    _ => Fate::Existing(Box::new(stored)),
                },
            );
            continue;
        }
        if let Some(&earlier) = first_of.get(&key) {
            fates.push(match fates[earlier] {
                Fate::Refused(r) => Fate::Refused(r),
                _ => Fate::SameAs(earlier),
            });
            continue;
        }
        first_of.insert(key, i);
        let Some(room) = room.as_mut() else {
            // Quick care: new messages, checked once the seqs are taken.
            fates.push(Fate::New(fresh));
            fresh += 1;
            continue;
        };
        let allowed = match &d.change {
            Change::Message { .. } => access::may_send(room, &who, now),
            Change::Moderate(_) | Change::Annotate { .. } => Ok(()),
            // Taking back one's own words stays possible when muted or
            // blocked; whose message it may be is `check`'s call.
            Change::Delete { .. } => access::may_read(room, &who, now),
            _ => access::may_post(room, &who, now),
        };
        if let Err(denial) = allowed {
            fates.push(Fate::Refused(Refusal::Denied(denial)));
            continue;
        }
        let verdict = match &d.change {
            Change::Moderate(m) => {
                moderation::check(room, &mut standings, d.user.id, m, name_clash, now)
            }
            Change::Message { attachments, .. } if !attachments.is_empty() => {
                claimable(attachments, d.user.id, &mut uploads)
                    .and_then(|()| check(&d.change, d.user.id, &mut state, now, policy, false))
            }
            change => {
                let may_moderate = access::may_moderate(room, &who, now).is_ok();
                check(change, d.user.id, &mut state, now, policy, may_moderate)
            }
        };
        match verdict {
            Ok(()) => {
                if matches!(d.change, Change::Message { .. }) && room.slow_mode_secs > 0 {
                    standings.entry(d.user.id).or_insert(who).last_posted_at = Some(now);
                }
                fates.push(Fate::New(fresh));
                fresh += 1;
            }
            Err(r) => fates.push(Fate::Refused(r)),
        }
    }
    let mut events: HashMap<i64, Appended> = HashMap::new();
    if fresh > 0 {
        events = write(conn, room_id, drafts, &fates, fresh, &state, care).await?;
    }
    let mut out: Vec<Result<Appended>> = Vec::with_capacity(drafts.len());
    for fate in fates {
        out.push(match fate {
            Fate::Existing(stored) => Ok(*stored),
            Fate::SameAs(earlier) => match &out[earlier] {
                Ok(a) => Ok(Appended {
                    created: false,
                    joined: false,
                    ..a.clone()
                }),
                Err(e) => Err(Error::internal(format!("a repeated draft failed: {e}"))),
            },
            Fate::Refused(r) => Err(r.into()),
            Fate::New(k) => events
                .remove(&k)
                .ok_or_else(|| Error::internal("an appended event is missing")),
        });
    }
    Ok(out)
}

/// The uploader of every pending upload the drafts name, when any does.
async fn pending_uploads(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    drafts: &[EventDraft],
) -> Result<HashMap<String, i64>> {
    let tokens: Vec<&str> = drafts
        .iter()
        .flat_map(|d| match &d.change {
            Change::Message { attachments, .. } => attachments.as_slice(),
            _ => &[],
        })
        .map(String::as_str)
        .collect();
    attachments::pending_uploaders(conn, room_id, &tokens).await
}

/// Whether a message may send these uploads: each pending, the author's,
/// in this room, and not sent by an earlier draft of the batch (which
/// takes them from `uploads`).
fn claimable(
    tokens: &[String],
    user_id: i64,
    uploads: &mut HashMap<String, i64>,
) -> std::result::Result<(), Refusal> {
    let mut seen = std::collections::HashSet::new();
    let all = tokens
        .iter()
        .all(|t| seen.insert(t) && uploads.get(t) == Some(&user_id));
    if !all {
        return Err(Refusal::AttachmentGone);
    }
    for t in tokens {
        uploads.remove(t);
    }
    Ok(())
}

/// Checks one change against the current state, and applies it there so
/// later drafts of the batch see it (a deletion, then an edit).
fn check(
    change: &Change,
    user_id: i64,
    state: &mut HashMap<i64, MessageState>,
    now: DateTime<Utc>,
    policy: &Policy,
    may_moderate: bool,
) -> std::result::Result<(), Refusal> {
    let Some(id) = change.target() else {
        return Ok(());
    };
    let live = state
        .get_mut(&id)
        .filter(|m| m.deleted_at.is_none())
        .ok_or(Refusal::MessageNotFound)?;
    match change {
        Change::Message { .. }
        | Change::React { .. }
        | Change::Moderate(_)
        | Change::Annotate { .. } => Ok(()),
        Change::Edit { .. } => {
            if live.user_id != user_id {
                Err(Refusal::NotAuthor)
            } else if !policy.editable(live.sent_at, now) {
                Err(Refusal::EditWindowClosed)
            } else {
                Ok(())
            }
        }
        Change::Delete { .. } => {
            if live.user_id != user_id && !may_moderate {
                return Err(Refusal::NotAllowedToDelete);
            }
            live.deleted_at = Some(now);
            Ok(())
        }
    }
}

/// Whether `user_id` stored a change in the room under `nonce`: a resend,
/// answered even over the rate limit.
pub async fn nonce_stored(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    nonce: &Nonce,
) -> Result<bool> {
    let found: Option<i64> = room_events::table
        .filter(room_events::room_id.eq(room_id))
        .filter(room_events::user_id.eq(user_id))
        .filter(room_events::nonce.eq(nonce.as_str()))
        .select(room_events::seq)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// The events already stored under the drafts' (user, nonce) pairs.
async fn stored_by_nonce(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    drafts: &[EventDraft],
) -> Result<HashMap<(i64, String), Appended>> {
    let users: Vec<i64> = drafts.iter().map(|d| d.user.id).collect();
    let nonces: Vec<&str> = drafts.iter().map(|d| d.nonce.as_str()).collect();
    let rows: Vec<(i64, String, i64, String)> = room_events::table
        .filter(room_events::room_id.eq(room_id))
        .filter(room_events::user_id.eq_any(&users))
        .filter(room_events::nonce.eq_any(&nonces))
        .select((
            room_events::user_id,
            room_events::nonce,
            room_events::seq,
            room_events::frame,
        ))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|(user_id, nonce, seq, json)| {
            let frame = serde_json::from_str(&json)
                .map_err(|e| Error::internal_from(format!("stored frame {seq} unreadable"), e))?;
            Ok((
                (user_id, nonce),
                Appended {
                    seq,
                    frame,
                    json,
                    created: false,
                    joined: false,
                },
            ))
        })
        .collect()
}

/// The standings in the room of the batch's authors and of the people its
/// acts of moderation concern (with, in a DM of two, whether the other
/// blocked them).
async fn concerned_standings(
    conn: &mut AsyncPgConnection,
    room: &RoomFacts,
    drafts: &[EventDraft],
) -> Result<HashMap<i64, Standing>> {
    let mut people: Vec<i64> = drafts.iter().map(|d| d.user.id).collect();
    people.extend(drafts.iter().filter_map(|d| match &d.change {
        Change::Moderate(m) => m.target().map(|t| t.id),
        _ => None,
    }));
    people.sort_unstable();
    people.dedup();
    members::standings_in(conn, room, &people).await
}

/// Takes the seqs, updates the current state and appends the events of the
/// accepted drafts; returns them by their index among the new events.
async fn write(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    drafts: &[EventDraft],
    fates: &[Fate],
    fresh: i64,
    state: &HashMap<i64, MessageState>,
    care: Care,
) -> Result<HashMap<i64, Appended>> {
    let accepted: Vec<(i64, &EventDraft)> = drafts
        .iter()
        .zip(fates)
        .filter_map(|(d, f)| match f {
            Fate::New(k) => Some((*k, d)),
            _ => None,
        })
        .collect();
    let added = accepted
        .iter()
        .filter(|(_, d)| matches!(d.change, Change::Message { .. }))
        .count() as i64;
    let removed = accepted
        .iter()
        .filter(|(_, d)| matches!(d.change, Change::Delete { .. }))
        .count() as i64;
    let (last, room) = rooms::take_seqs(conn, room_id, fresh, added - removed)
        .await?
        .ok_or(Error::NotFound(Entity::Room))?;
    let now = Utc::now();
    if care == Care::Quick && access::posting_needs_standing(&room, now) {
        // The seq update holds the room's lock now: ask the rules, and
        // check the whole batch in full care should they refuse anyone
        // (or should slow mode have to count within the batch).
        let standings = concerned_standings(conn, &room, drafts).await?;
        let mut authors = std::collections::HashSet::new();
        let refused = accepted.iter().any(|(_, d)| {
            let who = standings
                .get(&d.user.id)
                .copied()
                .unwrap_or_else(|| Standing::outsider(d.user.id));
            access::may_send(&room, &who, now).is_err()
                || (room.slow_mode_secs > 0 && !authors.insert(d.user.id))
        });
        if refused {
            return Err(diesel::result::Error::RollbackTransaction.into());
        }
    }
    let first = last - fresh + 1;

    let new_messages: Vec<NewMessage<'_>> = accepted
        .iter()
        .filter_map(|(k, d)| match &d.change {
            Change::Message {
                body,
                html,
                mentions,
                reply_to,
                ..
            } => Some(NewMessage {
                room_id,
                seq: first + k,
                user_id: d.user.id,
                body: body.as_str(),
                html,
                mentions: mentions.iter().copied().map(Some).collect(),
                reply_to_id: *reply_to,
                nonce: d.nonce.as_str(),
            }),
            _ => None,
        })
        .collect();
    let created: HashMap<i64, (i64, DateTime<Utc>)> = messages::insert(conn, &new_messages)
        .await?
        .into_iter()
        .map(|(id, _, seq, sent_at)| (seq, (id, sent_at)))
        .collect();

    let mut out = HashMap::with_capacity(accepted.len());
    let mut rows = Vec::with_capacity(accepted.len());
    let mut deleted = Vec::new();
    for (k, d) in &accepted {
        let seq = first + k;
        let (frame, message_id) = match &d.change {
            Change::Message {
                body,
                html,
                mentions,
                reply_to,
                attachments: tokens,
            } => {
                let (id, sent_at) = created
                    .get(&seq)
                    .copied()
                    .ok_or_else(|| Error::internal("an inserted message is missing"))?;
                let attachments = if tokens.is_empty() {
                    Vec::new()
                } else {
                    attachments::claim(conn, room_id, id, d.user.id, tokens).await?
                };
                let reply_to = reply_to.and_then(|p| state.get(&p)).map(reply_ref);
                let message = ChatMessage {
                    room: room_id,
                    seq,
                    id,
                    user: d.user.clone(),
                    body: body.as_str().to_owned(),
                    html: html.clone(),
                    mentions: mentions.clone(),
                    reply_to,
                    sent_at,
                    nonce: d.nonce.as_str().to_owned(),
                    edited_at: None,
                    deleted: false,
                    reactions: Vec::new(),
                    annotations: Vec::new(),
                    attachments,
                };
                (ServerFrame::Message(message), Some(id))
            }
            Change::Edit {
                id,
                body,
                html,
                mentions,
            } => {
                let edited_at = messages::edit(conn, room_id, *id, body, html, mentions).await?;
                let edit = MessageEdited {
                    room: room_id,
                    seq,
                    id: *id,
                    body: body.as_str().to_owned(),
                    html: html.clone(),
                    mentions: mentions.clone(),
                    edited_at,
                    nonce: d.nonce.as_str().to_owned(),
                    deleted: false,
                };
                (ServerFrame::Edited(edit), Some(*id))
            }
            Change::Delete { id } => {
                if let Some(author) = state.get(id).map(|m| m.user_id).filter(|a| *a != d.user.id) {
                    modlog::insert(
                        conn,
                        &modlog::NewEntry {
                            room_id,
                            seq,
                            actor_id: d.user.id,
                            target_id: Some(author),
                            message_id: Some(*id),
                            action: "delete",
                            detail: "",
                            until: None,
                            reason: "",
                        },
                    )
                    .await?;
                }
                messages::erase(conn, room_id, *id).await?;
                reactions::clear(conn, room_id, *id).await?;
                attachments::remove_of_message(conn, room_id, *id).await?;
                deleted.push(*id);
                let frame = ServerFrame::Deleted {
                    room: room_id,
                    seq,
                    id: *id,
                    nonce: d.nonce.as_str().to_owned(),
                };
                (frame, Some(*id))
            }
            Change::React { id, emoji, on } => {
                let count = reactions::set(conn, room_id, *id, d.user.id, emoji, *on).await?;
                let reaction = ReactionChanged {
                    room: room_id,
                    seq,
                    id: *id,
                    emoji: emoji.as_str().to_owned(),
                    user: d.user.clone(),
                    on: *on,
                    count,
                    nonce: d.nonce.as_str().to_owned(),
                };
                (ServerFrame::Reaction(reaction), Some(*id))
            }
            Change::Moderate(m) => {
                let frame =
                    moderation::apply(conn, room_id, seq, &d.user, m, d.nonce.as_str(), now)
                        .await?;
                (frame, None)
            }
            Change::Annotate {
                id,
                kind,
                labels,
                model,
                text,
            } => {
                let about = state
                    .get(id)
                    .ok_or_else(|| Error::internal("an annotated message is missing"))?;
                let annotation = Annotation {
                    room: room_id,
                    seq,
                    id: *id,
                    kind: kind.clone(),
                    labels: labels.clone(),
                    model: model.clone(),
                    text: text.clone(),
                };
                annotations::put(
                    conn,
                    &annotations::NewAnnotation {
                        message_id: *id,
                        room_id,
                        user_id: about.user_id,
                        sent_at: about.sent_at,
                        annotation: &annotation,
                    },
                )
                .await?;
                (ServerFrame::Annotation(annotation), Some(*id))
            }
        };
        let json = frame.to_json();
        rows.push(NewEvent {
            room_id,
            seq,
            kind: d.change.kind(),
            message_id,
            user_id: d.user.id,
            nonce: d.nonce.as_str(),
            frame: json.clone(),
        });
        out.insert(
            *k,
            Appended {
                seq,
                frame,
                json,
                created: true,
                joined: false,
            },
        );
    }
    insert(conn, &rows).await?;
    super::search::forget(conn, &[room_id], &deleted).await?;
    super::vectors::forget(conn, &[room_id], &deleted).await?;
    annotations::clear(conn, room_id, &deleted).await?;
    for id in deleted {
        redact(conn, room_id, id, &mut out).await?;
    }
    // Each author's newest event: their read mark moves there, and it says
    // whether it made them a member. An annotation has no author to move.
    let mut newest: HashMap<i64, i64> = HashMap::new();
    for (k, d) in accepted
        .iter()
        .filter(|(_, d)| !matches!(d.change, Change::Annotate { .. }))
    {
        let mark = newest.entry(d.user.id).or_insert(*k);
        *mark = (*mark).max(*k);
    }
    let marks: Vec<(i64, i64, i64)> = newest
        .iter()
        .map(|(u, k)| (room_id, *u, first + k))
        .collect();
    for (_, user_id) in members::join_and_mark(conn, &marks).await? {
        if let Some(a) = newest.get(&user_id).and_then(|k| out.get_mut(k)) {
            a.joined = true;
        }
    }
    // Slow mode measures from here (authors are members by now).
    if room.slow_mode_secs > 0 {
        let authors: Vec<i64> = accepted
            .iter()
            .filter(|(_, d)| matches!(d.change, Change::Message { .. }))
            .map(|(_, d)| d.user.id)
            .collect();
        if !authors.is_empty() {
            members::note_posted(conn, room_id, &authors, now).await?;
        }
    }
    Ok(out)
}

fn reply_ref(parent: &MessageState) -> ReplyRef {
    ReplyRef {
        id: parent.id,
        seq: parent.seq,
        user: UserRef {
            id: parent.user_id,
            name: parent.author.clone(),
        },
        excerpt: crate::markdown::quote_of(&parent.body, EXCERPT_CHARS),
        deleted: false,
    }
}

/// How much of the answered message a reply quotes.
pub const EXCERPT_CHARS: usize = 140;

/// Removes a deleted message's text from every stored frame that carries
/// it: its creation, its edits, and the quotes of the replies to it (all
/// in its room: a reply answers a message of its own room). The answers of
/// this batch are redacted the same way.
async fn redact(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    message_id: i64,
    batch: &mut HashMap<i64, Appended>,
) -> Result<()> {
    let replies = messages::replies_to(conn, room_id, message_id).await?;
    let rows: Vec<(i64, i64, String)> = room_events::table
        .filter(room_events::room_id.eq(room_id))
        .filter(
            room_events::message_id
                .eq(message_id)
                .and(room_events::kind.eq_any(["message", "edited", "annotation"]))
                .or(room_events::message_id
                    .eq_any(&replies)
                    .and(room_events::kind.eq("message"))),
        )
        .select((room_events::room_id, room_events::seq, room_events::frame))
        .load(conn)
        .await?;
    rewrite(conn, rows, |frame| redact_frame(frame, message_id)).await?;
    for a in batch.values_mut() {
        redact_frame(&mut a.frame, message_id);
        a.json = a.frame.to_json();
    }
    Ok(())
}

/// Empties the labels of every stored annotation of `kind` about
/// `message_ids`, messages of the rooms `room_ids`: tags their author or
/// room took back leave nothing in replays or catch-up. (The rooms let the
/// statement read their partitions of the log only.)
pub async fn forget_annotation_labels(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    message_ids: &[i64],
    kind: &str,
) -> Result<()> {
    if message_ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<(i64, i64, String)> = room_events::table
        .filter(room_events::room_id.eq_any(room_ids))
        .filter(room_events::message_id.eq_any(message_ids))
        .filter(room_events::kind.eq("annotation"))
        .select((room_events::room_id, room_events::seq, room_events::frame))
        .load(conn)
        .await?;
    rewrite(conn, rows, |frame| {
        if let ServerFrame::Annotation(a) = frame
            && a.kind == kind
        {
            a.labels.clear();
            a.text.clear();
        }
    })
    .await
}

/// Changes stored frames `(room, seq, json)` with `change`, writing back
/// only those it changed: what a deletion or a taken-back tag leaves in
/// replays.
async fn rewrite(
    conn: &mut AsyncPgConnection,
    rows: Vec<(i64, i64, String)>,
    change: impl Fn(&mut ServerFrame),
) -> Result<()> {
    for (room_id, seq, json) in rows {
        let mut frame = serde_json::from_str::<ServerFrame>(&json)
            .map_err(|e| Error::internal_from(format!("stored frame {seq} unreadable"), e))?;
        change(&mut frame);
        let changed = frame.to_json();
        if changed != json {
            diesel::update(room_events::table.find((room_id, seq)))
                .set(room_events::frame.eq(&changed))
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// A frame without the text of deleted message `id`.
fn redact_frame(frame: &mut ServerFrame, id: i64) {
    match frame {
        ServerFrame::Message(m) if m.id == id => m.redact(),
        ServerFrame::Message(m) => {
            if let Some(r) = m.reply_to.as_mut().filter(|r| r.id == id) {
                r.excerpt.clear();
                r.deleted = true;
            }
        }
        ServerFrame::Edited(e) if e.id == id => {
            e.body.clear();
            e.html.clear();
            e.mentions.clear();
            e.deleted = true;
        }
        ServerFrame::Annotation(a) if a.id == id => {
            a.labels.clear();
            a.text.clear();
        }
        _ => {}
    }
}

/// Up to `limit` stored frames of a room after `after_seq`, oldest first,
/// as `(seq, frame)`: replay for a client that holds everything up to
/// `after_seq`, catch-up, and the events API.
pub async fn after(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    Ok(room_events::table
        .filter(room_events::room_id.eq(room_id))
        .filter(room_events::seq.gt(after_seq))
        .order(room_events::seq.asc())
        .limit(limit)
        .select((room_events::seq, room_events::frame))
        .load(conn)
        .await?)
}

/// The messages a room's events after `after_seq` concern (new, edited,
/// deleted, reacted to), up to `limit` events, with the last seq read:
/// what a follower of the log (search) refreshes.
pub async fn touched_after(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<(Vec<i64>, Option<i64>)> {
    let touched = touched_after_many(conn, &[(room_id, after_seq, i64::MAX)], limit).await?;
    Ok(match touched.into_iter().next() {
        Some(t) => (t.ids, Some(t.last)),
        None => (Vec::new(), None),
    })
}

/// The seq of the newest event that set each of `ids`' text (its creation
/// or its last edit), messages of the rooms `room_ids`: which text a
/// follower's derived data is of. (The rooms let the statement read their
/// partitions of the log only.)
pub async fn last_text_seqs(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
) -> Result<HashMap<i64, i64>> {
    use diesel::dsl::max;
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Option<i64>, Option<i64>)> = room_events::table
        .filter(room_events::room_id.eq_any(room_ids))
        .filter(room_events::message_id.eq_any(ids))
        .filter(room_events::kind.eq_any(["message", "edited"]))
        .group_by(room_events::message_id)
        .select((room_events::message_id, max(room_events::seq)))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, seq)| Some((id?, seq?)))
        .collect())
}

/// What one room's events after a cursor concern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched {
    pub room_id: i64,
    /// The messages whose text the events changed (new, edited, deleted),
    /// sorted, each once: a reaction concerns no follower, an annotation
    /// only one that asks for its kind ([`touched_after_many_with`]).
    pub ids: Vec<i64>,
    /// The last seq read.
    pub last: i64,
}

/// [`touched_after`] for many rooms (room, after seq, up to seq) in one
/// statement, up to `limit` events each; rooms with nothing in their range
/// are left out. A follower reads a pass's rooms with it, not a statement
/// per room, each up to where it saw the room's log end: a group of rooms
/// is as large as it reckoned, however many events came since.
pub async fn touched_after_many(
    conn: &mut AsyncPgConnection,
    from: &[(i64, i64, i64)],
    limit: i64,
) -> Result<Vec<Touched>> {
    touched_after_many_with(conn, from, limit, &[]).await
}

/// [`touched_after_many`] where annotations of `kinds` touch their message
/// too: search indexes a voice message's transcript with its text, and
/// has no use for the emotion tags.
pub async fn touched_after_many_with(
    conn: &mut AsyncPgConnection,
    from: &[(i64, i64, i64)],
    limit: i64,
    kinds: &[&str],
) -> Result<Vec<Touched>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        room_id: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seq: i64,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        message_id: Option<i64>,
    }
    if from.is_empty() {
        return Ok(Vec::new());
    }
    let rooms: Vec<i64> = from.iter().map(|f| f.0).collect();
    let after: Vec<i64> = from.iter().map(|f| f.1).collect();
    let upto: Vec<i64> = from.iter().map(|f| f.2).collect();
    let rows: Vec<Row> = Fixed::new(
        "WITH k AS (SELECT $1::text[] AS kinds) \
         SELECT e.room_id, e.seq, e.message_id \
         FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS b(room_id, after_seq, upto) \
         CROSS JOIN LATERAL (SELECT r.room_id, r.seq, \
                 CASE WHEN r.kind IN ('message', 'edited', 'deleted') THEN r.message_id \
                      WHEN r.kind = 'annotation' AND cardinality(k.kinds) > 0 THEN \
                          CASE WHEN (r.frame::jsonb ->> 'kind') = ANY(k.kinds) \
                               THEN r.message_id END \
                 END AS message_id \
             FROM room_events r, k \
             WHERE r.room_id = b.room_id AND r.seq > b.after_seq AND r.seq <= b.upto \
             ORDER BY r.seq LIMIT $5) e \
         ORDER BY e.room_id, e.seq",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(kinds)
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(rooms)
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(after)
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(upto)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?;
    let mut out: Vec<Touched> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(t) if t.room_id == row.room_id => t.last = row.seq,
            _ => out.push(Touched {
                room_id: row.room_id,
                ids: Vec::new(),
                last: row.seq,
            }),
        }
        if let (Some(t), Some(id)) = (out.last_mut(), row.message_id) {
            t.ids.push(id);
        }
    }
    for t in &mut out {
        t.ids.sort_unstable();
        t.ids.dedup();
    }
    Ok(out)
}

/// The acts of moderation of a room with seqs in `from..=to`, oldest
/// first, as stored frames: what a page of history shows between its
/// messages. Uses the log's primary key (room, seq).
pub async fn moderation_between(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<crate::protocol::ModerationEvent>> {
    let frames: Vec<String> = room_events::table
        .filter(room_events::room_id.eq(room_id))
        .filter(room_events::seq.between(from, to))
        .filter(room_events::kind.eq("moderation"))
        .order(room_events::seq.asc())
        .limit(500)
        .select(room_events::frame)
        .load(conn)
        .await?;
    Ok(frames
        .iter()
        .filter_map(|f| match serde_json::from_str(f) {
            Ok(ServerFrame::Moderation(m)) => Some(m),
            _ => None,
        })
        .collect())
}

/// The newest `limit` stored frames of a room after `after_seq`, oldest
/// first: a join's replay, which keeps the newest when it cannot hold all.
pub async fn newest_after(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    let mut rows: Vec<(i64, String)> = room_events::table
        .filter(room_events::room_id.eq(room_id))
        .filter(room_events::seq.gt(after_seq))
        .order(room_events::seq.desc())
        .limit(limit)
        .select((room_events::seq, room_events::frame))
        .load(conn)
        .await?;
    rows.reverse();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, reply_to: Option<i64>) -> ServerFrame {
        ServerFrame::Message(ChatMessage {
            room: 1,
            seq: id,
            id,
            user: UserRef {
                id: 1,
                name: "ann".into(),
            },
            body: "secret".into(),
            html: "<p>secret</p>".into(),
            mentions: vec![2],
            reply_to: reply_to.map(|p| ReplyRef {
                id: p,
                seq: p,
                user: UserRef {
                    id: 1,
                    name: "ann".into(),
                },
                excerpt: "secret".into(),
                deleted: false,
            }),
            sent_at: Utc::now(),
            nonce: "n".into(),
            edited_at: None,
            deleted: false,
            reactions: vec![],
            annotations: vec![],
            attachments: vec![],
        })
    }

    #[test]
    fn redaction_removes_the_text_of_the_deleted_message_only() {
        let mut own = message(7, None);
        redact_frame(&mut own, 7);
        assert!(!own.to_json().contains("secret"), "{}", own.to_json());
        let mut reply = message(8, Some(7));
        redact_frame(&mut reply, 7);
        let json = reply.to_json();
        assert_eq!(json.matches("secret").count(), 2, "{json}");
        assert!(json.contains(r#""deleted":true"#), "{json}");
        let mut other = message(9, Some(3));
        let before = other.to_json();
        redact_frame(&mut other, 7);
        assert_eq!(other.to_json(), before);
    }

    #[test]
    fn the_nonce_key_is_recognised_by_any_of_its_copies_names() {
        for name in [
            "room_events_room_user_nonce_key",
            "room_events_p0_room_id_user_id_nonce_key",
            "room_events_p15_room_id_user_id_nonce_key",
            "room_events_room_user_nonce_key_102008",
            "room_events_p3_room_id_user_id_nonce_key_102041",
        ] {
            assert!(is_nonce_key(name), "{name}");
        }
        for name in [
            "room_events_pkey",
            "room_events_p3_pkey",
            "room_events_p_room_id_user_id_nonce_key",
            "room_events_px_room_id_user_id_nonce_key",
            "rooms_public_name_lower_key",
            "room_events_room_user_nonce_key_x",
        ] {
            assert!(!is_nonce_key(name), "{name}");
        }
    }
}
