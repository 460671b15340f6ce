//! The `messages` table, and the one path by which a message is stored: the
//! next room seq and the insert in one transaction, idempotent per nonce.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::domain::{MessageBody, Nonce};
use crate::error::{Error, Result};
use crate::schema::{messages, users};

/// A message as stored.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub body: String,
    pub nonce: String,
    pub sent_at: DateTime<Utc>,
}

/// A message with its author's name, as every reader sees it.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub message: Message,
    pub author: String,
}

/// The result of a send: the stored message and whether this call stored it
/// (false when the nonce was already used and the earlier message is returned).
#[derive(Debug, Clone)]
pub struct Stored {
    pub view: MessageView,
    pub created: bool,
}

#[derive(Insertable)]
#[diesel(table_name = messages)]
struct NewMessage<'a> {
    room_id: i64,
    seq: i64,
    user_id: i64,
    body: &'a str,
    nonce: &'a str,
}

/// One message to store: who sends what, under which nonce.
#[derive(Debug, Clone)]
pub struct Draft {
    pub user_id: i64,
    pub username: String,
    pub body: MessageBody,
    pub nonce: Nonce,
}

/// Stores one message with the room's next seq; a nonce this user already
/// used in this room stores nothing and returns the message stored then.
pub async fn store(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    username: &str,
    body: &MessageBody,
    nonce: &Nonce,
) -> Result<Stored> {
    let draft = Draft {
        user_id,
        username: username.to_owned(),
        body: body.clone(),
        nonce: nonce.clone(),
    };
    let mut stored = store_batch(conn, room_id, std::slice::from_ref(&draft)).await?;
    stored
        .pop()
        .ok_or_else(|| Error::Internal("a batch of one stored nothing".into()))
}

/// Stores several messages of one room in one transaction (group commit):
/// each new one takes the room's next seq, in the order given; one whose
/// (user, nonce) was stored before, or comes earlier in the batch, stores
/// nothing and answers that message. The senders' read marks move to their
/// newest message. Returns one `Stored` per draft, in order.
///
/// The seqs are taken by one `UPDATE rooms ... RETURNING last_seq`, whose row
/// lock orders concurrent writers; a nonce stored concurrently by another
/// writer aborts the transaction (no seq is lost) and the batch is retried.
pub async fn store_batch(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    drafts: &[Draft],
) -> Result<Vec<Stored>> {
    let mut attempt = 0;
    loop {
        match conn
            .transaction::<_, Error, _>(async |conn| store_batch_once(conn, room_id, drafts).await)
            .await
        {
            Err(Error::Database(e))
                if super::unique_violation(&e) == Some("messages_room_user_nonce_key")
                    && attempt < 3 =>
            {
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// What becomes of one draft of a batch.
enum Fate {
    /// Stored before this batch.
    Existing(MessageView),
    /// The same (user, nonce) as an earlier draft of this batch.
    SameAs(usize),
    /// New: the k-th new message of the batch.
    New(i64),
}

async fn store_batch_once(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    drafts: &[Draft],
) -> Result<Vec<Stored>> {
    let users: Vec<i64> = drafts.iter().map(|d| d.user_id).collect();
    let nonces: Vec<&str> = drafts.iter().map(|d| d.nonce.as_str()).collect();
    let mut existing: HashMap<(i64, String), MessageView> = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .filter(messages::user_id.eq_any(&users))
        .filter(messages::nonce.eq_any(&nonces))
        .select((Message::as_select(), users::username))
        .load::<(Message, String)>(conn)
        .await?
        .into_iter()
        .map(|(message, author)| {
            (
                (message.user_id, message.nonce.clone()),
                MessageView { message, author },
            )
        })
        .collect();
    let mut first_of: HashMap<(i64, &str), usize> = HashMap::new();
    let mut fates = Vec::with_capacity(drafts.len());
    let mut fresh = 0i64;
    for (i, d) in drafts.iter().enumerate() {
        let key = (d.user_id, d.nonce.as_str().to_owned());
        if let Some(view) = existing.remove(&key) {
            first_of.insert((d.user_id, d.nonce.as_str()), i);
            fates.push(Fate::Existing(view));
        } else if let Some(&earlier) = first_of.get(&(d.user_id, d.nonce.as_str())) {
            fates.push(Fate::SameAs(earlier));
        } else {
            first_of.insert((d.user_id, d.nonce.as_str()), i);
            fates.push(Fate::New(fresh));
            fresh += 1;
        }
    }
    let mut inserted: HashMap<i64, Message> = HashMap::new();
    if fresh > 0 {
        let last = super::rooms::take_seqs(conn, room_id, fresh)
            .await?
            .ok_or(Error::NotFound("room"))?;
        let first = last - fresh + 1;
        let rows: Vec<NewMessage<'_>> = drafts
            .iter()
            .zip(&fates)
            .filter_map(|(d, fate)| match fate {
                Fate::New(k) => Some(NewMessage {
                    room_id,
                    seq: first + k,
                    user_id: d.user_id,
                    body: d.body.as_str(),
                    nonce: d.nonce.as_str(),
                }),
                _ => None,
            })
            .collect();
        let stored: Vec<Message> = diesel::insert_into(messages::table)
            .values(&rows)
            .returning(Message::as_returning())
            .get_results(conn)
            .await?;
        let mut newest: HashMap<i64, i64> = HashMap::new();
        for m in &stored {
            let mark = newest.entry(m.user_id).or_insert(m.seq);
            *mark = (*mark).max(m.seq);
        }
        for (user_id, seq) in newest {
            super::members::mark_read(conn, room_id, user_id, seq).await?;
        }
        inserted = stored.into_iter().map(|m| (m.seq - first, m)).collect();
    }
    let mut out: Vec<Stored> = Vec::with_capacity(drafts.len());
    for (d, fate) in drafts.iter().zip(fates) {
        let stored = match fate {
            Fate::Existing(view) => Stored {
                view,
                created: false,
            },
            Fate::SameAs(earlier) => Stored {
                view: out[earlier].view.clone(),
                created: false,
            },
            Fate::New(k) => {
                let message = inserted
                    .remove(&k)
                    .ok_or_else(|| Error::Internal("an inserted row is missing".into()))?;
                Stored {
                    view: MessageView {
                        message,
                        author: d.username.clone(),
                    },
                    created: true,
                }
            }
        };
        out.push(stored);
    }
    Ok(out)
}

/// Up to `limit` messages of a room older than `before_seq` (or the newest),
/// newest first: the history pages of the website and API.
pub async fn page_before(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageView>> {
    let mut q = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .order(messages::seq.desc())
        .limit(limit)
        .select((Message::as_select(), users::username))
        .into_boxed();
    if let Some(before) = before_seq {
        q = q.filter(messages::seq.lt(before));
    }
    Ok(q.load(conn)
        .await?
        .into_iter()
        .map(|(message, author)| MessageView { message, author })
        .collect())
}

/// Up to `limit` messages of a room after `after_seq`, oldest first: replay
/// for a client that holds everything up to `after_seq`.
pub async fn after(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<MessageView>> {
    Ok(messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .filter(messages::seq.gt(after_seq))
        .order(messages::seq.asc())
        .limit(limit)
        .select((Message::as_select(), users::username))
        .load(conn)
        .await?
        .into_iter()
        .map(|(message, author)| MessageView { message, author })
        .collect())
}
