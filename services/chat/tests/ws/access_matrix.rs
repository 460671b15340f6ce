//! The access matrix over the WebSocket (http.md "People and rooms"): each
//! frame (join, typing, send, react, edit, read, delete) as each standing
//! (non-member, invited, member, muted, banned, moderator, owner; in a DM:
//! non-member, member, the one the other person blocked) in a public room,
//! a private room and a DM, and whether another member receives their
//! presence and typing; signed out, the upgrade is refused. A room one may
//! not see answers exactly like a room that does not exist. One chat
//! process; each standing in a room of its own, so that what one does (a
//! deletion, joining by posting) changes nothing for another.

use std::collections::HashMap;
use std::time::Duration;

use common::access::{Role, Visibility};
use common::domain::{Reason, RoomName, Topic};
use common::protocol::{ClientFrame, ServerFrame, UserRef};
use common::store::events::{Change, Moderation};
use common::store::{blocks, invites, members, rooms};

use crate::helpers::{Auth, ChatProcess, Client, Event, Stack, User, connect, try_connect};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Public,
    Private,
    Dm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    NonMember,
    Invited,
    Member,
    Muted,
    Banned,
    Moderator,
    Owner,
    Blocked,
}

/// A room id no room has.
const MISSING: i64 = 987_654_321;
/// How long to wait for something that must not come.
const QUIET: Duration = Duration::from_millis(700);

/// What each frame answers (asked in the order join, typing, read, send,
/// react, edit, delete): `ok`, or the `error` code; for presence and
/// typing, whether the other member sees them (`seen`, `unseen`). A read
/// mark needs membership: a public room's non-member reads it, but keeps
/// no mark (`forbidden`) until posting makes them a member.
struct Row {
    kind: Kind,
    who: Who,
    join: &'static str,
    presence: &'static str,
    typing: &'static str,
    send: &'static str,
    react: &'static str,
    edit: &'static str,
    read: &'static str,
    delete: &'static str,
}

#[rustfmt::skip]
fn table() -> Vec<Row> {
    use Kind::{Dm, Private, Public};
    use Who::*;
    let row = |kind, who, [join, presence, typing, send, react, edit, read, delete]: [&'static str; 8]| Row {
        kind, who, join, presence, typing, send, react, edit, read, delete,
    };
    // A frame that changes a room needs the connection to have joined it
    // (`not_joined`), whatever the room: the join says why not.
    const NJ: &str = "not_joined";
    const NF: &str = "room_not_found";
    vec![
        //                        join       presence  typing    send      react     edit          read      delete
        row(Public, NonMember, ["ok",      "seen",   "seen",   "ok",     "ok",     "not_author", "forbidden", "forbidden"]),
        row(Public, Invited,   ["ok",      "seen",   "seen",   "ok",     "ok",     "not_author", "forbidden", "forbidden"]),
        row(Public, Member,    ["ok",      "seen",   "seen",   "ok",     "ok",     "not_author", "ok",     "forbidden"]),
        row(Public, Muted,     ["ok",      "seen",   "unseen", "muted",  "muted",  "muted",      "ok",     "forbidden"]),
        row(Public, Banned,    ["banned",  "unseen", "unseen", NJ,       NJ,       NJ,           "banned", NJ]),
        row(Public, Moderator, ["ok",      "seen",   "seen",   "ok",     "ok",     "not_author", "ok",     "ok"]),
        row(Public, Owner,     ["ok",      "seen",   "seen",   "ok",     "ok",     "ok",         "ok",     "ok"]),
        row(Private, NonMember,[NF,        "unseen", "unseen", NJ,       NJ,       NJ,           NF,       NJ]),
        row(Private, Invited,  [NF,        "unseen", "unseen", NJ,       NJ,       NJ,           NF,       NJ]),
        row(Private, Member,   ["ok",      "seen",   "seen",   "ok",     "ok",     "not_author", "ok",     "forbidden"]),
        row(Private, Muted,    ["ok",      "seen",   "unseen", "muted",  "muted",  "muted",      "ok",     "forbidden"]),
        row(Private, Banned,   [NF,        "unseen", "unseen", NJ,       NJ,       NJ,           NF,       NJ]),
        row(Private, Moderator,["ok",      "seen",   "seen",   "ok",     "ok",     "not_author", "ok",     "ok"]),
        row(Private, Owner,    ["ok",      "seen",   "seen",   "ok",     "ok",     "ok",         "ok",     "ok"]),
        row(Dm, NonMember,     [NF,        "unseen", "unseen", NJ,       NJ,       NJ,           NF,       NJ]),
        row(Dm, Member,        ["ok",      "seen",   "seen",   "ok",     "ok",     "ok",         "ok",     "ok"]),
        row(Dm, Blocked,       ["ok",      "seen",   "seen",   "blocked","blocked","blocked",    "ok",     "forbidden"]),
    ]
}

