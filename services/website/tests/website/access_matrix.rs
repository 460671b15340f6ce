//! The access matrix of http.md "People and rooms": every API operation
//! and every page that names a room, for every standing (signed out,
//! non-member, invited, member, muted, banned, moderator, owner; in a DM:
//! signed out, non-member, member, and the member the other person
//! blocked; in an assistant chat: signed out, someone else, its owner),
//! in a public room, a private room, a DM and an assistant chat. Each cell is the
//! status and `error.code` the contract gives; a room one may not see
//! answers byte for byte like a room that does not exist. The table is
//! data: the test fails on an operation of the OpenAPI document or a room
//! route of the pages that it does not cover.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::access::{Role, Visibility};
use common::auth::keys::SigningKeyMaterial;
use common::auth::token::TokenIssuer;
use common::domain::{Email, MessageBody, Nonce, Reason, RoomName, Topic, Username};
use common::protocol::{ServerFrame, UserRef};
use common::store::events::{self, Change, EventDraft, Moderation, Policy};
use common::store::{blocks, invites, members, rooms, sessions, users};
use futures_util::StreamExt;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, csrf_in};

/// The kinds of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Public,
    Private,
    Dm,
    /// An assistant chat: its owner and the bot.
    Chat,
}

const KINDS: [Kind; 4] = [Kind::Public, Kind::Private, Kind::Dm, Kind::Chat];

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    SignedOut,
    NonMember,
    /// Invited by name, not yet accepted.
    Invited,
    Member,
    Muted,
    Banned,
    Moderator,
    Owner,
    /// A member of a DM of two whose other person blocked them.
    Blocked,
}

/// The columns of a room's row.
const ROOM_COLUMNS: [Who; 8] = [
    Who::SignedOut,
    Who::NonMember,
    Who::Invited,
    Who::Member,
    Who::Muted,
    Who::Banned,
    Who::Moderator,
    Who::Owner,
];

/// The columns of a DM's row.
const DM_COLUMNS: [Who; 4] = [Who::SignedOut, Who::NonMember, Who::Member, Who::Blocked];

/// The columns of an assistant chat's row.
const CHAT_COLUMNS: [Who; 3] = [Who::SignedOut, Who::NonMember, Who::Owner];

fn columns(kind: Kind) -> &'static [Who] {
    match kind {
        Kind::Dm => &DM_COLUMNS,
        Kind::Chat => &CHAT_COLUMNS,
        _ => &ROOM_COLUMNS,
    }
}

/// A room id no room has.
const MISSING: i64 = 987_654_321;

// ---------------------------------------------------------------- worlds

struct Person {
    id: i64,
    name: String,
    token: String,
}

/// One room of a kind with a person in every standing, a message, a
/// pending invitation, and a member to act on.
struct World {
    room: i64,
    /// A public room (visibility changes flip it).
    public: bool,
    /// The owner's message (in a DM: the member's).
    message: i64,
    last_seq: i64,
    /// The pending invitation by name (rooms; 0 in a DM).
    invite: i64,
    people: HashMap<Who, Person>,
    /// A plain member of the room (a DM: someone outside it), whom
    /// moderation acts on.
    target: Person,
    /// A person in no relation to the room, to invite.
    guest: Person,
}

struct Builder {
    app: TestApp,
    key: SigningKeyMaterial,
    worlds: AtomicUsize,
}

impl Builder {
    async fn person(&self, conn: &mut diesel_async::AsyncPgConnection, name: String) -> Person {
        let user = users::insert(
            conn,
            &Username::parse(&name).unwrap(),
            &Email::parse(&format!("{name}@example.com")).unwrap(),
            "x",
        )
        .await
        .unwrap();
        let now = chrono::Utc::now();
        let session = sessions::create(
            conn,
            user.id,
            now + chrono::Duration::days(1),
            &Default::default(),
        )
        .await
        .unwrap();
        let (token, _) = TokenIssuer::new(&self.key)
            .issue(
                user.id,
                &name,
                session.id,
                now,
                now + chrono::Duration::hours(1),
            )
            .unwrap();
        Person {
            id: user.id,
            name,
            token,
        }
    }

