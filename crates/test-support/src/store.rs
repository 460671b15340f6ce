//! Builders for tests that write through the store: people, rooms and the
//! drafts of room events.

use common::Error;
use common::access::Visibility;
use common::domain::{Email, MessageBody, Nonce, RoomName, Topic, Username};
use common::emoji::Emoji;
use common::protocol::{ServerFrame, UserRef};
use common::store::events::{self, Appended, Change, EventDraft, Policy};
use common::store::{rooms, users};

pub async fn user(conn: &mut diesel_async::AsyncPgConnection, name: &str) -> users::User {
    let email = format!("{name}@example.com");
    users::insert(
        conn,
        &Username::parse(name).unwrap(),
        &Email::parse(&email).unwrap(),
        "hash",
    )
    .await
    .unwrap()
}

/// A public room owned by `owner`.
pub async fn new_room(
    conn: &mut diesel_async::AsyncPgConnection,
    name: &str,
    owner: &users::User,
) -> i64 {
    room_with(conn, name, owner, Visibility::Public).await
}

/// A private room owned by `owner` (not yet a member of it).
pub async fn private_room(
    conn: &mut diesel_async::AsyncPgConnection,
    name: &str,
    owner: &users::User,
) -> i64 {
    room_with(conn, name, owner, Visibility::Private).await
}

async fn room_with(
    conn: &mut diesel_async::AsyncPgConnection,
    name: &str,
    owner: &users::User,
    visibility: Visibility,
) -> i64 {
    rooms::insert(
        conn,
        &RoomName::parse(name).unwrap(),
        &Topic::parse("").unwrap(),
        visibility,
        owner.id,
    )
    .await
    .unwrap()
    .id
}

pub fn author(u: &users::User) -> UserRef {
    UserRef {
        id: u.id,
        name: u.username.clone(),
    }
}

pub fn draft(u: &users::User, nonce: &str, change: Change) -> EventDraft {
    EventDraft {
        user: author(u),
        nonce: Nonce::parse(nonce).unwrap(),
        change,
    }
}

/// A new message, rendered as plain text (rendering is `markdown`'s job).
pub fn say(u: &users::User, body: &str, nonce: &str) -> EventDraft {
    say_to(u, body, nonce, None)
}

pub fn say_to(u: &users::User, body: &str, nonce: &str, reply_to: Option<i64>) -> EventDraft {
    draft(
        u,
        nonce,
        Change::Message {
            body: MessageBody::parse(body).unwrap(),
            html: format!("<p>{body}</p>"),
            mentions: Vec::new(),
            reply_to,
            attachments: Vec::new(),
        },
    )
}

pub fn edit(u: &users::User, id: i64, body: &str, nonce: &str) -> EventDraft {
    draft(
        u,
        nonce,
        Change::Edit {
            id,
            body: MessageBody::parse(body).unwrap(),
            html: format!("<p>{body}</p>"),
            mentions: Vec::new(),
        },
    )
}

pub fn react(u: &users::User, id: i64, emoji: &str, on: bool, nonce: &str) -> EventDraft {
    draft(
        u,
        nonce,
        Change::React {
            id,
            emoji: Emoji::parse(emoji).unwrap(),
            on,
        },
    )
}

pub async fn append_all(
    conn: &mut diesel_async::AsyncPgConnection,
    room: i64,
    drafts: &[EventDraft],
) -> Vec<Result<Appended, Error>> {
    events::append_batch(conn, room, drafts, &Policy::default())
        .await
        .unwrap()
}

pub async fn append(
    conn: &mut diesel_async::AsyncPgConnection,
    room: i64,
    drafts: &[EventDraft],
) -> Vec<Appended> {
    append_all(conn, room, drafts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

pub fn message_id(a: &Appended) -> i64 {
    match &a.frame {
        ServerFrame::Message(m) => m.id,
        other => panic!("not a message: {other:?}"),
    }
}

/// The room of message `id`: what the store's message look-ups take with
/// the id (a test that kept only the id asks here).
pub async fn room_of(conn: &mut diesel_async::AsyncPgConnection, id: i64) -> i64 {
    use common::schema::messages;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    messages::table
        .filter(messages::id.eq(id))
        .select(messages::room_id)
        .first(conn)
        .await
        .unwrap_or_else(|e| panic!("no message {id}: {e}"))
}

pub fn code(r: &Result<Appended, Error>) -> String {
    match r {
        Ok(a) => format!("ok {}", a.seq),
        Err(Error::NotFound(what)) => format!("{what}_not_found"),
        Err(Error::Forbidden(_)) => "forbidden".into(),
        Err(Error::Denied { code, .. }) => (*code).into(),
        Err(Error::Conflict { code, .. } | Error::Invalid { code, .. }) => (*code).into(),
        Err(e) => format!("{e:?}"),
    }
}

/// The assistant's account, which appends the server's annotations.
pub async fn bot(conn: &mut diesel_async::AsyncPgConnection) -> UserRef {
    let bot = users::bot(conn).await.unwrap();
    UserRef {
        id: bot.id,
        name: bot.username,
    }
}

/// An emotion tag of message `id` as the worker appends it: `bot`'s
/// annotation with `labels` (strongest first) made by `model`.
pub fn emotion_tag(
    bot: &UserRef,
    id: i64,
    nonce: &str,
    labels: &[(&str, f32)],
    model: &str,
) -> EventDraft {
    EventDraft {
        user: bot.clone(),
        nonce: Nonce::parse(nonce).unwrap(),
        change: Change::Annotate {
            id,
            kind: common::store::annotations::EMOTION.into(),
            labels: labels
                .iter()
                .map(|(l, s)| common::protocol::ScoredLabel {
                    label: (*l).into(),
                    score: common::protocol::Score::new(*s),
                })
                .collect(),
            model: model.into(),
            text: String::new(),
        },
    }
}
