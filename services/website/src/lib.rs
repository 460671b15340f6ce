//! Parley's website service: server-rendered pages, accounts and sessions,
//! rooms, and the JSON API v1. `main.rs` reads the configuration and calls
//! [`server`]; the integration tests do the same on port 0.

// Every public item says why it is there (clippy -D warnings enforces it).
#![warn(missing_docs)]

pub mod actions;
pub mod api;
pub mod availability;
pub mod avatar;
pub mod config;
pub mod error;
pub mod health;
pub mod metrics;
pub mod pages;
pub mod semantic;
pub mod state;
pub mod uploads;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, dev::Server, get};

use crate::state::AppState;

/// `/favicon.ico` for browsers that ask for it by that name.
#[get("/favicon.ico")]
async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .body(&include_bytes!("../static/favicon.svg")[..])
}

/// Every route of the website, in one table.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .configure(api::configure)
        .service(pages::home::index)
        .service(pages::account::register_page)
        .service(pages::account::register)
        .service(pages::account::login_page)
        .service(pages::account::login)
        .service(pages::account::logout)
        .service(pages::settings::show)
        .service(pages::settings::change_password)
        .service(pages::settings::save_preferences)
        .service(pages::settings::sign_out)
        .service(pages::settings::sign_out_others)
        .service(pages::rooms::list)
        .service(pages::rooms::create)
        .service(pages::room::show)
        .service(pages::files::serve)
        .service(pages::mood::show)
        .service(pages::room::send_with_files)
        .service(pages::room::send)
        .service(pages::room::delete)
        .service(pages::room::join)
        .service(pages::room::leave)
        .service(pages::room::read)
        .service(pages::room::notifications)
        .service(pages::people::show)
        .service(pages::people::moderate)
        .service(pages::people::change_role)
        .service(pages::people::invite)
        .service(pages::people::make_link)
        .service(pages::people::revoke)
        .service(pages::people::settings)
        .service(pages::people::log)
        .service(pages::invites::show)
        .service(pages::invites::accept_link)
        .service(pages::invites::accept)
        .service(pages::invites::decline)
        .service(pages::catch_up::show)
        .service(pages::search::show)
        .service(pages::assistant::stop)
        .service(pages::assistant::list)
        .service(pages::assistant::start)
        .service(pages::assistant::rename)
        .service(pages::assistant::delete)
        .service(pages::message::edit_page)
        .service(pages::message::edit)
        .service(pages::message::delete_page)
        .service(pages::message::delete)
        .service(pages::message::react_page)
        .service(pages::message::react)
        .service(pages::users::show)
        .service(pages::users::short)
        .service(pages::users::block)
        .service(pages::users::unblock)
        .service(pages::users::avatar_svg)
        .service(pages::dms::new)
        .service(pages::dms::start)
        .service(pages::settings::save_profile)
        .service(pages::settings::unblock)
        .service(favicon);
}

/// The HTTP server on `listener`; it stops gracefully on SIGTERM/SIGINT.
pub fn server(state: Arc<AppState>, listener: TcpListener) -> std::io::Result<Server> {
    let shutdown = state.config.common.shutdown_timeout.as_secs();
    let data_workers = state.config.common.http_workers;
    let data = actix_web::web::Data::from(state);
    let server = HttpServer::new(move || {
        let static_dir = data.config.static_dir.clone();
        let body_limit = data.config.body_limit;
        App::new()
            .app_data(data.clone())
            .configure(|cfg| web::extract::configure(cfg, body_limit))
            .wrap(from_fn(web::cookies::apply_queued))
            .wrap(web::headers::security_headers(
                &data.config.common.public_origin,
            ))
            .wrap(from_fn(web::observe::observe))
            .configure(routes)
            .service(actix_files::Files::new("/static", static_dir))
            .default_service(actix_web::web::to(pages::home::not_found))
    })
    .workers(data_workers)
    .listen(listener)?
    .shutdown_timeout(shutdown)
    .run();
    Ok(server)
}