    /// A new world of `kind`, written through the store as the website
    /// would leave it (bans and mutes through the room's log).
    async fn world(&self, kind: Kind) -> World {
        let n = self.worlds.fetch_add(1, Ordering::SeqCst);
        let mut conn = self.app.db.connect().await;
        let mut people = HashMap::new();
        for who in columns(kind).iter().filter(|w| **w != Who::SignedOut) {
            let name = format!("w{n}_{}", format!("{who:?}").to_lowercase());
            let name: String = name.chars().take(32).collect();
            people.insert(*who, self.person(&mut conn, name).await);
        }
        let target = self.person(&mut conn, format!("w{n}_target")).await;
        let guest = self.person(&mut conn, format!("w{n}_guest")).await;
        let policy = Policy::default();
        let append = async |conn: &mut diesel_async::AsyncPgConnection,
                            room: i64,
                            who: &Person,
                            change: Change| {
            let draft = EventDraft {
                user: UserRef {
                    id: who.id,
                    name: who.name.clone(),
                },
                nonce: Nonce::parse(&uuid::Uuid::new_v4().simple().to_string()).unwrap(),
                change,
            };
            events::append_batch(conn, room, &[draft], &policy)
                .await
                .unwrap()
                .remove(0)
                .unwrap()
        };
        let text = |body: &str| Change::Message {
            body: MessageBody::parse(body).unwrap(),
            html: format!("<p>{body}</p>"),
            mentions: Vec::new(),
            reply_to: None,
            attachments: Vec::new(),
        };
        let user_ref = |p: &Person| UserRef {
            id: p.id,
            name: p.name.clone(),
        };
        let (room, author, invite) = if kind == Kind::Dm {
            let (member, blocked) = (&people[&Who::Member], &people[&Who::Blocked]);
            let room = rooms::insert_dm(&mut conn, &[member.id, blocked.id])
                .await
                .unwrap()
                .id;
            append(&mut conn, room, blocked, text("before the block")).await;
            blocks::add(&mut conn, member.id, blocked.id).await.unwrap();
            (room, Who::Member, 0)
        } else if kind == Kind::Chat {
            let bot = users::bot(&mut conn).await.unwrap();
            let room = rooms::insert_assistant_chat(
                &mut conn,
                &RoomName::parse(&format!("matrix chat {n}")).unwrap(),
                people[&Who::Owner].id,
                bot.id,
                100,
            )
            .await
            .unwrap()
            .id;
            (room, Who::Owner, 0)
        } else {
            let visibility = match kind {
                Kind::Public => Visibility::Public,
                _ => Visibility::Private,
            };
            let owner = &people[&Who::Owner];
            let room = rooms::insert(
                &mut conn,
                &RoomName::parse(&format!("matrix {n}")).unwrap(),
                &Topic::parse("who may do what").unwrap(),
                visibility,
                owner.id,
            )
            .await
            .unwrap()
            .id;
            members::add(&mut conn, room, people[&Who::Moderator].id, Role::Moderator)
                .await
                .unwrap();
            for who in [Who::Member, Who::Muted] {
                members::add(&mut conn, room, people[&who].id, Role::Member)
                    .await
                    .unwrap();
            }
            members::add(&mut conn, room, target.id, Role::Member)
                .await
                .unwrap();
            let later = Some(chrono::Utc::now() + chrono::Duration::hours(1));
            let reason = || Reason::parse("").unwrap();
            let acts = [
                Moderation::Mute {
                    target: user_ref(&people[&Who::Muted]),
                    until: later,
                    reason: reason(),
                },
                Moderation::Ban {
                    target: user_ref(&people[&Who::Banned]),
                    until: later,
                    reason: reason(),
                },
            ];
            for act in acts {
                append(&mut conn, room, owner, Change::Moderate(act)).await;
            }
            let invite =
                invites::invite_person(&mut conn, room, owner.id, people[&Who::Invited].id)
                    .await
                    .unwrap()
                    .id;
            (room, Who::Owner, invite)
        };
        let said = append(&mut conn, room, &people[&author], text("hello all")).await;
        let ServerFrame::Message(message) = said.frame else {
            panic!("not a message: {:?}", said.frame);
        };
        World {
            room,
            public: kind == Kind::Public,
            message: message.id,
            last_seq: said.seq,
            invite,
            people,
            target,
            guest,
        }
    }
}

// ---------------------------------------------------------------- operations

