//! `/rooms/{id}/members`: a room's people and how it is run. Everyone who
//! may read the room sees its members and roles and may invite people by
//! name; moderators also mute, kick, ban and unban, make and revoke invite
//! links and change the topic and slow mode; the owner promotes, demotes,
//! hands the room over and makes it public or private. `/rooms/{id}/moderation`
//! is the log. Plain forms: it all works without JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use chrono::Utc;
use common::access::{self, Role, Standing};
use common::protocol::UserRef;
use serde::Deserialize;

use super::room::Names;
use super::{TokenForm, new_nonce, nonce_or_new, refusal, see_other};
use crate::actions;
use crate::actions::moderation::{RoomChanges, Sanction, SanctionAsk};
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::render;
use crate::web::times::Times;

/// How long a mute may last, as the form offers it (seconds; "" until lifted).
const MUTE_CHOICES: &[(&str, &str)] = &[
    ("600", "10 minutes"),
    ("3600", "1 hour"),
    ("86400", "1 day"),
    ("604800", "1 week"),
    ("", "Until lifted"),
];

/// How long a ban may last ("" for good).
const BAN_CHOICES: &[(&str, &str)] = &[
    ("3600", "1 hour"),
    ("86400", "1 day"),
    ("604800", "1 week"),
    ("2592000", "30 days"),
    ("", "For good"),
];

