//! People in a room (http.md "People and rooms"): members and roles,
//! settings (topic, visibility, slow mode), invitations by name and by
//! link, kicks, bans and mutes, and the moderation log. Each handler
//! parses, calls one action, and answers.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use common::protocol::{UserRef, rfc3339_millis};
use common::store::invites::Invite;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::messages::idempotency_key;
use super::types::{ErrorBody, RoomEnvelope, RoomJson};
use crate::actions;
use crate::actions::moderation::{RoomChanges, Sanction, SanctionAsk};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// A member as `GET .../members` lists them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberJson {
    /// Who.
    pub user: UserRef,
    /// `owner`, `moderator` or `member`.
    pub role: String,
    /// Muted until then (absent: not muted).
    #[serde(
        default,
        with = "rfc3339_millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub muted_until: Option<DateTime<Utc>>,
    /// When they joined.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: DateTime<Utc>,
}

/// `{members}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    /// The owner first, then moderators, then members by when they joined.
    pub members: Vec<MemberJson>,
}

/// An invitation: to one person (`invitee`) or a link (`url`, shown once,
/// when it is created: only its hash is kept).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteJson {
    /// Names it for revoking.
    pub id: i64,
    /// The room it opens.
    pub room_id: i64,
    /// The person invited (an invitation by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitee_id: Option<i64>,
    /// The link to hand out (only in the answer that creates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When a link stops working.
    #[serde(
        default,
        with = "rfc3339_millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    /// How many times a link may be used (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<i32>,
    /// How many times it was used.
    pub uses: i32,
    /// When it was made.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl InviteJson {
    fn of(i: &Invite, url: Option<String>) -> Self {
        Self {
            id: i.id,
            room_id: i.room_id,
            invitee_id: i.invitee_id,
            url,
            expires_at: i.expires_at,
            max_uses: i.max_uses,
            uses: i.uses,
            created_at: i.created_at,
        }
    }
}

/// `{invite}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteEnvelope {
    /// The invitation.
    pub invite: InviteJson,
}

/// `{invites}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteList {
    /// Newest first.
    pub invites: Vec<InviteJson>,
}

/// A link's terms.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTerms {
    /// 60 s to 30 days.
    pub expires_in_secs: i64,
    /// 1 to 1000; absent: any number.
    #[serde(default)]
    pub max_uses: Option<i64>,
}

/// `{username}` or `{link: {expires_in_secs, max_uses?}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// Whom to invite.
    #[serde(default)]
    pub username: Option<String>,
    /// A link instead.
    #[serde(default)]
    pub link: Option<LinkTerms>,
}

/// `{topic?, visibility?, slow_mode_secs?, emotions?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    /// At most 256 characters.
    #[serde(default)]
    pub topic: Option<String>,
    /// `public` or `private` (the owner only).
    #[serde(default)]
    pub visibility: Option<String>,
    /// 0 (off) to 21600.
    #[serde(default)]
    pub slow_mode_secs: Option<i64>,
    /// Emotion tags on the room's messages (the owner only); off takes the
    /// existing tags back.
    #[serde(default)]
    pub emotions: Option<bool>,
}

/// `{role}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `moderator` or `member`.
    pub role: String,
}

/// `{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerBody {
    /// The member who becomes the owner.
    pub user_id: i64,
}

/// `{user_id, duration_secs?, reason?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionBody {
    /// On whom.
    pub user_id: i64,
    /// 60 s to 366 days (bans and mutes); absent: for good.
    #[serde(default)]
    pub duration_secs: Option<i64>,
    /// Why (at most 500 characters); only moderators read it.
    #[serde(default)]
    pub reason: String,
}

/// One entry of the moderation log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogEntryJson {
    /// Entries are paged by it (`before`).
    pub id: i64,
    /// The room event it made.
    pub seq: i64,
    /// `delete`, `kick`, `ban`, `unban`, `mute`, `unmute`, `role`, `owner`,
    /// `topic`, `visibility`, `slow_mode`.
    pub action: String,
    /// Who did it.
    pub actor: Option<UserRef>,
    /// Whom it concerned.
    pub target: Option<UserRef>,
    /// The deleted message.
    pub message_id: Option<i64>,
    /// The new value (role, topic, visibility, seconds).
    pub detail: String,
    /// When a ban or mute ends (absent: for good, or not one).
    #[serde(
        default,
        with = "rfc3339_millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<DateTime<Utc>>,
    /// The reason given.
    pub reason: String,
    /// When.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// `{actions}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// Newest first.
    pub actions: Vec<LogEntryJson>,
}

