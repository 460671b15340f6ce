//! The common case of the log, written in bulk: new messages that answer
//! nothing, in rooms whose locks the transaction holds. However many rooms
//! and messages a batch holds, it costs the same few statements (one per
//! table, each over arrays), where the general path costs several per
//! room. Anything else (edits, deletions, reactions, replies, a nonce used
//! before, a room that needs its authors' roles) goes the general way.

use std::collections::{HashMap, HashSet};

use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{Appended, Change, EventDraft, NewEvent};
use crate::access::{self, RoomFacts};
use crate::domain::MessageBody;
use crate::error::{Error, Result};
use crate::protocol::{ChatMessage, ServerFrame};
use crate::store::Fixed;
use crate::store::messages::{self, NewMessage};
use crate::store::{members, room_seqs};

/// One room's part of a bulk write: its drafts and where its seqs start.
pub(super) struct Room<'a> {
    pub id: i64,
    /// The room's last seq, read under its lock.
    pub last_seq: i64,
    pub drafts: &'a [EventDraft],
}

/// Whether a room's drafts can be written in bulk: all new messages that
/// answer nothing, each (user, nonce) once, in a room that lets anyone
/// post without looking up their standing (public, no slow mode, no mute
/// or ban in force).
pub(super) fn eligible(room: &RoomFacts, drafts: &[EventDraft]) -> bool {
    if access::posting_needs_standing(room, chrono::Utc::now()) {
        return false;
    }
    let mut keys = HashSet::with_capacity(drafts.len());
    drafts.iter().all(|d| {
        matches!(&d.change, Change::Message { reply_to: None, attachments, .. } if attachments.is_empty())
            && keys.insert((d.user.id, d.nonce.as_str()))
    })
}

/// The rooms among `batches[i]` (for each `i` of `chosen`) in which a
/// draft's (user, nonce) is stored already: those answer the stored event,
/// which the general path does. One statement.
pub(super) async fn rooms_with_stored_nonces(
    conn: &mut AsyncPgConnection,
    chosen: &[usize],
    batches: &[(i64, Vec<EventDraft>)],
) -> Result<HashSet<i64>> {
    #[derive(diesel::QueryableByName)]
    struct Hit {
        #[diesel(sql_type = BigInt)]
        room_id: i64,
    }
    let keys: Vec<(i64, i64, &str)> = chosen
        .iter()
        .flat_map(|&i| {
            let (room, drafts) = &batches[i];
            drafts
                .iter()
                .map(move |d| (*room, d.user.id, d.nonce.as_str()))
        })
        .collect();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let rooms: Vec<i64> = keys.iter().map(|k| k.0).collect();
    // The rooms again, as a condition on the partition key: whatever way
    // the join is planned, only the rooms' partitions of the log are read.
    let hits: Vec<Hit> = Fixed::new(
        "SELECT DISTINCT e.room_id FROM room_events e \
         JOIN unnest($1::bigint[], $2::bigint[], $3::text[]) AS k(room_id, user_id, nonce) \
           ON e.room_id = k.room_id AND e.user_id = k.user_id AND e.nonce = k.nonce \
         WHERE e.room_id = ANY($4::bigint[])",
    )
    .bind::<Array<BigInt>, _>(&rooms)
    .bind::<Array<BigInt>, _>(keys.iter().map(|k| k.1).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(keys.iter().map(|k| k.2).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(&rooms)
    .load(conn)
    .await?;
    Ok(hits.into_iter().map(|h| h.room_id).collect())
}

/// Appends every room's new messages: their rows, their events, the rooms'
/// seqs and counts, the authors' memberships and read marks, one statement
/// each. Returns each room's events in the order of its drafts.
pub(super) async fn append(
    conn: &mut AsyncPgConnection,
    rooms: &[Room<'_>],
) -> Result<Vec<Vec<Appended>>> {
    if rooms.is_empty() {
        return Ok(Vec::new());
    }
    let new_messages: Vec<NewMessage<'_>> = rooms
        .iter()
        .flat_map(|room| {
            room.drafts
                .iter()
                .zip(room.last_seq + 1..)
                .filter_map(|(d, seq)| {
                    let (body, html, mentions) = message_parts(d)?;
                    Some(NewMessage {
                        room_id: room.id,
                        seq,
                        user_id: d.user.id,
                        body: body.as_str(),
                        html,
                        mentions: mentions.iter().copied().map(Some).collect(),
                        reply_to_id: None,
                        nonce: d.nonce.as_str(),
                    })
                })
        })
        .collect();
    let created: HashMap<(i64, i64), (i64, chrono::DateTime<chrono::Utc>)> =
        messages::insert(conn, &new_messages)
            .await?
            .into_iter()
            .map(|(id, room_id, seq, sent_at)| ((room_id, seq), (id, sent_at)))
            .collect();
    let mut answers = Vec::with_capacity(rooms.len());
    let mut rows = Vec::with_capacity(new_messages.len());
    let mut advanced = Vec::with_capacity(rooms.len());
    let mut newest: HashMap<(i64, i64), i64> = HashMap::new();
    for room in rooms {
        let mut events = Vec::with_capacity(room.drafts.len());
        for (d, seq) in room.drafts.iter().zip(room.last_seq + 1..) {
            let (body, html, mentions) = message_parts(d).ok_or_else(|| {
                Error::internal("a bulk write holds a change that is not a message")
            })?;
            let (id, sent_at) = created
                .get(&(room.id, seq))
                .copied()
                .ok_or_else(|| Error::internal("an inserted message is missing"))?;
            let frame = ServerFrame::Message(ChatMessage {
                room: room.id,
                seq,
                id,
                user: d.user.clone(),
                body: body.as_str().to_owned(),
                html: html.to_owned(),
                mentions: mentions.to_vec(),
                reply_to: None,
                sent_at,
                nonce: d.nonce.as_str().to_owned(),
                edited_at: None,
                deleted: false,
                reactions: Vec::new(),
                annotations: Vec::new(),
                attachments: Vec::new(),
            });
            let json = frame.to_json();
            rows.push(NewEvent {
                room_id: room.id,
                seq,
                kind: "message",
                message_id: Some(id),
                user_id: d.user.id,
                nonce: d.nonce.as_str(),
                frame: json.clone(),
            });
            newest.insert((room.id, d.user.id), seq);
            events.push(Appended {
                seq,
                frame,
                json,
                created: true,
                joined: false,
            });
        }
        let added = events.len() as i64;
        advanced.push((room.id, room.last_seq + added, added));
        answers.push(events);
    }
    super::insert(conn, &rows).await?;
    room_seqs::advance_many(conn, &advanced).await?;
    let marks: Vec<(i64, i64, i64)> = newest
        .iter()
        .map(|(&(room, user), &seq)| (room, user, seq))
        .collect();
    for (room_id, user_id) in members::join_and_mark(conn, &marks).await? {
        let Some(&seq) = newest.get(&(room_id, user_id)) else {
            continue;
        };
        if let Some((i, room)) = rooms.iter().enumerate().find(|(_, r)| r.id == room_id) {
            let k = (seq - room.last_seq - 1) as usize;
            if let Some(event) = answers[i].get_mut(k) {
                event.joined = true;
            }
        }
    }
    Ok(answers)
}

/// What a bulk write stores of a new message (body, HTML, mentions);
/// `None` for any other change.
fn message_parts(d: &EventDraft) -> Option<(&MessageBody, &str, &[i64])> {
    match &d.change {
        Change::Message {
            body,
            html,
            mentions,
            ..
        } => Some((body, html, mentions)),
        _ => None,
    }
}