/// How long a link lives.
const LINK_CHOICES: &[(&str, &str)] = &[
    ("3600", "1 hour"),
    ("86400", "1 day"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
];

/// A member as the page lists them, with what the viewer may do to them.
struct MemberRow {
    id: i64,
    username: String,
    shown: String,
    role: &'static str,
    /// Muted: until when in words ("" until lifted).
    muted: Option<String>,
    joined: String,
    /// The viewer may mute, kick and ban them.
    sanctionable: bool,
    /// The viewer (the owner) may change their role and hand the room over.
    manageable: bool,
}

/// A ban in force.
struct BanLine {
    id: i64,
    username: String,
    until: String,
}

/// An open invitation as moderators see it.
struct InviteLine {
    id: i64,
    /// "to @bob" or "link".
    what: String,
    detail: String,
}

/// What the viewer typed into a form that was refused, shown again.
#[derive(Default)]
struct Typed {
    /// The member whose form it was, and the reason typed there.
    target: Option<i64>,
    reason: String,
    invitee: String,
    topic: Option<String>,
    slow_mode: Option<String>,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    ctx: PageContext,
    room_id: i64,
    room_name: String,
    topic: String,
    slow_mode_secs: i32,
    emotions: bool,
    private: bool,
    moderates: bool,
    manages: bool,
    /// The viewer may invite people by name (a member, not muted).
    invites: bool,
    members: Vec<MemberRow>,
    bans: Vec<BanLine>,
    open_invites: Vec<InviteLine>,
    /// A link just made: shown once (only its hash is kept).
    new_link: Option<String>,
    problem: Option<String>,
    typed: Typed,
    nonce: String,
    mute_choices: &'static [(&'static str, &'static str)],
    ban_choices: &'static [(&'static str, &'static str)],
    link_choices: &'static [(&'static str, &'static str)],
}

impl MembersPage {
    fn reason_for(&self, id: &i64) -> &str {
        if self.typed.target == Some(*id) {
            &self.typed.reason
        } else {
            ""
        }
    }
}

async fn members_page(
    page: &Page,
    state: &AppState,
    room_id: i64,
    outcome: (Option<String>, Option<String>, Typed),
    status: StatusCode,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let (new_link, problem, typed) = outcome;
    let actions::moderation::Members {
        room,
        facts,
        viewer,
        rows,
    } = actions::moderation::members_of(state, user, room_id).await?;
    let now = Utc::now();
    let moderates = access::may_moderate(&facts, &viewer, now).is_ok();
    // An assistant chat's owner renames and deletes it on its page; it
    // has no roles nor ownership to give.
    let manages =
        access::may_manage(&facts, &viewer, now).is_ok() && facts.kind != access::Kind::Assistant;
    let invites = access::may_invite(&facts, &viewer, now).is_ok();
    let times = page.times(state).await;
    let ids: Vec<i64> = rows.iter().map(|m| m.user_id).collect();
    let names = Names::load(state, &ids).await?;
    let members = rows
        .into_iter()
        .map(|m| {
            let them = Standing {
                user_id: m.user_id,
                role: Some(m.role),
                muted_until: m.muted_until,
                ..Standing::default()
            };
            let other = m.user_id != user.user_id;
            MemberRow {
                shown: names.shown(&UserRef {
                    id: m.user_id,
                    name: m.username.clone(),
                }),
                id: m.user_id,
                username: m.username,
                role: m.role.as_str(),
                muted: them.mute_at(now).map(|t| until_words(&times, t)),
                joined: times.date_label(&m.joined_at),
                sanctionable: moderates
                    && other
                    && access::may_act_on(&facts, &viewer, &them).is_ok(),
                manageable: manages && other && m.role != Role::Owner,
            }
        })
        .collect();
    let (bans, open_invites) = if moderates {
        let bans = actions::moderation::bans(state, user, room_id)
            .await?
            .into_iter()
            .map(|b| BanLine {
                id: b.user_id,
                username: b.username,
                until: b.until.map_or_else(
                    || "for good".to_owned(),
                    |t| format!("until {}", times.date_time(&t)),
                ),
            })
            .collect();
        let open = actions::invites::open_in(state, user, room_id).await?;
        let invitees: Vec<i64> = open.iter().filter_map(|i| i.invitee_id).collect();
        let invitee_names = Names::load(state, &invitees).await?;
        let lines = open
            .into_iter()
            .filter(|i| i.invitee_id.is_some() || i.expires_at.is_none_or(|t| t > now))
            .map(|i| invite_line(&i, &invitee_names, &times))
            .collect();
        (bans, lines)
    } else {
        (Vec::new(), Vec::new())
    };
    let view = MembersPage {
        ctx: page.context_with_sidebar(state, Some(room_id)).await,
        room_id,
        room_name: room.room.name.clone(),
        topic: room.room.topic.clone(),
        slow_mode_secs: room.room.slow_mode_secs,
        emotions: room.room.emotions,
        private: !facts.is_public(),
        moderates,
        manages,
        invites,
        members,
        bans,
        open_invites,
        new_link,
        problem,
        typed,
        nonce: new_nonce(),
        mute_choices: MUTE_CHOICES,
        ban_choices: BAN_CHOICES,
        link_choices: LINK_CHOICES,
    };
    Ok(render(status, &view)?)
}

fn until_words(times: &Times, t: chrono::DateTime<Utc>) -> String {
    if access::is_forever(t) {
        String::new()
    } else {
        super::notice::until_short(times, &t)
    }
}

fn invite_line(i: &common::store::invites::Invite, names: &Names, times: &Times) -> InviteLine {
    match i.invitee_id {
        Some(id) => InviteLine {
            id: i.id,
            what: format!("Invitation to {}", names.shown_by_id(&id, "someone")),
            detail: format!("sent {}", times.date_label(&i.created_at)),
        },
        None => {
            let uses = match i.max_uses {
                Some(max) => format!("used {} of {max}", i.uses),
                None => match i.uses {
                    0 => "not used yet".to_owned(),
                    1 => "used once".to_owned(),
                    n => format!("used {n} times"),
                },
            };
            let expiry = i
                .expires_at
                .map(|t| format!("expires {}", times.date_time(&t)))
                .unwrap_or_default();
            InviteLine {
                id: i.id,
                what: "Invite link".to_owned(),
                detail: format!("{uses} · {expiry}"),
            }
        }
    }
}

/// `GET /rooms/{id}/members`.
#[get("/rooms/{id}/members")]
pub async fn show(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> PageResult<HttpResponse> {
    members_page(&page, &state, *path, Default::default(), StatusCode::OK).await
}

/// The page again after a refused form: its problem on top, what was typed
/// kept.
async fn refused(
    page: &Page,
    state: &AppState,
    room_id: i64,
    e: common::Error,
    typed: Typed,
) -> PageResult<HttpResponse> {
    if matches!(e, common::Error::NotFound(common::error::Entity::Room)) {
        return Err(e.into());
    }
    let (status, message) = refusal(e)?;
    members_page(page, state, room_id, (None, Some(message), typed), status).await
}

/// A form on one member: mute, unmute, kick, ban.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SanctionForm {
    action: String,
    /// How long a mute lasts ("": until lifted).
    mute_secs: String,
    /// How long a ban lasts ("": for good).
    ban_secs: String,
    reason: String,
    nonce: String,
    csrf_token: String,
}

fn parse_secs(raw: &str) -> Result<Option<i64>, common::Error> {
    match raw.trim() {
        "" => Ok(None),
        s => s.parse::<i64>().map(Some).map_err(|_| {
            common::Error::invalid(
                "duration_secs",
                common::error::Code::BadDuration,
                "choose how long it lasts",
            )
        }),
    }
}

/// `POST /rooms/{id}/members/{user_id}/moderate`.
#[post("/rooms/{id}/members/{user_id}/moderate")]
pub async fn moderate(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: web::Form<SanctionForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let (room_id, target) = path.into_inner();
    let typed = Typed {
        target: Some(target),
        reason: form.reason.clone(),
        ..Typed::default()
    };
    let done = async {
        let what = Sanction::parse(&form.action)?;
        let duration_secs = match what {
            Sanction::Mute => parse_secs(&form.mute_secs)?,
            Sanction::Ban => parse_secs(&form.ban_secs)?,
            _ => None,
        };
        let ask = SanctionAsk {
            what,
            user_id: target,
            duration_secs,
            reason: &form.reason,
        };
        actions::moderation::sanction(&state, user, room_id, &ask, &nonce_or_new(&form.nonce)).await
    };
    match done.await {
        Ok(_) => {
            page.set_notice("moderated");
            Ok(see_other(&format!("/rooms/{room_id}/members")))
        }
        Err(e) => refused(&page, &state, room_id, e, typed).await,
    }
}

/// A role or ownership form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoleForm {
    role: String,
    nonce: String,
    csrf_token: String,
}

