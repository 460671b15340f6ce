//! The server's annotations written in bulk: the worker's emotion tags of a
//! pass, in rooms whose locks the transaction holds. Like new messages
//! (`plain`), a batch costs the same few statements however many rooms
//! and tags it holds, where the general path costs about eight statements
//! a tag and holds each room's lock the while: the send path waits on
//! those locks. A nonce used before goes the general way.

use std::collections::{HashMap, HashSet};

use diesel_async::AsyncPgConnection;

use super::plain::Room;
use super::{Appended, Change, EventDraft, NewEvent};
use crate::error::{Entity, Error, Result};
use crate::protocol::{Annotation, ServerFrame};
use crate::store::annotations::{self, NewAnnotation};
use crate::store::messages::{self, MessageState};
use crate::store::room_seqs;

/// Whether a room's drafts can be written in bulk: annotations only, each
/// (user, nonce) once. Annotations are the server's: no access rule and
/// no membership applies to them.
pub(super) fn eligible(drafts: &[EventDraft]) -> bool {
    let mut keys = HashSet::with_capacity(drafts.len());
    !drafts.is_empty()
        && drafts.iter().all(|d| {
            matches!(d.change, Change::Annotate { .. })
                && keys.insert((d.user.id, d.nonce.as_str()))
        })
}

/// Appends every room's annotations: their events, the rooms' seqs and the
/// annotation rows, one statement each. A tag of a message that is gone
/// (deleted since, or not in its room) is refused and takes no seq.
/// Returns each room's answers in the order of its drafts.
pub(super) async fn append(
    conn: &mut AsyncPgConnection,
    rooms: &[Room<'_>],
) -> Result<Vec<Vec<Result<Appended>>>> {
    let targets: Vec<i64> = rooms
        .iter()
        .flat_map(|r| r.drafts.iter().filter_map(|d| d.change.target()))
        .collect();
    let room_ids: Vec<i64> = rooms.iter().map(|r| r.id).collect();
    let states: HashMap<i64, MessageState> = messages::states(conn, &room_ids, &targets)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let mut answers = Vec::with_capacity(rooms.len());
    let mut rows = Vec::new();
    let mut tags: Vec<(i64, i64, chrono::DateTime<chrono::Utc>, Annotation)> = Vec::new();
    let mut advanced = Vec::new();
    for room in rooms {
        let mut seq = room.last_seq;
        let mut out = Vec::with_capacity(room.drafts.len());
        for d in room.drafts {
            let Change::Annotate {
                id,
                kind,
                labels,
                model,
                text,
            } = &d.change
            else {
                return Err(Error::internal("a bulk write of tags holds another change"));
            };
            let Some(about) = states
                .get(id)
                .filter(|m| m.room_id == room.id && m.deleted_at.is_none())
            else {
                out.push(Err(Error::NotFound(Entity::Message)));
                continue;
            };
            seq += 1;
            let annotation = Annotation {
                room: room.id,
                seq,
                id: *id,
                kind: kind.clone(),
                labels: labels.clone(),
                model: model.clone(),
                text: text.clone(),
            };
            tags.push((about.user_id, room.id, about.sent_at, annotation.clone()));
            let frame = ServerFrame::Annotation(annotation);
            let json = frame.to_json();
            rows.push(NewEvent {
                room_id: room.id,
                seq,
                kind: "annotation",
                message_id: Some(*id),
                user_id: d.user.id,
                nonce: d.nonce.as_str(),
                frame: json.clone(),
            });
            out.push(Ok(Appended {
                seq,
                frame,
                json,
                created: true,
                joined: false,
            }));
        }
        if seq > room.last_seq {
            advanced.push((room.id, seq, 0));
        }
        answers.push(out);
    }
    super::insert(conn, &rows).await?;
    if !advanced.is_empty() {
        room_seqs::advance_many(conn, &advanced).await?;
    }
    let new: Vec<NewAnnotation<'_>> = tags
        .iter()
        .map(|(user_id, room_id, sent_at, annotation)| NewAnnotation {
            message_id: annotation.id,
            room_id: *room_id,
            user_id: *user_id,
            sent_at: *sent_at,
            annotation,
        })
        .collect();
    annotations::put_many(conn, &new).await?;
    Ok(answers)
}