/// The log's paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Entries older than this id.
    pub before: Option<i64>,
    /// 1..=200, default 50.
    pub limit: Option<i64>,
}

/// A pending invitation of mine.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingJson {
    /// The room (its id and name: enough to decide).
    pub room: UserRef,
    /// Who invited me.
    pub inviter: Option<String>,
    /// When.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// `{invites}` waiting for my answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingList {
    /// Newest first.
    pub invites: Vec<PendingJson>,
}

fn user_ref(pair: Option<(i64, String)>) -> Option<UserRef> {
    pair.map(|(id, name)| UserRef { id, name })
}

/// The room's members.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/members", tag = "people", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = MemberList), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[get("/rooms/{id}/members")]
pub async fn members(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    member_list(&state, &user, *path).await
}

async fn member_list(state: &AppState, user: &ApiUser, room: i64) -> ApiResult<HttpResponse> {
    let rows = actions::moderation::members_of(state, user.actor(), room)
        .await?
        .rows;
    Ok(HttpResponse::Ok().json(MemberList {
        members: rows
            .into_iter()
            .map(|m| MemberJson {
                user: UserRef {
                    id: m.user_id,
                    name: m.username,
                },
                role: m.role.as_str().to_owned(),
                muted_until: m.muted_until.filter(|t| *t > Utc::now()),
                joined_at: m.joined_at,
            })
            .collect(),
    }))
}

/// Changes a room's topic and slow mode (moderators) or visibility and
/// emotion tags (the owner); each change but the last is a room event.
#[utoipa::path(patch, path = "/api/v1/rooms/{id}", tag = "people", params(("id" = i64, Path)), request_body = RoomPatch, security(("bearer" = [])),
    responses((status = 200, body = RoomEnvelope), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "`name_taken`: going public under another public room's name", body = ErrorBody),
              (status = 422, description = "`topic_length`, `bad_visibility`, `slow_mode_range`", body = ErrorBody)))]
#[patch("/rooms/{id}")]
pub async fn update(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<RoomPatch>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let changes = RoomChanges {
        topic: body.topic,
        visibility: body.visibility,
        slow_mode_secs: body.slow_mode_secs,
        emotions: body.emotions,
    };
    let nonce = idempotency_key(&req);
    actions::moderation::update_room(&state, user.actor(), *path, &changes, &nonce).await?;
    let (view, standing) = actions::rooms::get(&state, user.actor(), *path).await?;
    Ok(HttpResponse::Ok().json(RoomEnvelope {
        room: RoomJson::seen_by(&view, &standing),
    }))
}

/// Invites a person by name (any member) or makes a link (moderators).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/invites", tag = "people", params(("id" = i64, Path)), request_body = InviteBody, security(("bearer" = [])),
    responses((status = 201, body = InviteEnvelope), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "`already_member`", body = ErrorBody),
              (status = 422, description = "`user_not_found`, `self_invite`, `bad_duration`, `bad_max_uses`, `invalid_body`", body = ErrorBody)))]
#[post("/rooms/{id}/invites")]
pub async fn invite(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<InviteBody>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let answer = match (body.username, body.link) {
        (Some(name), None) => {
            let invite =
                actions::invites::invite_person(&state, user.actor(), *path, &name).await?;
            InviteJson::of(&invite, None)
        }
        (None, Some(link)) => {
            let (invite, token) = actions::invites::create_link(
                &state,
                user.actor(),
                *path,
                link.expires_in_secs,
                link.max_uses,
            )
            .await?;
            let url = format!(
                "{}/invites/{token}",
                state.config.common.public_origin.as_str()
            );
            InviteJson::of(&invite, Some(url))
        }
        _ => {
            return Err(common::Error::invalid(
                "username",
                common::error::Code::InvalidBody,
                "give either a username or a link",
            )
            .into());
        }
    };
    Ok(HttpResponse::Created().json(InviteEnvelope { invite: answer }))
}

/// A room's open invitations and links (moderators).
#[utoipa::path(get, path = "/api/v1/rooms/{id}/invites", tag = "people", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = InviteList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/rooms/{id}/invites")]
pub async fn invites(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let open = actions::invites::open_in(&state, user.actor(), *path).await?;
    Ok(HttpResponse::Ok().json(InviteList {
        invites: open.iter().map(|i| InviteJson::of(i, None)).collect(),
    }))
}