/// `POST /rooms/{id}/members/{user_id}/role`: `moderator`, `member`, or
/// `owner` (hands the room over).
#[post("/rooms/{id}/members/{user_id}/role")]
pub async fn change_role(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: web::Form<RoleForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let (room_id, target) = path.into_inner();
    let nonce = nonce_or_new(&form.nonce);
    let done = if form.role == "owner" {
        actions::moderation::hand_over(&state, user, room_id, target, &nonce).await
    } else {
        actions::moderation::set_role(&state, user, room_id, target, &form.role, &nonce).await
    };
    match done {
        Ok(_) => {
            page.set_notice("role_changed");
            Ok(see_other(&format!("/rooms/{room_id}/members")))
        }
        Err(e) => refused(&page, &state, room_id, e, Typed::default()).await,
    }
}

/// Invite someone by name.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct InviteForm {
    username: String,
    csrf_token: String,
}

/// `POST /rooms/{id}/invites`.
#[post("/rooms/{id}/invites")]
pub async fn invite(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<InviteForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = *path;
    match actions::invites::invite_person(&state, user, room_id, &form.username).await {
        Ok(_) => {
            page.set_notice("invited");
            Ok(see_other(&format!("/rooms/{room_id}/members")))
        }
        Err(e) => {
            let typed = Typed {
                invitee: form.username.clone(),
                ..Typed::default()
            };
            refused(&page, &state, room_id, e, typed).await
        }
    }
}

/// Make an invite link.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LinkForm {
    expires_in_secs: String,
    max_uses: String,
    csrf_token: String,
}

/// `POST /rooms/{id}/invite-links`: the page with the new link, shown once.
#[post("/rooms/{id}/invite-links")]
pub async fn make_link(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<LinkForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = *path;
    let made = async {
        let expires = parse_secs(&form.expires_in_secs)?.unwrap_or(86_400);
        let max_uses = match form.max_uses.trim() {
            "" => None,
            s => Some(s.parse::<i64>().map_err(|_| {
                common::Error::invalid(
                    "max_uses",
                    common::error::Code::BadMaxUses,
                    "the number of uses is 1 to 1000, or empty for any",
                )
            })?),
        };
        actions::invites::create_link(&state, user, room_id, expires, max_uses).await
    };
    match made.await {
        Ok((_, token)) => {
            let url = format!(
                "{}/invites/{token}",
                state.config.common.public_origin.as_str()
            );
            members_page(
                &page,
                &state,
                room_id,
                (Some(url), None, Typed::default()),
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => refused(&page, &state, room_id, e, Typed::default()).await,
    }
}

/// `POST /rooms/{id}/invites/{invite_id}/revoke`.
#[post("/rooms/{id}/invites/{invite_id}/revoke")]
pub async fn revoke(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let (room_id, invite_id) = path.into_inner();
    match actions::invites::revoke(&state, user, room_id, invite_id).await {
        Ok(()) => {
            page.set_notice("invite_revoked");
            Ok(see_other(&format!("/rooms/{room_id}/members")))
        }
        Err(e) => refused(&page, &state, room_id, e, Typed::default()).await,
    }
}

/// The room's settings form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    topic: Option<String>,
    slow_mode_secs: Option<String>,
    visibility: Option<String>,
    /// The emotion tags box (`true` when ticked), and whether the form
    /// showed it at all (only the owner's does).
    emotions: Option<String>,
    emotions_shown: Option<String>,
    nonce: String,
    csrf_token: String,
}

/// `POST /rooms/{id}/settings`: topic and slow mode (moderators),
/// visibility (the owner); each change a room event.
#[post("/rooms/{id}/settings")]
pub async fn settings(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<SettingsForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = *path;
    let typed = Typed {
        topic: form.topic.clone(),
        slow_mode: form.slow_mode_secs.clone(),
        ..Typed::default()
    };
    let done = async {
        let slow_mode_secs = match form.slow_mode_secs.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(s.parse::<i64>().map_err(|_| {
                common::Error::invalid(
                    "slow_mode_secs",
                    common::error::Code::SlowModeRange,
                    "slow mode is a number of seconds, 0 (off) to 21600",
                )
            })?),
        };
        let changes = RoomChanges {
            topic: form.topic.clone(),
            visibility: form.visibility.clone().filter(|v| !v.is_empty()),
            slow_mode_secs,
            emotions: form
                .emotions_shown
                .is_some()
                .then(|| form.emotions.as_deref() == Some("true")),
        };
        actions::moderation::update_room(
            &state,
            user,
            room_id,
            &changes,
            &nonce_or_new(&form.nonce),
        )
        .await
    };
    match done.await {
        Ok(()) => {
            page.set_notice("room_saved");
            Ok(see_other(&format!("/rooms/{room_id}/members")))
        }
        Err(e) => refused(&page, &state, room_id, e, typed).await,
    }
}

