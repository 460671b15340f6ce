//! The JSON API, version 1, under `/api/v1`. Every error is
//! `{"error":{"code","message"}}` (see `error.rs`).

pub mod assistant;
pub mod attachments;
pub mod auth;
pub mod blocks;
pub mod chats;
pub mod dms;
pub mod events;
pub mod me;
pub mod messages;
pub mod mood;
pub mod openapi;
pub mod people;
pub mod personal;
pub mod preferences;
pub mod reactions;
pub mod rooms;
pub mod search;
pub mod types;
pub mod users;

use actix_web::web;

/// Registers every `/api/v1` route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(auth::register)
            .service(auth::login)
            .service(auth::logout)
            .service(auth::available)
            .service(users::me)
            .service(users::update_me)
            .service(users::show)
            .service(blocks::list)
            .service(blocks::add)
            .service(blocks::remove)
            .service(me::list)
            .service(me::revoke)
            .service(me::revoke_others)
            .service(me::change_password)
            .service(preferences::get)
            .service(preferences::put)
            .service(preferences::put_room_level)
            .service(preferences::delete_room_level)
            .service(personal::suggestions)
            .service(rooms::list)
            .service(rooms::create)
            .service(rooms::get)
            .service(rooms::delete)
            .service(rooms::join)
            .service(rooms::leave)
            .service(people::members)
            .service(people::update)
            .service(people::invite)
            .service(people::invites)
            .service(people::revoke)
            .service(people::accept_link)
            .service(people::pending)
            .service(people::accept)
            .service(people::decline)
            .service(people::set_role)
            .service(people::hand_over)
            .service(people::log)
            .service(people::kick)
            .service(people::ban)
            .service(people::mute)
            .service(people::unban)
            .service(people::unmute)
            .service(dms::create)
            .service(search::search)
            .service(assistant::show)
            .service(assistant::stop)
            .service(chats::list)
            .service(chats::create)
            .service(chats::rename)
            .service(chats::remove)
            .service(messages::list)
            .service(messages::send)
            .service(attachments::upload)
            .service(messages::edit)
            .service(messages::remove)
            .service(reactions::add)
            .service(reactions::remove)
            .service(mood::show)
            .service(events::list)
            .service(events::read)
            .service(events::mine)
            .service(openapi::document),
    );
}