/// What a request carries besides its path.
#[derive(Clone, Copy)]
enum Body {
    None,
    Json(fn(&World) -> Value),
    /// A form (the CSRF token is added).
    Form(fn(&World) -> Vec<(&'static str, String)>),
    /// A multipart form of one small text file.
    File,
}

/// One operation: an API call or a page, by its route as the code spells
/// it (so coverage can be checked), and a variant name when one route is
/// asked in several ways.
struct Op {
    name: &'static str,
    method: Method,
    route: &'static str,
    body: Body,
    /// Its success changes standings or the room: it gets a world of its own.
    mutates: bool,
}

impl Op {
    fn is_page(&self) -> bool {
        !self.route.starts_with("/api/")
    }

    /// The route with the world's ids; `room` in place of the room's.
    fn path(&self, w: &World, room: i64) -> String {
        let message_route = self.route.contains("{room}");
        let mut p = self
            .route
            .replace("{room_id}", &room.to_string())
            .replace("{room}", &room.to_string())
            .replace("{message_id}", &w.message.to_string())
            .replace("{invite_id}", &w.invite.to_string())
            .replace("{emoji}", "%F0%9F%91%8D");
        p = if message_route {
            p.replace("{id}", &w.message.to_string())
        } else {
            p.replace("{id}", &room.to_string())
        };
        // A lifted ban or mute names the banned or muted person; any other
        // act names the target.
        let lifted = if self.route.ends_with("/bans/{user_id}") {
            w.people.get(&Who::Banned).map_or(w.target.id, |p| p.id)
        } else if self.route.ends_with("/mutes/{user_id}") {
            w.people.get(&Who::Muted).map_or(w.target.id, |p| p.id)
        } else {
            w.target.id
        };
        p.replace("{user_id}", &lifted.to_string())
    }
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

// A table: one operation a line.
#[rustfmt::skip]
fn ops() -> Vec<Op> {
    use Body::{File, Form, Json, None};
    let op = |name, method, route, body, mutates| Op {
        name,
        method,
        route,
        body,
        mutates,
    };
    let (get, post, put, patch, delete) = (
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    );
    vec![
        // The API.
        op("room", get.clone(), "/api/v1/rooms/{id}", None, false),
        op("topic", patch.clone(), "/api/v1/rooms/{id}", Json(|_| json!({"topic": "new words"})), true),
        op("visibility", patch.clone(), "/api/v1/rooms/{id}", Json(|w| json!({"visibility": if w.public { "private" } else { "public" }})), true),
        op("delete room", delete.clone(), "/api/v1/rooms/{id}", None, true),
        op("join", post.clone(), "/api/v1/rooms/{id}/membership", Json(|_| json!({})), true),
        op("leave", delete.clone(), "/api/v1/rooms/{id}/membership", None, true),
        op("members", get.clone(), "/api/v1/rooms/{id}/members", None, false),
        op("invite", post.clone(), "/api/v1/rooms/{id}/invites", Json(|w| json!({"username": w.guest.name})), true),
        op("invite link", post.clone(), "/api/v1/rooms/{id}/invites", Json(|_| json!({"link": {"expires_in_secs": 3600}})), true),
        op("invites", get.clone(), "/api/v1/rooms/{id}/invites", None, false),
        op("revoke invite", delete.clone(), "/api/v1/rooms/{id}/invites/{invite_id}", None, true),
        op("accept invite", post.clone(), "/api/v1/me/invites/{room_id}/accept", Json(|_| json!({})), true),
        op("decline invite", delete.clone(), "/api/v1/me/invites/{room_id}", None, true),
        op("role", put.clone(), "/api/v1/rooms/{id}/members/{user_id}/role", Json(|_| json!({"role": "moderator"})), true),
        op("hand over", post.clone(), "/api/v1/rooms/{id}/owner", Json(|w| json!({"user_id": w.target.id})), true),
        op("kick", post.clone(), "/api/v1/rooms/{id}/kicks", Json(|w| json!({"user_id": w.target.id})), true),
        op("ban", post.clone(), "/api/v1/rooms/{id}/bans", Json(|w| json!({"user_id": w.target.id})), true),
        op("mute", post.clone(), "/api/v1/rooms/{id}/mutes", Json(|w| json!({"user_id": w.target.id})), true),
        op("unban", delete.clone(), "/api/v1/rooms/{id}/bans/{user_id}", None, true),
        op("unmute", delete.clone(), "/api/v1/rooms/{id}/mutes/{user_id}", None, true),
        op("moderation log", get.clone(), "/api/v1/rooms/{id}/moderation", None, false),
        op("history", get.clone(), "/api/v1/rooms/{id}/messages", None, false),
        op("send", post.clone(), "/api/v1/rooms/{id}/messages", Json(|_| json!({"body": "a word", "nonce": nonce()})), true),
        op("upload", post.clone(), "/api/v1/rooms/{id}/attachments", File, false),
        op("edit", patch.clone(), "/api/v1/rooms/{id}/messages/{message_id}", Json(|_| json!({"body": "new words", "nonce": nonce()})), true),
        op("delete message", delete.clone(), "/api/v1/rooms/{id}/messages/{message_id}", None, true),
        op("react", put.clone(), "/api/v1/rooms/{id}/messages/{message_id}/reactions/{emoji}", None, true),
        op("unreact", delete.clone(), "/api/v1/rooms/{id}/messages/{message_id}/reactions/{emoji}", None, true),
        op("events", get.clone(), "/api/v1/rooms/{id}/events", None, false),
        op("mood", get.clone(), "/api/v1/rooms/{id}/mood", None, false),
        op("emotions", patch.clone(), "/api/v1/rooms/{id}", Json(|_| json!({"emotions": false})), true),
        op("read", post.clone(), "/api/v1/rooms/{id}/read", Json(|w| json!({"seq": w.last_seq})), false),
        op("notifications", put.clone(), "/api/v1/me/rooms/{id}/notifications", Json(|_| json!({"level": "all"})), false),
        op("default notifications", delete.clone(), "/api/v1/me/rooms/{id}/notifications", None, false),
        op("rename chat", patch.clone(), "/api/v1/assistant/chats/{room_id}", Json(|_| json!({"name": "new words"})), true),
        op("delete chat", delete.clone(), "/api/v1/assistant/chats/{room_id}", None, true),
        // The pages.
        op("rename chat form", post.clone(), "/assistant/{id}/rename", Form(|_| vec![("name", "new words".into())]), true),
        op("delete chat form", post.clone(), "/assistant/{id}/delete", Form(|_| vec![]), true),
        op("page", get.clone(), "/rooms/{id}", None, false),
        op("members page", get.clone(), "/rooms/{id}/members", None, false),
        op("mood page", get.clone(), "/rooms/{id}/mood", None, false),
        op("moderation page", get.clone(), "/rooms/{id}/moderation", None, false),
        op("send form", post.clone(), "/rooms/{id}/messages", Form(|_| vec![("body", "a word".into()), ("nonce", nonce())]), true),
        op("join form", post.clone(), "/rooms/{id}/join", Form(|_| vec![]), true),
        op("leave form", post.clone(), "/rooms/{id}/leave", Form(|_| vec![]), true),
        op("read form", post.clone(), "/rooms/{id}/read", Form(|w| vec![("seq", w.last_seq.to_string())]), false),
        op("notifications form", post.clone(), "/rooms/{id}/notifications", Form(|_| vec![("level", "all".into())]), false),
        op("delete room form", post.clone(), "/rooms/{id}/delete", Form(|_| vec![]), true),
        op("moderate form", post.clone(), "/rooms/{id}/members/{user_id}/moderate", Form(|_| vec![("action", "kick".into()), ("nonce", nonce())]), true),
        op("role form", post.clone(), "/rooms/{id}/members/{user_id}/role", Form(|_| vec![("role", "moderator".into()), ("nonce", nonce())]), true),
        op("settings form", post.clone(), "/rooms/{id}/settings", Form(|_| vec![("topic", "new words".into()), ("nonce", nonce())]), true),
        op("invite form", post.clone(), "/rooms/{id}/invites", Form(|w| vec![("username", w.guest.name.clone())]), true),
        op("invite link form", post.clone(), "/rooms/{id}/invite-links", Form(|_| vec![("expires_in_secs", "3600".into())]), true),
        op("revoke form", post.clone(), "/rooms/{id}/invites/{invite_id}/revoke", Form(|_| vec![]), true),
        op("accept form", post.clone(), "/invitations/{room_id}/accept", Form(|_| vec![]), true),
        op("decline form", post.clone(), "/invitations/{room_id}/decline", Form(|_| vec![]), true),
        op("edit page", get.clone(), "/rooms/{room}/messages/{id}/edit", None, false),
        op("edit form", post.clone(), "/rooms/{room}/messages/{id}/edit", Form(|_| vec![("body", "new words".into()), ("nonce", nonce())]), true),
        op("delete page", get.clone(), "/rooms/{room}/messages/{id}/delete", None, false),
        op("delete form", post.clone(), "/rooms/{room}/messages/{id}/delete", Form(|_| vec![("nonce", nonce())]), true),
        op("react page", get.clone(), "/rooms/{room}/messages/{id}/react", None, false),
        op("react form", post.clone(), "/rooms/{room}/messages/{id}/reactions", Form(|_| vec![("emoji", "👍".into()), ("nonce", nonce())]), true),
    ]
}

// ---------------------------------------------------------------- the table

/// The table of the API and the pages, by operation and kind. Each cell:
/// `hidden` (404, byte for byte the answer for a room that does not
/// exist; `room_not_found` for the API), or a status and, for the API, its
/// code (`"403 banned"`). Columns: [`ROOM_COLUMNS`] or [`DM_COLUMNS`].
#[rustfmt::skip]
fn table() -> Vec<(&'static str, Kind, Vec<&'static str>)> {
    use Kind::{Chat, Dm, Private, Public};
    const U: &str = "401 unauthenticated";
    const H: &str = "hidden";
    const F: &str = "403 forbidden";
    const B: &str = "403 banned";
    const M: &str = "403 muted";
    const L: &str = "303"; // pages: to /login signed out; a form's success
    let rows: Vec<(&str, Kind, Vec<&str>)> = vec![
        // Reading: anyone signed in in a public room, but not the banned;
        // members only in a private room or DM.
        ("room", Public, vec![U, "200", "200", "200", "200", B, "200", "200"]),
        ("room", Private, vec![U, H, H, "200", "200", H, "200", "200"]),
        ("room", Dm, vec![U, H, "200", "200"]),
        ("room", Chat, vec![U, H, "200"]),
        ("members", Public, vec![U, "200", "200", "200", "200", B, "200", "200"]),
        ("members", Private, vec![U, H, H, "200", "200", H, "200", "200"]),
        ("members", Dm, vec![U, H, "200", "200"]),
        ("members", Chat, vec![U, H, "200"]),
        ("history", Public, vec![U, "200", "200", "200", "200", B, "200", "200"]),
        ("history", Private, vec![U, H, H, "200", "200", H, "200", "200"]),
        ("history", Dm, vec![U, H, "200", "200"]),
        ("history", Chat, vec![U, H, "200"]),
        ("events", Public, vec![U, "200", "200", "200", "200", B, "200", "200"]),
        ("events", Private, vec![U, H, H, "200", "200", H, "200", "200"]),
        ("events", Dm, vec![U, H, "200", "200"]),
        ("events", Chat, vec![U, H, "200"]),
        ("mood", Public, vec![U, "200", "200", "200", "200", B, "200", "200"]),
        ("mood", Private, vec![U, H, H, "200", "200", H, "200", "200"]),
        ("mood", Dm, vec![U, H, "200", "200"]),
        ("mood", Chat, vec![U, H, "200"]),
        ("notifications", Public, vec![U, "200", "200", "200", "200", B, "200", "200"]),
        ("notifications", Private, vec![U, H, H, "200", "200", H, "200", "200"]),
        ("notifications", Dm, vec![U, H, "200", "200"]),
        ("notifications", Chat, vec![U, H, "200"]),
        ("default notifications", Public, vec![U, "200", "200", "200", "200", B, "200", "200"]),
        ("default notifications", Private, vec![U, H, H, "200", "200", H, "200", "200"]),
        ("default notifications", Dm, vec![U, H, "200", "200"]),
        ("default notifications", Chat, vec![U, H, "200"]),
        // Assistant chats: a room that is not one does not exist there,
        // for everyone, its owner included (tests/website/assistant.rs
        // covers chats themselves).
        ("rename chat", Public, vec![U, H, H, H, H, H, H, H]),
        ("rename chat", Private, vec![U, H, H, H, H, H, H, H]),
        ("rename chat", Dm, vec![U, H, H, H]),
        ("rename chat", Chat, vec![U, H, "200"]),
        ("delete chat", Public, vec![U, H, H, H, H, H, H, H]),
        ("delete chat", Private, vec![U, H, H, H, H, H, H, H]),
        ("delete chat", Dm, vec![U, H, H, H]),
        ("delete chat", Chat, vec![U, H, "204"]),
        // A read mark needs membership.
        ("read", Public, vec![U, F, F, "204", "204", B, "204", "204"]),
        ("read", Private, vec![U, H, H, "204", "204", H, "204", "204"]),
        ("read", Dm, vec![U, H, "204", "204"]),
        ("read", Chat, vec![U, H, "204"]),
        // Writing: posting makes one a member of a public room; the muted
        // and the blocked read only.
        ("send", Public, vec![U, "201", "201", "201", M, B, "201", "201"]),
        ("send", Private, vec![U, H, H, "201", M, H, "201", "201"]),
        ("send", Dm, vec![U, H, "201", "403 blocked"]),
        ("send", Chat, vec![U, H, "201"]),
        ("edit", Public, vec![U, "403 not_author", "403 not_author", "403 not_author", M, B, "403 not_author", "200"]),
        ("edit", Private, vec![U, H, H, "403 not_author", M, H, "403 not_author", "200"]),
        ("edit", Dm, vec![U, H, "200", "403 blocked"]),
        ("edit", Chat, vec![U, H, "200"]),
        // Someone else's message: muted or blocked changes nothing to that.
        ("delete message", Public, vec![U, F, F, F, F, B, "204", "204"]),
        ("delete message", Private, vec![U, H, H, F, F, H, "204", "204"]),
        ("delete message", Dm, vec![U, H, "204", F]),
        ("delete message", Chat, vec![U, H, "204"]),
        ("upload", Public, vec![U, "201", "201", "201", M, B, "201", "201"]),
        ("upload", Private, vec![U, H, H, "201", M, H, "201", "201"]),
        ("upload", Dm, vec![U, H, "201", "403 blocked"]),
        ("upload", Chat, vec![U, H, "201"]),
        ("react", Public, vec![U, "200", "200", "200", M, B, "200", "200"]),
        ("react", Private, vec![U, H, H, "200", M, H, "200", "200"]),
        ("react", Dm, vec![U, H, "200", "403 blocked"]),
        ("react", Chat, vec![U, H, "200"]),
        ("unreact", Public, vec![U, "200", "200", "200", M, B, "200", "200"]),
        ("unreact", Private, vec![U, H, H, "200", M, H, "200", "200"]),
        ("unreact", Dm, vec![U, H, "200", "403 blocked"]),
        ("unreact", Chat, vec![U, H, "200"]),
        // Membership: a private room is joined by invitation (accepted),
        // a DM not at all; the owner stays; a muted member stays muted.
        ("join", Public, vec![U, "204", "204", "204", "204", B, "204", "204"]),
        ("join", Private, vec![U, H, H, "204", "204", H, "204", "204"]),
        ("join", Dm, vec![U, H, "204", "204"]),
        ("join", Chat, vec![U, H, "204"]),
        ("leave", Public, vec![U, "204", "204", "204", "204", B, "204", "409 owner_cannot_leave"]),
        ("leave", Private, vec![U, H, H, "204", "204", H, "204", "409 owner_cannot_leave"]),
        ("leave", Dm, vec![U, H, "204", "204"]),
        ("leave", Chat, vec![U, H, "409 owner_cannot_leave"]),
        ("accept invite", Public, vec![U, "404 room_not_found", "200", "404 room_not_found", "404 room_not_found", "404 room_not_found", "404 room_not_found", "404 room_not_found"]),
        ("accept invite", Private, vec![U, H, "200", H, H, H, H, H]),
        ("accept invite", Dm, vec![U, H, H, H]),
        ("accept invite", Chat, vec![U, H, H]),
        ("decline invite", Public, vec![U, "404 room_not_found", "204", "404 room_not_found", "404 room_not_found", "404 room_not_found", "404 room_not_found", "404 room_not_found"]),
        ("decline invite", Private, vec![U, H, "204", H, H, H, H, H]),
        ("decline invite", Dm, vec![U, H, H, H]),
        ("decline invite", Chat, vec![U, H, H]),
        // Invitations by name: any member who may post; none in a DM.
        ("invite", Public, vec![U, F, F, "201", M, B, "201", "201"]),
        ("invite", Private, vec![U, H, H, "201", M, H, "201", "201"]),
        ("invite", Dm, vec![U, H, F, F]),
        ("invite", Chat, vec![U, H, F]),
        // Moderation: moderators and the owner.
        ("topic", Public, vec![U, F, F, F, F, B, "200", "200"]),
        ("topic", Private, vec![U, H, H, F, F, H, "200", "200"]),
        ("topic", Dm, vec![U, H, F, F]),
        ("topic", Chat, vec![U, H, F]),
        ("invite link", Public, vec![U, F, F, F, F, B, "201", "201"]),
        ("invite link", Private, vec![U, H, H, F, F, H, "201", "201"]),
        ("invite link", Dm, vec![U, H, F, F]),
        ("invite link", Chat, vec![U, H, F]),
        ("invites", Public, vec![U, F, F, F, F, B, "200", "200"]),
        ("invites", Private, vec![U, H, H, F, F, H, "200", "200"]),
        ("invites", Dm, vec![U, H, F, F]),
        ("invites", Chat, vec![U, H, F]),
        ("revoke invite", Public, vec![U, F, F, F, F, B, "204", "204"]),
        ("revoke invite", Private, vec![U, H, H, F, F, H, "204", "204"]),
        ("revoke invite", Dm, vec![U, H, F, F]),
        ("revoke invite", Chat, vec![U, H, F]),
        ("kick", Public, vec![U, F, F, F, F, B, "204", "204"]),
        ("kick", Private, vec![U, H, H, F, F, H, "204", "204"]),
        ("kick", Dm, vec![U, H, F, F]),
        ("kick", Chat, vec![U, H, F]),
        ("ban", Public, vec![U, F, F, F, F, B, "204", "204"]),
        ("ban", Private, vec![U, H, H, F, F, H, "204", "204"]),
        ("ban", Dm, vec![U, H, F, F]),
        ("ban", Chat, vec![U, H, F]),
        ("mute", Public, vec![U, F, F, F, F, B, "204", "204"]),
        ("mute", Private, vec![U, H, H, F, F, H, "204", "204"]),
        ("mute", Dm, vec![U, H, F, F]),
        ("mute", Chat, vec![U, H, F]),
        ("unban", Public, vec![U, F, F, F, F, B, "204", "204"]),
        ("unban", Private, vec![U, H, H, F, F, H, "204", "204"]),
        ("unban", Dm, vec![U, H, F, F]),
        ("unban", Chat, vec![U, H, F]),
        ("unmute", Public, vec![U, F, F, F, F, B, "204", "204"]),
        ("unmute", Private, vec![U, H, H, F, F, H, "204", "204"]),
        ("unmute", Dm, vec![U, H, F, F]),
        ("unmute", Chat, vec![U, H, F]),
        ("moderation log", Public, vec![U, F, F, F, F, B, "200", "200"]),
        ("moderation log", Private, vec![U, H, H, F, F, H, "200", "200"]),
        ("moderation log", Dm, vec![U, H, F, F]),
        ("moderation log", Chat, vec![U, H, F]),
        // Running the room: the owner only.
        ("visibility", Public, vec![U, F, F, F, F, B, F, "200"]),
        ("visibility", Private, vec![U, H, H, F, F, H, F, "200"]),
        ("visibility", Dm, vec![U, H, F, F]),
        ("visibility", Chat, vec![U, H, F]),
        // The owner's switch of emotion tags: the owner of a room only.
        ("emotions", Public, vec![U, F, F, F, F, B, F, "200"]),
        ("emotions", Private, vec![U, H, H, F, F, H, F, "200"]),
        ("emotions", Dm, vec![U, H, F, F]),
        ("emotions", Chat, vec![U, H, F]),
        ("role", Public, vec![U, F, F, F, F, B, F, "200"]),
        ("role", Private, vec![U, H, H, F, F, H, F, "200"]),
        ("role", Dm, vec![U, H, F, F]),
        ("role", Chat, vec![U, H, F]),
        ("hand over", Public, vec![U, F, F, F, F, B, F, "200"]),
        ("hand over", Private, vec![U, H, H, F, F, H, F, "200"]),
        ("hand over", Dm, vec![U, H, F, F]),
        ("hand over", Chat, vec![U, H, F]),
        ("delete room", Public, vec![U, F, F, F, F, B, F, "204"]),
        ("delete room", Private, vec![U, H, H, F, F, H, F, "204"]),
        ("delete room", Dm, vec![U, H, F, F]),
        ("delete room", Chat, vec![U, H, "204"]),
        // Pages: the same rules; a refused form is its page again (or the
        // error page) with the status, a success a 303.
        ("page", Public, vec![L, "200", "200", "200", "200", "403", "200", "200"]),
        ("page", Private, vec![L, H, H, "200", "200", H, "200", "200"]),
        ("page", Dm, vec![L, H, "200", "200"]),
        ("page", Chat, vec![L, H, "200"]),
        ("members page", Public, vec![L, "200", "200", "200", "200", "403", "200", "200"]),
        ("members page", Private, vec![L, H, H, "200", "200", H, "200", "200"]),
        ("members page", Dm, vec![L, H, "200", "200"]),
        ("members page", Chat, vec![L, H, "200"]),
        ("mood page", Public, vec![L, "200", "200", "200", "200", "403", "200", "200"]),
        ("mood page", Private, vec![L, H, H, "200", "200", H, "200", "200"]),
        ("mood page", Dm, vec![L, H, "200", "200"]),
        ("mood page", Chat, vec![L, H, "200"]),
        ("moderation page", Public, vec![L, "403", "403", "403", "403", "403", "200", "200"]),
        ("moderation page", Private, vec![L, H, H, "403", "403", H, "200", "200"]),
        ("moderation page", Dm, vec![L, H, "403", "403"]),
        ("moderation page", Chat, vec![L, H, "403"]),
        ("send form", Public, vec![L, L, L, L, "403", "403", L, L]),
        ("send form", Private, vec![L, H, H, L, "403", H, L, L]),
        ("send form", Dm, vec![L, H, L, "403"]),
        ("send form", Chat, vec![L, H, L]),
        ("join form", Public, vec![L, L, L, L, L, "403", L, L]),
        ("join form", Private, vec![L, H, H, L, L, H, L, L]),
        ("join form", Dm, vec![L, H, L, L]),
        ("join form", Chat, vec![L, H, L]),
        ("leave form", Public, vec![L, L, L, L, L, "403", L, "409"]),
        ("leave form", Private, vec![L, H, H, L, L, H, L, "409"]),
        ("leave form", Dm, vec![L, H, L, L]),
        ("leave form", Chat, vec![L, H, "409"]),
        ("read form", Public, vec![L, "403", "403", L, L, "403", L, L]),
        ("read form", Private, vec![L, H, H, L, L, H, L, L]),
        ("read form", Dm, vec![L, H, L, L]),
        ("read form", Chat, vec![L, H, L]),
        ("notifications form", Public, vec![L, L, L, L, L, "403", L, L]),
        ("notifications form", Private, vec![L, H, H, L, L, H, L, L]),
        ("notifications form", Dm, vec![L, H, L, L]),
        ("notifications form", Chat, vec![L, H, L]),
        ("delete room form", Public, vec![L, "403", "403", "403", "403", "403", "403", L]),
        ("delete room form", Private, vec![L, H, H, "403", "403", H, "403", L]),
        ("delete room form", Dm, vec![L, H, "403", "403"]),
        ("delete room form", Chat, vec![L, H, L]),
        ("moderate form", Public, vec![L, "403", "403", "403", "403", "403", L, L]),
        ("moderate form", Private, vec![L, H, H, "403", "403", H, L, L]),
        ("moderate form", Dm, vec![L, H, "403", "403"]),
        ("moderate form", Chat, vec![L, H, "403"]),
        ("role form", Public, vec![L, "403", "403", "403", "403", "403", "403", L]),
        ("role form", Private, vec![L, H, H, "403", "403", H, "403", L]),
        ("role form", Dm, vec![L, H, "403", "403"]),
        ("role form", Chat, vec![L, H, "403"]),
        ("settings form", Public, vec![L, "403", "403", "403", "403", "403", L, L]),
        ("settings form", Private, vec![L, H, H, "403", "403", H, L, L]),
        ("settings form", Dm, vec![L, H, "403", "403"]),
        ("settings form", Chat, vec![L, H, "403"]),
        ("invite form", Public, vec![L, "403", "403", L, "403", "403", L, L]),
        ("invite form", Private, vec![L, H, H, L, "403", H, L, L]),
        ("invite form", Dm, vec![L, H, "403", "403"]),
        ("invite form", Chat, vec![L, H, "403"]),
        ("invite link form", Public, vec![L, "403", "403", "403", "403", "403", "201", "201"]),
        ("invite link form", Private, vec![L, H, H, "403", "403", H, "201", "201"]),
        ("invite link form", Dm, vec![L, H, "403", "403"]),
        ("invite link form", Chat, vec![L, H, "403"]),
        ("revoke form", Public, vec![L, "403", "403", "403", "403", "403", L, L]),
        ("revoke form", Private, vec![L, H, H, "403", "403", H, L, L]),
        ("revoke form", Dm, vec![L, H, "403", "403"]),
        ("revoke form", Chat, vec![L, H, "403"]),
        ("accept form", Public, vec![L, "404", L, "404", "404", "404", "404", "404"]),
        ("accept form", Private, vec![L, H, L, H, H, H, H, H]),
        ("accept form", Dm, vec![L, H, H, H]),
        ("accept form", Chat, vec![L, H, H]),
        ("decline form", Public, vec![L, "404", L, "404", "404", "404", "404", "404"]),
        ("decline form", Private, vec![L, H, L, H, H, H, H, H]),
        ("decline form", Dm, vec![L, H, H, H]),
        ("decline form", Chat, vec![L, H, H]),
        ("edit page", Public, vec![L, "403", "403", "403", "403", "403", "403", "200"]),
        ("edit page", Private, vec![L, H, H, "403", "403", H, "403", "200"]),
        ("edit page", Dm, vec![L, H, "200", "403"]),
        ("edit page", Chat, vec![L, H, "200"]),
        ("edit form", Public, vec![L, "403", "403", "403", "403", "403", "403", L]),
        ("edit form", Private, vec![L, H, H, "403", "403", H, "403", L]),
        ("edit form", Dm, vec![L, H, L, "403"]),
        ("edit form", Chat, vec![L, H, L]),
        ("delete page", Public, vec![L, "200", "200", "200", "200", "403", "200", "200"]),
        ("delete page", Private, vec![L, H, H, "200", "200", H, "200", "200"]),
        ("delete page", Dm, vec![L, H, "200", "200"]),
        ("delete page", Chat, vec![L, H, "200"]),
        ("delete form", Public, vec![L, "403", "403", "403", "403", "403", L, L]),
        ("delete form", Private, vec![L, H, H, "403", "403", H, L, L]),
        ("delete form", Dm, vec![L, H, L, "403"]),
        ("delete form", Chat, vec![L, H, L]),
        ("react page", Public, vec![L, "200", "200", "200", "200", "403", "200", "200"]),
        ("react page", Private, vec![L, H, H, "200", "200", H, "200", "200"]),
        ("react page", Dm, vec![L, H, "200", "200"]),
        ("react page", Chat, vec![L, H, "200"]),
        ("react form", Public, vec![L, L, L, L, "403", "403", L, L]),
        ("react form", Private, vec![L, H, H, L, "403", H, L, L]),
        ("react form", Dm, vec![L, H, L, "403"]),
        ("rename chat form", Public, vec![L, H, H, H, H, H, H, H]),
        ("rename chat form", Private, vec![L, H, H, H, H, H, H, H]),
        ("rename chat form", Dm, vec![L, H, H, H]),
        ("rename chat form", Chat, vec![L, H, L]),
        ("delete chat form", Public, vec![L, H, H, H, H, H, H, H]),
        ("delete chat form", Private, vec![L, H, H, H, H, H, H, H]),
        ("delete chat form", Dm, vec![L, H, H, H]),
        ("delete chat form", Chat, vec![L, H, L]),
        ("react form", Chat, vec![L, H, L]),
    ];
    rows
}

// ---------------------------------------------------------------- running

/// What one request answered.
struct Answer {
    status: StatusCode,
    body: String,
}

impl Answer {
    fn code(&self) -> Option<String> {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
    }
}

/// A browser signed in with `token` (no redirects followed), and a CSRF
/// token for its forms.
async fn browser(app: &TestApp, token: Option<&str>) -> (Client, String) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    if let Some(token) = token {
        let url: reqwest::Url = app.base.parse().unwrap();
        jar.add_cookie_str(&format!("parley_session={token}; Path=/"), &url);
    }
    let client = Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = if token.is_some() {
        "/settings"
    } else {
        "/login"
    };
    let html = app.html(&client, page).await;
    let csrf = csrf_in(&html).unwrap_or_default();
    (client, csrf)
}

/// Asks `op` in `room` as `who` of world `w`.
async fn ask(app: &TestApp, op: &Op, w: &World, who: Who, room: i64) -> Answer {
    let person = w.people.get(&who);
    let path = op.path(w, room);
    let res = if op.is_page() {
        let (client, csrf) = browser(app, person.map(|p| p.token.as_str())).await;
        let mut req = client.request(op.method.clone(), app.url(&path));
        if let Body::Form(form) = op.body {
            let mut fields = form(w);
            fields.push(("csrf_token", csrf));
            req = req.form(&fields);
        }
        req.send().await.unwrap()
    } else {
        let mut req = app.api().request(op.method.clone(), app.url(&path));
        if let Some(p) = person {
            req = req.bearer_auth(&p.token);
        }
        if let Body::Json(body) = op.body {
            req = req.json(&body(w));
        }
        if let Body::File = op.body {
            let part = reqwest::multipart::Part::bytes(b"notes".to_vec())
                .file_name("notes.txt")
                .mime_str("text/plain")
                .unwrap();
            req = req.multipart(reqwest::multipart::Form::new().part("file", part));
        }
        req.send().await.unwrap()
    };
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    let mut body = res.text().await.unwrap();
    if let Some(l) = location {
        body = format!("location: {l}\n{body}");
    }
    Answer { status, body }
}

/// A page's body without what differs between two renderings of the same
/// answer (the masked CSRF token, fresh nonces).
fn steady(body: &str) -> String {
    let mut out = body.to_owned();
    for marker in ["name=\"csrf_token\" value=\"", "name=\"nonce\" value=\""] {
        let mut next = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(marker) {
            let start = i + marker.len();
            next.push_str(&rest[..start]);
            rest = &rest[start..];
            rest = &rest[rest.find('"').unwrap_or(rest.len())..];
        }
        next.push_str(rest);
        out = next;
    }
    out
}

/// Whether `got` is the answer `want` says (`hidden` is checked against
/// a missing room apart). A page's 303 goes to the login page signed out,
/// elsewhere signed in.
fn matches(op: &Op, who: Who, want: &str, got: &Answer) -> bool {
    let mut parts = want.split(' ');
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    if got.status.as_u16() != status {
        return false;
    }
    if op.is_page() && status == 303 {
        return got.body.starts_with("location: /login") == (who == Who::SignedOut);
    }
    match parts.next() {
        Some(code) => got.code().as_deref() == Some(code),
        None => true,
    }
}

/// An app whose rate limits a thousand requests by one person do not
/// reach, and the builder of its worlds.
async fn builder() -> Arc<Builder> {
    let limits = website::config::Limits {
        reads: common::ratelimit::Limit {
            max: 1_000_000,
            ..common::ratelimit::READS_PER_USER
        },
        ..Default::default()
    };
    let app = TestApp::spawn_with(Options {
        send_limit: Some(1_000_000),
        limits: Some(limits),
        ..Options::default()
    })
    .await;
    let key = SigningKeyMaterial::parse("TOKEN_SIGNING_KEY", &app.key_b64).unwrap();
    Arc::new(Builder {
        app,
        key,
        worlds: AtomicUsize::new(0),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_and_page_answers_each_standing_as_the_contract_says() {
    let builder = builder().await;
    let app = &builder.app;
    let ops = ops();
    let table = table();

    // Coverage: every row is an operation, every operation has a row of
    // the right width per kind, and every room operation of the OpenAPI
    // document and every room route of the pages is an operation.
    let by_name: HashMap<&str, &Op> = ops.iter().map(|o| (o.name, o)).collect();
    for (name, kind, cells) in &table {
        assert!(by_name.contains_key(name), "no operation {name}");
        assert_eq!(cells.len(), columns(*kind).len(), "{name} {kind:?}");
    }
    let mut missing = Vec::new();
    for op in &ops {
        for kind in KINDS {
            if !table.iter().any(|(n, k, _)| *n == op.name && *k == kind) {
                missing.push(format!("{} {kind:?}", op.name));
            }
        }
    }
    let covered: BTreeSet<(String, String)> = ops
        .iter()
        .map(|o| (o.method.as_str().to_owned(), o.route.to_owned()))
        .collect();
    let doc: Value = app
        .api()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !(path.contains("/rooms/{id}") || path.contains("{room_id}")) {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let key = (method.to_uppercase(), path.clone());
            if !covered.contains(&key) {
                missing.push(format!("{} {}", key.0, key.1));
            }
        }
    }
    for (method, route) in page_routes() {
        if !covered.contains(&(method.clone(), route.clone())) {
            missing.push(format!("page {method} {route}"));
        }
    }
    assert!(missing.is_empty(), "not in the matrix: {missing:#?}");

    // One world per kind for the cells that change nothing; a world of its
    // own for each success that changes something.
    let mut shared = HashMap::new();
    for kind in KINDS {
        shared.insert(kind, Arc::new(builder.world(kind).await));
    }
    let shared = Arc::new(shared);
    let mut cells = Vec::new();
    for (name, kind, wants) in &table {
        for (who, want) in columns(*kind).iter().zip(wants) {
            cells.push((*name, *kind, *who, *want));
        }
    }
    let total = cells.len();
    let ops = Arc::new(ops);
    let failures: Vec<String> = futures_util::stream::iter(cells)
        .map(|(name, kind, who, want)| {
            let (builder, shared, ops) = (builder.clone(), shared.clone(), ops.clone());
            async move {
                let op = ops.iter().find(|o| o.name == name).unwrap();
                let success = want.starts_with('2') || (want == "303" && who != Who::SignedOut);
                let world = if op.mutates && success {
                    Arc::new(builder.world(kind).await)
                } else {
                    shared[&kind].clone()
                };
                let app = &builder.app;
                let got = ask(app, op, &world, who, world.room).await;
                let cell = format!("{name} ({} {}) {kind:?} as {who:?}", op.method, op.route);
                if want == "hidden" {
                    let absent = ask(app, op, &world, who, MISSING).await;
                    let (got_body, absent_body) = if op.is_page() {
                        (steady(&got.body), steady(&absent.body))
                    } else {
                        (got.body.clone(), absent.body.clone())
                    };
                    if got.status != StatusCode::NOT_FOUND
                        || absent.status != StatusCode::NOT_FOUND
                        || got_body != absent_body
                        || (!op.is_page() && got.code().as_deref() != Some("room_not_found"))
                    {
                        return Some(format!(
                            "{cell}: want hidden, got {} {}\n  a missing room: {} {}",
                            got.status,
                            short(&got.body),
                            absent.status,
                            short(&absent.body)
                        ));
                    }
                    return None;
                }
                if matches(op, who, want, &got) {
                    None
                } else {
                    Some(format!(
                        "{cell}: want {want}, got {} {}",
                        got.status,
                        short(&got.body)
                    ))
                }
            }
        })
        .buffer_unordered(6)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of {total} cells answer otherwise:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// "search" and "unread" of the matrix: the room directory (API and page)
/// never lists a private room or a DM, to anyone, its members included;
/// `GET /api/v1/me/rooms` and the sidebar list a room exactly to its
/// members.
#[tokio::test]
async fn lists_and_search_show_each_standing_only_its_rooms() {
    let builder = builder().await;
    let app = &builder.app;
    for kind in KINDS {
        let w = builder.world(kind).await;
        let link = format!("href=\"/rooms/{}\"", w.room);
        for who in columns(kind).iter().filter(|w| **w != Who::SignedOut) {
            let p = &w.people[who];
            let cell = format!("{kind:?} as {who:?}");
            let member = matches!(
                who,
                Who::Member | Who::Muted | Who::Moderator | Who::Owner | Who::Blocked
            );
            let listed = app.get_json_as(&p.token, "/api/v1/rooms?q=matrix").await;
            let found = listed["rooms"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == w.room);
            assert_eq!(found, kind == Kind::Public, "API search, {cell}: {listed}");
            let mine = app.get_json_as(&p.token, "/api/v1/me/rooms").await;
            let in_mine = mine["rooms"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["room"]["id"] == w.room);
            assert_eq!(in_mine, member, "my rooms, {cell}: {mine}");
            let (browser, _) = browser(app, Some(&p.token)).await;
            let html = app.html(&browser, "/rooms?q=matrix").await;
            let main = html.find("<main").unwrap();
            let (sidebar, directory) = html.split_at(main);
            assert_eq!(
                directory.contains(&link),
                kind == Kind::Public,
                "page search, {cell}"
            );
            assert_eq!(sidebar.contains(&link), member, "sidebar, {cell}");
        }
    }
}

fn short(body: &str) -> String {
    let title = body
        .find("<title>")
        .and_then(|s| body[s..].find("</title>").map(|e| &body[s + 7..s + e]));
    match title {
        Some(t) => format!("page «{t}»"),
        None => body.chars().take(160).collect(),
    }
}

/// Every route of the pages that names a room, as the handlers declare
/// them.
fn page_routes() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/pages");
    let mut routes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let line = line.trim();
            for method in ["get", "post"] {
                let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) else {
                    continue;
                };
                let route = rest.split('"').next().unwrap_or_default();
                if route.starts_with("/rooms/{") || route.contains("{room_id}") {
                    routes.push((method.to_uppercase(), route.to_owned()));
                }
            }
        }
    }
    assert!(routes.len() > 10, "the pages' routes were not found");
    routes
}