/// A room of `kind` with one person of each standing, the message frames
/// act on (the owner's; in a DM the member's), and the member who watches
/// for presence and typing.
struct World {
    room: i64,
    message: i64,
    last_seq: i64,
    people: HashMap<Who, User>,
    watcher: Who,
}

fn person(u: &User) -> UserRef {
    UserRef {
        id: u.id,
        name: u.name.clone(),
    }
}

async fn world(stack: &Stack, n: usize, kind: Kind, who: Who) -> World {
    let standings: &[Who] = match kind {
        Kind::Dm => &[Who::NonMember, Who::Member, Who::Blocked],
        _ => &[
            Who::NonMember,
            Who::Invited,
            Who::Member,
            Who::Muted,
            Who::Banned,
            Who::Moderator,
            Who::Owner,
        ],
    };
    let mut people = HashMap::new();
    for s in standings {
        let name = format!("w{n}_{}", format!("{s:?}").to_lowercase());
        people.insert(*s, stack.user(&name).await);
    }
    let reason = || Reason::parse("").unwrap();
    let later = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    let (room, author, watcher) = if kind == Kind::Dm {
        let (member, blocked) = (&people[&Who::Member], &people[&Who::Blocked]);
        let mut conn = stack.db.connect().await;
        let room = rooms::insert_dm(&mut conn, &[member.id, blocked.id])
            .await
            .unwrap()
            .id;
        blocks::add(&mut conn, member.id, blocked.id).await.unwrap();
        // The other person of the DM watches.
        let watcher = if who == Who::Member {
            Who::Blocked
        } else {
            Who::Member
        };
        (room, Who::Member, watcher)
    } else {
        let owner = &people[&Who::Owner];
        let room = {
            let mut conn = stack.db.connect().await;
            let visibility = match kind {
                Kind::Public => Visibility::Public,
                _ => Visibility::Private,
            };
            let room = rooms::insert(
                &mut conn,
                &RoomName::parse(&format!("matrix {n}")).unwrap(),
                &Topic::parse("").unwrap(),
                visibility,
                owner.id,
            )
            .await
            .unwrap()
            .id;
            members::add(&mut conn, room, people[&Who::Moderator].id, Role::Moderator)
                .await
                .unwrap();
            members::add(&mut conn, room, people[&Who::Member].id, Role::Member)
                .await
                .unwrap();
            members::add(&mut conn, room, people[&Who::Muted].id, Role::Member)
                .await
                .unwrap();
            invites::invite_person(&mut conn, room, owner.id, people[&Who::Invited].id)
                .await
                .unwrap();
            room
        };
        let acts = [
            Moderation::Mute {
                target: person(&people[&Who::Muted]),
                until: later,
                reason: reason(),
            },
            Moderation::Ban {
                target: person(&people[&Who::Banned]),
                until: later,
                reason: reason(),
            },
        ];
        for act in acts {
            stack
                .append_unpublished(owner, room, Change::Moderate(act))
                .await;
        }
        // A member watches: the member, unless the member is who asks.
        let watcher = if who == Who::Member {
            Who::Moderator
        } else {
            Who::Member
        };
        (room, Who::Owner, watcher)
    };
    let said = stack
        .append_unpublished(&people[&author], room, Stack::text("hello all"))
        .await;
    let ServerFrame::Message(m) = said.frame else {
        panic!("not a message");
    };
    World {
        room,
        message: m.id,
        last_seq: said.seq,
        people,
        watcher,
    }
}

/// The answer to a change: its sequenced echo (`ok`) or the `error` code
/// whose ref is `reference`; presence, typing and unread frames skipped.
async fn answer(client: &mut Client, reference: &str) -> (String, String) {
    loop {
        match client.frame().await {
            f if f.sequenced().is_some() => return ("ok".into(), String::new()),
            ServerFrame::Error {
                code,
                message,
                reference: r,
                ..
            } if r.as_deref() == Some(reference) => return (code, message),
            ServerFrame::Error { code, .. } => panic!("an error for something else: {code}"),
            _ => {}
        }
    }
}

/// The answer to a join: `joined` (`ok`) or the error.
async fn joined(client: &mut Client) -> (String, String) {
    loop {
        match client.frame().await {
            ServerFrame::Joined { .. } => return ("ok".into(), String::new()),
            ServerFrame::Error { code, message, .. } => return (code, message),
            _ => {}
        }
    }
}

/// The answer to a read mark: its `unread` frame (`ok`) or the error.
async fn read_answer(client: &mut Client, room: i64) -> (String, String) {
    loop {
        match client.frame().await {
            ServerFrame::Unread { room: r, .. } if r == room => {
                return ("ok".into(), String::new());
            }
            ServerFrame::Error { code, message, .. } => return (code, message),
            _ => {}
        }
    }
}