/// An entry of the log as the page shows it.
struct LogLine {
    when: String,
    when_iso: String,
    text: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "moderation.html")]
struct LogPage {
    ctx: PageContext,
    room_id: i64,
    room_name: String,
    entries: Vec<LogLine>,
    older: Option<String>,
}

/// Which page of the log.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogQuery {
    before: Option<i64>,
}

/// `GET /rooms/{id}/moderation`: the log, for moderators.
#[get("/rooms/{id}/moderation")]
pub async fn log(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<LogQuery>,
) -> PageResult<HttpResponse> {
    const PAGE: i64 = 50;
    let user = page.require_user()?;
    let room_id = *path;
    let entries = actions::moderation::log(&state, user, room_id, query.before, PAGE).await?;
    let (room, _) = actions::rooms::get(&state, user, room_id).await?;
    let times = page.times(&state).await;
    let ids: Vec<i64> = entries
        .iter()
        .flat_map(|e| {
            [
                e.actor.as_ref().map(|a| a.0),
                e.target.as_ref().map(|t| t.0),
            ]
        })
        .flatten()
        .collect();
    let names = Names::load(&state, &ids).await?;
    let older = (entries.len() as i64 == PAGE)
        .then(|| {
            entries
                .last()
                .map(|e| format!("/rooms/{room_id}/moderation?before={}", e.id))
        })
        .flatten();
    let lines = entries
        .into_iter()
        .map(|e| LogLine {
            when: times.date_time(&e.created_at),
            when_iso: e.created_at.to_rfc3339(),
            text: log_text(&e, &names, &times),
            reason: e.reason.clone(),
        })
        .collect();
    let view = LogPage {
        ctx: page.context_with_sidebar(&state, Some(room_id)).await,
        room_id,
        room_name: room.room.name,
        entries: lines,
        older,
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// An entry in words, like the notices between messages.
fn log_text(e: &common::store::modlog::Entry, names: &Names, times: &Times) -> String {
    let person = |p: &Option<(i64, String)>| {
        p.as_ref()
            .map(|(id, name)| names.shown_by_id(id, name))
            .unwrap_or_else(|| "someone".to_owned())
    };
    let (by, target) = (person(&e.actor), person(&e.target));
    let until = |forever: &str| match e.until.filter(|t| !access::is_forever(*t)) {
        Some(t) => format!("until {}", times.date_time(&t)),
        None => forever.to_owned(),
    };
    match e.action.as_str() {
        "delete" => format!("{by} deleted a message by {target}"),
        "kick" => format!("{by} removed {target}"),
        "ban" => format!("{by} banned {target} {}", until("for good")),
        "unban" => format!("{by} lifted {target}'s ban"),
        "mute" => format!("{by} muted {target} {}", until("until further notice")),
        "unmute" => format!("{by} unmuted {target}"),
        "role" => format!("{by} made {target} a {}", e.detail),
        "owner" => format!("{by} handed the room over to {target}"),
        "topic" if e.detail.is_empty() => format!("{by} cleared the topic"),
        "topic" => format!("{by} set the topic: {}", e.detail),
        "visibility" => format!("{by} made the room {}", e.detail),
        "slow_mode" if e.detail == "0" => format!("{by} turned off slow mode"),
        "slow_mode" => format!(
            "{by} set slow mode to one message every {}",
            super::notice::span(e.detail.parse().unwrap_or(0))
        ),
        other => format!("{by}: {other}"),
    }
}
