//! Appending the server's annotations (emotion tags, transcripts): the
//! followers that make them share one way into the room's log.

use std::collections::BTreeMap;

use common::error::Result;
use common::store::events::{self, EventDraft, Policy};
use diesel_async::AsyncPgConnection;

/// An event appended and to publish once its transaction commits:
/// (room, seq, frame).
pub type Appended = (i64, i64, String);

/// Appends the drafts of each room through the log's write path (one
/// savepoint per room inside the caller's transaction). A draft refused
/// (its message deleted meanwhile) is skipped: there is nothing to tag.
pub async fn append(
    conn: &mut AsyncPgConnection,
    by_room: BTreeMap<i64, Vec<EventDraft>>,
) -> Result<Vec<Appended>> {
    if by_room.is_empty() {
        return Ok(Vec::new());
    }
    let batches: Vec<(i64, Vec<EventDraft>)> = by_room.into_iter().collect();
    let answers = events::append_rooms(conn, &batches, &Policy::default()).await?;
    let mut out = Vec::new();
    for ((room, _), answer) in batches.iter().zip(answers) {
        let Ok(appended) = answer else {
            // The room is gone: so are its messages.
            continue;
        };
        out.extend(
            appended
                .into_iter()
                .flatten()
                .filter(|a| a.created)
                .map(|a| (*room, a.seq, a.json)),
        );
    }
    Ok(out)
}