/// Whether `watcher` sees a presence (`presence`) or typing frame of
/// `user` in `room` within [`QUIET`].
async fn sees(watcher: &mut Client, room: i64, user: i64, presence: bool) -> &'static str {
    let deadline = tokio::time::Instant::now() + QUIET;
    while let Some(event) = watcher
        .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        match event {
            Event::Frame(ServerFrame::Presence {
                room: r,
                user: u,
                online: true,
            }) if presence && r == room && u.id == user => return "seen",
            Event::Frame(ServerFrame::Typing { room: r, user: u })
                if !presence && r == room && u.id == user =>
            {
                return "seen";
            }
            Event::Closed(c) => panic!("the watcher was closed: {c:?}"),
            _ => {}
        }
    }
    "unseen"
}

/// Asks every frame of `row` and returns what differs from it.
async fn run_row(stack: &Stack, chat: &ChatProcess, n: usize, row: &Row) -> Vec<String> {
    let w = world(stack, n, row.kind, row.who).await;
    let me = &w.people[&row.who];
    let room = w.room;
    let mut watcher = connect(chat, &w.people[&w.watcher]).await;
    watcher.join(room, None).await;
    let mut c = connect(chat, me).await;
    let mut got: Vec<(&str, &str, String)> = Vec::new();
    let hidden = row.join == "room_not_found";

    c.send(&ClientFrame::Join { room, since: None }).await;
    let join = joined(&mut c).await;
    if hidden {
        // Exactly what a room that does not exist answers.
        c.send(&ClientFrame::Join {
            room: MISSING,
            since: None,
        })
        .await;
        let absent = joined(&mut c).await;
        if absent != join {
            got.push((
                "join like a missing room",
                "same",
                format!("{join:?} vs {absent:?}"),
            ));
        }
    }
    got.push(("join", row.join, join.0));
    got.push((
        "presence",
        row.presence,
        sees(&mut watcher, room, me.id, true).await.into(),
    ));
    c.send(&ClientFrame::Typing { room }).await;
    let typing = sees(&mut watcher, room, me.id, false).await;
    got.push(("typing", row.typing, typing.into()));
    // A typing frame in a room not joined is answered (`not_joined`).
    if row.join != "ok" {
        let (code, _) = answer(&mut c, &room.to_string()).await;
        got.push(("typing answer", "not_joined", code));
    }
    c.send(&ClientFrame::Read {
        room,
        seq: w.last_seq,
    })
    .await;
    let read = read_answer(&mut c, room).await;
    if hidden {
        c.send(&ClientFrame::Read {
            room: MISSING,
            seq: w.last_seq,
        })
        .await;
        let absent = read_answer(&mut c, MISSING).await;
        if absent != read {
            got.push((
                "read like a missing room",
                "same",
                format!("{read:?} vs {absent:?}"),
            ));
        }
    }
    got.push(("read", row.read, read.0));
    c.say(room, "a word", "n-send").await;
    got.push(("send", row.send, answer(&mut c, "n-send").await.0));
    c.send(&ClientFrame::React {
        room,
        id: w.message,
        emoji: "👍".into(),
        on: true,
        nonce: "n-react".into(),
    })
    .await;
    got.push(("react", row.react, answer(&mut c, "n-react").await.0));
    c.send(&ClientFrame::Edit {
        room,
        id: w.message,
        body: "new words".into(),
        nonce: "n-edit".into(),
    })
    .await;
    got.push(("edit", row.edit, answer(&mut c, "n-edit").await.0));
    c.send(&ClientFrame::Delete {
        room,
        id: w.message,
        nonce: "n-delete".into(),
    })
    .await;
    got.push(("delete", row.delete, answer(&mut c, "n-delete").await.0));
    got.into_iter()
        .filter(|(_, want, got)| want != got)
        .map(|(frame, want, got)| {
            format!(
                "{:?} as {:?}: {frame}: want {want}, got {got}",
                row.kind, row.who
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_frame_answers_each_standing_as_the_contract_says() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    // Signed out: no socket at all.
    assert_eq!(
        try_connect(&chat.ws_url(), Auth::Raw(vec![])).await.err(),
        Some(401)
    );
    let rows = table();
    let mut failures = Vec::new();
    // The rows of a kind one after another, the kinds side by side.
    let by_kind = [Kind::Public, Kind::Private, Kind::Dm].map(|kind| {
        let (stack, chat, rows) = (&stack, &chat, &rows);
        async move {
            let mut out = Vec::new();
            for (n, row) in rows.iter().enumerate().filter(|(_, r)| r.kind == kind) {
                out.extend(run_row(stack, chat, n, row).await);
            }
            out
        }
    });
    for f in futures_util::future::join_all(by_kind).await {
        failures.extend(f);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
