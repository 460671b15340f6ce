//! The OpenAPI 3 document of `/api/v1`, generated from the handlers'
//! annotations so it cannot drift from the code.

use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    assistant, attachments, auth, blocks, chats, dms, events, me, messages, mood, people, personal,
    preferences, reactions, rooms, search, users,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        scheme.description =
            Some("The token from /api/v1/auth/login; browsers may use the session cookie instead (Origin checked).".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Parley's API, version 1.
#[derive(OpenApi)]
#[openapi(
    info(title = "Parley API", version = "1", description = "Accounts, rooms and messages. Errors are {\"error\":{\"code\",\"message\"}}."),
    paths(
        auth::register, auth::login, auth::logout, auth::available,
        users::me, users::update_me, users::show,
        blocks::list, blocks::add, blocks::remove,
        me::list, me::revoke, me::revoke_others, me::change_password,
        preferences::get, preferences::put, preferences::put_room_level, preferences::delete_room_level,
        personal::suggestions,
        rooms::list, rooms::create, rooms::get, rooms::delete, rooms::join, rooms::leave,
        people::members, people::update, people::invite, people::invites, people::revoke,
        people::accept_link, people::pending, people::accept, people::decline,
        people::set_role, people::hand_over, people::kick, people::ban, people::mute,
        people::unban, people::unmute, people::log,
        dms::create,
        messages::list, messages::send, messages::edit, messages::remove,
        attachments::upload,
        reactions::add, reactions::remove,
        events::list, events::read, events::mine,
        mood::show,
        search::search,
        assistant::show, assistant::stop,
        chats::list, chats::create, chats::rename, chats::remove,
        document,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3 JSON")))]
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ApiDoc::openapi().to_json().unwrap_or_default())
}