/// Revokes an invitation or link (moderators).
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/invites/{invite_id}", tag = "people",
    params(("id" = i64, Path), ("invite_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/rooms/{id}/invites/{invite_id}")]
pub async fn revoke(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (room, invite_id) = path.into_inner();
    actions::invites::revoke(&state, user.actor(), room, invite_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accepts an invite link: I become a member.
#[utoipa::path(post, path = "/api/v1/invites/{token}/accept", tag = "people", params(("token" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RoomEnvelope), (status = 403, description = "`banned`", body = ErrorBody),
              (status = 404, description = "unknown or revoked", body = ErrorBody),
              (status = 410, description = "`invite_expired`, `invite_used_up`", body = ErrorBody)))]
#[post("/invites/{token}/accept")]
pub async fn accept_link(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = actions::invites::accept_link(&state, user.actor(), &path).await?;
    let (view, standing) = actions::rooms::get(&state, user.actor(), view.room.id).await?;
    Ok(HttpResponse::Ok().json(RoomEnvelope {
        room: RoomJson::seen_by(&view, &standing),
    }))
}

/// The invitations waiting for my answer.
#[utoipa::path(get, path = "/api/v1/me/invites", tag = "people", security(("bearer" = [])),
    responses((status = 200, body = PendingList), (status = 401, body = ErrorBody)))]
#[get("/me/invites")]
pub async fn pending(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let list = actions::invites::pending(&state, user.actor()).await?;
    Ok(HttpResponse::Ok().json(PendingList {
        invites: list
            .into_iter()
            .map(|p| PendingJson {
                room: UserRef {
                    id: p.room_id,
                    name: p.room_name,
                },
                inviter: p.inviter,
                created_at: p.created_at,
            })
            .collect(),
    }))
}

/// Accepts my invitation to a room.
#[utoipa::path(post, path = "/api/v1/me/invites/{room_id}/accept", tag = "people", params(("room_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = RoomEnvelope), (status = 403, description = "`banned`", body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/me/invites/{room_id}/accept")]
pub async fn accept(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    actions::invites::accept(&state, user.actor(), *path).await?;
    let (view, standing) = actions::rooms::get(&state, user.actor(), *path).await?;
    Ok(HttpResponse::Ok().json(RoomEnvelope {
        room: RoomJson::seen_by(&view, &standing),
    }))
}

/// Declines my invitation to a room.
#[utoipa::path(delete, path = "/api/v1/me/invites/{room_id}", tag = "people", params(("room_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[delete("/me/invites/{room_id}")]
pub async fn decline(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    actions::invites::decline(&state, user.actor(), *path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Makes a member a moderator or a moderator a member (the owner).
#[utoipa::path(put, path = "/api/v1/rooms/{id}/members/{user_id}/role", tag = "people",
    params(("id" = i64, Path), ("user_id" = i64, Path)), request_body = RoleBody, security(("bearer" = [])),
    responses((status = 200, body = MemberList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "`cannot_demote_owner`, `not_member`", body = ErrorBody),
              (status = 422, description = "`bad_role`, `cannot_moderate_self`", body = ErrorBody)))]
#[put("/rooms/{id}/members/{user_id}/role")]
pub async fn set_role(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    body: web::Json<RoleBody>,
) -> ApiResult<HttpResponse> {
    let (room, target) = path.into_inner();
    let nonce = idempotency_key(&req);
    actions::moderation::set_role(&state, user.actor(), room, target, &body.role, &nonce).await?;
    member_list(&state, &user, room).await
}

