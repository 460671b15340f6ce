//! `POST /messages/{id}/assistant/stop`: Stop under a question the
//! assistant is answering, without JavaScript. Back to the question.

use actix_web::{HttpResponse, post, web};

use super::{TokenForm, see_other};
use crate::actions;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::page::Page;

/// Stops the answer to message `id` (its asker, or a moderator); 303 back
/// to the question, where what was written so far shows once stored. An
/// answer that ended meanwhile is simply shown.
#[post("/messages/{id}/assistant/stop")]
pub async fn stop(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let job = match actions::assistant::stop(&state, user, *path).await {
        Ok(info) => info.job,
        Err(common::Error::Conflict { .. }) => {
            actions::assistant::of_question(&state, user, *path)
                .await?
                .job
        }
        Err(e) => return Err(e.into()),
    };
    let seq = job.question_seq;
    Ok(see_other(&format!(
        "/rooms/{}?at={seq}#m{seq}",
        job.room_id
    )))
}
