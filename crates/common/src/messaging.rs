//! The one path of every change to a room, whichever way it comes
//! (WebSocket frames, the website's forms, the JSON API): validate, check
//! the rate limit, render (Markdown, mentions), append to the room's event
//! log with the room's next seq (durable before anyone sees it, in batches:
//! see `writer`), then publish the stored frame to the room's channel for
//! every chat instance. Read marks take the same care and tell every
//! connection of their user.

use crate::redis_client::RedisConn;

use crate::config::CommonConfig;
use crate::db::DbPool;
use crate::domain::{MessageBody, Nonce};
use crate::emoji::Emoji;
use crate::error::{Code, Entity, Error, Result};
use crate::fanout::{self, Announcer};
use crate::guard;
use crate::markdown;
use crate::protocol::{ServerFrame, UserRef};
use crate::ratelimit::{Limit, RateLimiter, Refund};
use crate::store::events::{self, Appended, Change, EventDraft, Policy};
use crate::store::{members, room_seqs, users};
use crate::writer::{EventWriter, Queued};

/// A change to a room as a client asks for it, before any check.
#[derive(Debug, Clone, Copy)]
pub enum Ask<'a> {
    /// A new message, optionally answering `reply_to` (a message of the
    /// same room).
    Send {
        body: &'a str,
        reply_to: Option<i64>,
        /// Uploads (their ids) sent with it; with any, the text may be
        /// empty.
        attachments: &'a [String],
    },
    /// A new text for one's own message (within the edit window).
    Edit { id: i64, body: &'a str },
    /// Deletes a message for good (its author, the room's owner or a
    /// moderator).
    Delete { id: i64 },
    /// Adds (`on`) or takes back the user's `emoji` reaction to a message.
    React { id: i64, emoji: &'a str, on: bool },
}

/// Everything a change to a room needs to reach: the log's writer, the
/// rate limits, the database (mentions, read marks) and the broker. Built
/// once per process.
#[derive(Clone)]
pub struct Messenger {
    writer: EventWriter,
    limiter: RateLimiter,
    pool: DbPool,
    redis: RedisConn,
    redis_prefix: String,
    send_limit: Limit,
}

impl Messenger {
    /// Starts the event writer and wires the rest, with the rules and
    /// limits `config` sets.
    pub fn start(
        pool: DbPool,
        limiter: RateLimiter,
        redis: RedisConn,
        config: &CommonConfig,
    ) -> Self {
        let policy = Policy::from_config(config);
        Self {
            writer: EventWriter::start(
                pool.clone(),
                config.writer,
                policy,
                Some(Announcer::new(redis.clone(), config.redis_prefix.clone())),
            ),
            limiter,
            pool,
            redis,
            redis_prefix: config.redis_prefix.clone(),
            send_limit: config.send_limit,
        }
    }

    /// Checks a change and queues it for the room's log: the answer comes
    /// from the returned [`Queued`] once stored. Changes one caller queues
    /// one after another are stored in that order, so a connection may
    /// queue its next change before the last one is stored. Bad input and
    /// an exceeded rate limit are refused here. A resend of a stored change
    /// (the same nonce) is never refused for the rate limit, and a change
    /// that stores nothing new, or could not be stored, gives its count back.
    pub async fn queue(
        &self,
        user: &UserRef,
        room_id: i64,
        nonce: &str,
        ask: Ask<'_>,
    ) -> Result<Queued> {
        let mut change = match ask {
            Ask::Send {
                body,
                reply_to,
                attachments,
            } => Change::Message {
                body: if attachments.is_empty() {
                    MessageBody::parse(body)?
                } else {
                    MessageBody::parse_beside_files(body)?
                },
                html: String::new(),
                mentions: Vec::new(),
                reply_to,
                attachments: checked_attachments(attachments)?,
            },
            Ask::Edit { id, body } => Change::Edit {
                id,
                body: MessageBody::parse(body)?,
                html: String::new(),
                mentions: Vec::new(),
            },
            Ask::Delete { id } => Change::Delete { id },
            Ask::React { id, emoji, on } => Change::React {
                id,
                emoji: Emoji::parse(emoji)?,
                on,
            },
        };
        let nonce = Nonce::parse(nonce)?;
        let refund = match self.limit(user).await {
            Ok(refund) => Some(refund),
            // A resend of a stored change is answered, never limited nor
            // counted: the writer answers it with the stored event.
            Err(limited @ Error::RateLimited { .. }) => {
                let mut conn = self.pool.get().await?;
                if !events::nonce_stored(&mut conn, room_id, user.id, &nonce).await? {
                    return Err(limited);
                }
                let subject = user.id.to_string();
                self.limiter
                    .refund_of(&self.send_limit, &subject)
                    .apply()
                    .await;
                None
            }
            Err(e) => return Err(e),
        };
        if let Change::Message {
            body,
            html,
            mentions,
            ..
        }
        | Change::Edit {
            body,
            html,
            mentions,
            ..
        } = &mut change
        {
            (*html, *mentions) = self.render(body).await?;
        }
        let draft = EventDraft {
            user: user.clone(),
            nonce,
            change,
        };
        let queued = self.writer.queue(room_id, draft).await?;
        Ok(match refund {
            Some(refund) => queued.refunding(refund),
            None => queued,
        })
    }

    /// Carries out a change and returns the stored event (or the one stored
    /// before under the same nonce).
    pub async fn apply(
        &self,
        user: &UserRef,
        room_id: i64,
        nonce: &str,
        ask: Ask<'_>,
    ) -> Result<Appended> {
        self.queue(user, room_id, nonce, ask).await?.outcome().await
    }

    /// Stores the assistant's answer to a question: a message of `bot`
    /// replying to `question`, whose Markdown is rendered without looking
    /// up mentions (an answer never pings anyone, whatever its text says).
    /// The send limit is the askers' (the assistant's own limits), not the
    /// bot's; the writer's checks apply as to anyone. The same `nonce`
    /// again returns the answer stored the first time.
    pub async fn answer(
        &self,
        bot: &UserRef,
        room_id: i64,
        nonce: &str,
        body: &str,
        question: i64,
    ) -> Result<Appended> {
        let body = MessageBody::parse(body)?;
        let rendered = markdown::render(body.as_str(), &Default::default());
        let draft = EventDraft {
            user: bot.clone(),
            nonce: Nonce::parse(nonce)?,
            change: Change::Message {
                body,
                html: rendered.html,
                mentions: Vec::new(),
                reply_to: Some(question),
                attachments: Vec::new(),
            },
        };
        self.writer.queue(room_id, draft).await?.outcome().await
    }

    /// Carries out an act of moderation (checked by the writer under the
    /// room's lock, like every change) and returns its stored event. Counts
    /// against the send limit like any change.
    pub async fn moderate(
        &self,
        user: &UserRef,
        room_id: i64,
        nonce: &str,
        act: events::Moderation,
    ) -> Result<Appended> {
        let nonce = Nonce::parse(nonce)?;
        let refund = self.limit(user).await?;
        let draft = EventDraft {
            user: user.clone(),
            nonce,
            change: Change::Moderate(act),
        };
        self.writer
            .queue(room_id, draft)
            .await?
            .refunding(refund)
            .outcome()
            .await
    }

    /// Moves the user's read mark of a room forward to `seq`, and tells
    /// every connection of theirs the room's new unread state. A mark
    /// beyond the room's last seq, or behind the current one, is refused.
    pub async fn read(&self, user_id: i64, room_id: i64, seq: i64) -> Result<members::Unread> {
        let mut conn = self.pool.get().await?;
        guard::readable(&mut conn, user_id, room_id).await?;
        let last_seq = room_seqs::last_seqs(&mut conn, &[room_id])
            .await?
            .first()
            .map(|(_, last)| *last)
            .ok_or(Error::NotFound(Entity::Room))?;
        if !(0..=last_seq).contains(&seq) {
            return Err(Error::invalid(
                "seq",
                Code::BadReadMark,
                format!("a read mark must be between 0 and the room's last seq ({last_seq})"),
            ));
        }
        let Some(mark) = members::mark_read(&mut conn, room_id, user_id, seq).await? else {
            return Err(Error::Forbidden("join the room to keep a read mark in it"));
        };
        if mark > seq {
            return Err(Error::conflict(
                "seq",
                Code::ReadMarkBehind,
                format!("the read mark is already at {mark}; it only moves forward"),
            ));
        }
        let state = members::unread(&mut conn, user_id, Some(&[room_id]))
            .await?
            .pop()
            .ok_or(Error::NotFound(Entity::Room))?;
        drop(conn);
        self.announce_unread(user_id, &state).await;
        Ok(state)
    }

    /// Tells every connection of `user_id` a room's unread state.
    async fn announce_unread(&self, user_id: i64, state: &members::Unread) {
        let frame = unread_frame(state).to_json();
        if let Err(e) =
            fanout::publish_to_user(&self.redis, &self.redis_prefix, user_id, &frame).await
        {
            tracing::warn!(error = %e, user.id = user_id, "could not announce a read mark");
        }
    }

    async fn limit(&self, user: &UserRef) -> Result<Refund> {
        self.limiter
            .hit_refundable(&self.send_limit, &user.id.to_string())
            .await
    }

    /// The body's HTML and the ids of the existing users it mentions.
    async fn render(&self, body: &MessageBody) -> Result<(String, Vec<i64>)> {
        let names = markdown::mention_candidates(body.as_str());
        let known = if names.is_empty() {
            Default::default()
        } else {
            let mut conn = self.pool.get().await?;
            users::by_names(&mut conn, &names).await?
        };
        let rendered = markdown::render(body.as_str(), &known);
        Ok((rendered.html, rendered.mentions))
    }

    /// Tells every chat instance that `user_id` joined (`member`) or left a
    /// room, so their open connections follow its unread state (or stop).
    /// Best effort: a reconnect reads the memberships anew.
    pub async fn announce_membership(&self, user_id: i64, room_id: i64, member: bool) {
        if let Err(e) =
            fanout::publish_membership(&self.redis, &self.redis_prefix, user_id, room_id, member)
                .await
        {
            tracing::warn!(error = %e, room.id = room_id, "could not announce a membership change");
        }
    }
}

/// The `unread` frame of a member's room state.
pub fn unread_frame(state: &members::Unread) -> ServerFrame {
    ServerFrame::Unread {
        room: state.room_id,
        last_seq: state.last_seq,
        read_seq: state.read_seq,
        unread: state.unread,
        mentions: state.mentions,
    }
}

/// The most files one message sends: what `UPLOAD_MAX_FILES` may be at
/// most, and what a send naming more is refused for.
pub const MAX_ATTACHMENTS: usize = 20;

/// A send's upload ids, checked for shape (the writer checks they are the
/// author's pending uploads in the room).
fn checked_attachments(ids: &[String]) -> Result<Vec<String>> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(Error::invalid(
            "attachments",
            Code::TooManyFiles,
            format!("a message carries at most {MAX_ATTACHMENTS} files"),
        ));
    }
    ids.iter()
        .map(|id| {
            if (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                Ok(id.clone())
            } else {
                Err(Error::invalid(
                    "attachments",
                    Code::AttachmentNotFound,
                    "an attachment id is not one the server gave out",
                ))
            }
        })
        .collect()
}