/// Hands the room over to another member; the owner stays a moderator.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/owner", tag = "people", params(("id" = i64, Path)), request_body = OwnerBody, security(("bearer" = [])),
    responses((status = 200, body = RoomEnvelope), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "`not_member`", body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/rooms/{id}/owner")]
pub async fn hand_over(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<OwnerBody>,
) -> ApiResult<HttpResponse> {
    let nonce = idempotency_key(&req);
    actions::moderation::hand_over(&state, user.actor(), *path, body.user_id, &nonce).await?;
    let (view, standing) = actions::rooms::get(&state, user.actor(), *path).await?;
    Ok(HttpResponse::Ok().json(RoomEnvelope {
        room: RoomJson::seen_by(&view, &standing),
    }))
}

async fn apply_sanction(
    req: &HttpRequest,
    user: &ApiUser,
    state: &AppState,
    room: i64,
    ask: SanctionAsk<'_>,
) -> ApiResult<HttpResponse> {
    let nonce = idempotency_key(req);
    actions::moderation::sanction(state, user.actor(), room, &ask, &nonce).await?;
    Ok(HttpResponse::NoContent().finish())
}

macro_rules! sanction_handler {
    ($name:ident, $path:literal, $route:literal, $what:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "people", params(("id" = i64, Path)),
            request_body = SanctionBody, security(("bearer" = [])),
            responses((status = 204), (status = 403, description = "`forbidden`, `outranks_you`", body = ErrorBody), (status = 404, body = ErrorBody),
                      (status = 409, description = "`not_member`", body = ErrorBody),
                      (status = 422, description = "`cannot_moderate_self`, `bad_duration`, `reason_invalid`, `user_not_found`", body = ErrorBody)))]
        #[post($route)]
        pub async fn $name(
            req: HttpRequest,
            user: ApiUser,
            state: web::Data<AppState>,
            path: web::Path<i64>,
            body: web::Json<SanctionBody>,
        ) -> ApiResult<HttpResponse> {
            let ask = SanctionAsk {
                what: $what,
                user_id: body.user_id,
                duration_secs: body.duration_secs,
                reason: &body.reason,
            };
            apply_sanction(&req, &user, &state, *path, ask).await
        }
    };
}

macro_rules! lift_handler {
    ($name:ident, $path:literal, $route:literal, $what:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(delete, path = $path, tag = "people", params(("id" = i64, Path), ("user_id" = i64, Path)),
            security(("bearer" = [])),
            responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                      (status = 409, description = "`not_restricted`", body = ErrorBody)))]
        #[delete($route)]
        pub async fn $name(
            req: HttpRequest,
            user: ApiUser,
            state: web::Data<AppState>,
            path: web::Path<(i64, i64)>,
        ) -> ApiResult<HttpResponse> {
            let (room, user_id) = path.into_inner();
            let ask = SanctionAsk {
                what: $what,
                user_id,
                duration_secs: None,
                reason: "",
            };
            apply_sanction(&req, &user, &state, room, ask).await
        }
    };
}

sanction_handler!(
    kick,
    "/api/v1/rooms/{id}/kicks",
    "/rooms/{id}/kicks",
    Sanction::Kick,
    "Takes a member out of the room (moderators and the owner)."
);
sanction_handler!(
    ban,
    "/api/v1/rooms/{id}/bans",
    "/rooms/{id}/bans",
    Sanction::Ban,
    "Takes someone out and keeps them out, for `duration_secs` or for good."
);
sanction_handler!(
    mute,
    "/api/v1/rooms/{id}/mutes",
    "/rooms/{id}/mutes",
    Sanction::Mute,
    "Lets a member read but not post or react, for `duration_secs` or until lifted."
);
lift_handler!(
    unban,
    "/api/v1/rooms/{id}/bans/{user_id}",
    "/rooms/{id}/bans/{user_id}",
    Sanction::Unban,
    "Lifts a ban."
);
lift_handler!(
    unmute,
    "/api/v1/rooms/{id}/mutes/{user_id}",
    "/rooms/{id}/mutes/{user_id}",
    Sanction::Unmute,
    "Lifts a mute."
);

/// The room's moderation log, newest first (moderators and the owner).
#[utoipa::path(get, path = "/api/v1/rooms/{id}/moderation", tag = "people", params(("id" = i64, Path), LogQuery), security(("bearer" = [])),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/rooms/{id}/moderation")]
pub async fn log(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<LogQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(crate::error::Error::bad_request(
            common::error::Code::BadLimit,
            "limit must be between 1 and 200",
        )
        .into());
    }
    let entries =
        actions::moderation::log(&state, user.actor(), *path, query.before, limit).await?;
    Ok(HttpResponse::Ok().json(LogPage {
        actions: entries
            .into_iter()
            .map(|e| LogEntryJson {
                id: e.id,
                seq: e.seq,
                action: e.action,
                actor: user_ref(e.actor),
                target: user_ref(e.target),
                message_id: e.message_id,
                detail: e.detail,
                until: e.until.filter(|t| !common::access::is_forever(*t)),
                reason: e.reason,
                created_at: e.created_at,
            })
            .collect(),
    }))
}
