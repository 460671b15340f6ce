//! `GET /`: the landing page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::render;

#[derive(Template)]
#[template(path = "index.html")]
struct Index {
    ctx: PageContext,
}

/// `GET /`: the landing page; signed in, it links to the rooms.
#[get("/")]
pub async fn index(page: Page, state: web::Data<AppState>) -> PageResult<HttpResponse> {
    Ok(render(
        StatusCode::OK,
        &Index {
            ctx: page.context_with_sidebar(&state, None).await,
        },
    )?)
}

/// Any path no route matches: the 404 page (JSON under `/api/`).
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    let error = crate::error::Error::PageNotFound;
    if req.path().starts_with("/api/") {
        return Err(crate::error::ApiError(error).into());
    }
    Err(crate::error::PageError(error).into())
}
