//! `/register`, `/login`, `/logout`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{see_other, see_other_with_cookie};
use crate::actions::accounts::{self, Registration};
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::auth::session_cookie;
use crate::web::client_ip::client_device;
use crate::web::cookies;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::redirect::safe_next;
use crate::web::render::{FieldErrors, render};

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    ctx: PageContext,
    username: String,
    email: String,
    errors: FieldErrors,
    problem: Option<String>,
}

/// The registration form as posted; missing fields read as empty, so the page can say what is missing rather than refuse the post.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RegisterForm {
    username: String,
    email: String,
    password: String,
    csrf_token: String,
}

/// `GET /register`: the empty form; a signed-in visitor goes on to the rooms.
#[get("/register")]
pub async fn register_page(page: Page) -> PageResult<HttpResponse> {
    if page.user.is_some() {
        return Ok(see_other("/rooms"));
    }
    let view = RegisterPage {
        ctx: page.context(),
        username: String::new(),
        email: String::new(),
        errors: FieldErrors::default(),
        problem: None,
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// `POST /register`: signs the new account in (303 to the rooms), or
/// shows the form again with each problem beside its field.
#[post("/register")]
pub async fn register(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<RegisterForm>,
) -> PageResult<HttpResponse> {
    page.verify_csrf_signed_out(&form.csrf_token)?;
    let mut errors = FieldErrors::default();
    let mut problem = None;
    let mut status = StatusCode::BAD_REQUEST;
    match Registration::parse(&form.username, &form.email, &form.password) {
        Err(list) => {
            for e in list {
                errors.absorb(e)?;
            }
        }
        Ok(registration) => {
            let device = client_device(page.request(), &state.config);
            match accounts::register(&state, &device, &registration).await {
                Ok((_, token)) => {
                    page.set_notice("welcome");
                    page.rotate_csrf();
                    return Ok(see_other_with_cookie(
                        "/rooms",
                        session_cookie(&state, &token),
                    ));
                }
                Err(e @ common::Error::RateLimited { .. }) => {
                    status = StatusCode::TOO_MANY_REQUESTS;
                    problem = Some(e.to_string());
                }
                Err(e) => {
                    errors.absorb(e)?;
                    status = errors.status();
                }
            }
        }
    }
    let view = RegisterPage {
        ctx: page.context(),
        username: form.username.clone(),
        email: form.email.clone(),
        errors,
        problem,
    };
    Ok(render(status, &view)?)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageContext,
    login: String,
    next: String,
    errors: FieldErrors,
    problem: Option<String>,
}

/// Where to go after logging in: the page that sent the visitor here.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
}

/// The login form as posted; missing fields read as empty, so the page can say what is missing rather than refuse the post.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    login: String,
    password: String,
    next: String,
    csrf_token: String,
}

fn after_login(next: &str) -> String {
    safe_next(next).unwrap_or_else(|| "/rooms".into())
}

/// `GET /login`: the form, carrying a safe `next` along.
#[get("/login")]
pub async fn login_page(page: Page, query: web::Query<LoginQuery>) -> PageResult<HttpResponse> {
    if page.user.is_some() {
        return Ok(see_other(&after_login(&query.next)));
    }
    let view = LoginPage {
        ctx: page.context(),
        login: String::new(),
        next: safe_next(&query.next).unwrap_or_default(),
        errors: FieldErrors::default(),
        problem: None,
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// `POST /login`: 303 to `next` (if same-site) or the rooms; a wrong login
/// shows the form again with one answer for every kind of mistake.
#[post("/login")]
pub async fn login(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> PageResult<HttpResponse> {
    page.verify_csrf_signed_out(&form.csrf_token)?;
    let mut errors = FieldErrors::default();
    if form.login.trim().is_empty() {
        errors.add("login", "Enter your username or e-mail.");
    }
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    let mut problem = None;
    let mut status = StatusCode::BAD_REQUEST;
    if errors.is_empty() {
        let device = client_device(page.request(), &state.config);
        match accounts::login(&state, &device, &form.login, &form.password).await {
            Ok((_, token)) => {
                page.rotate_csrf();
                return Ok(see_other_with_cookie(
                    &after_login(&form.next),
                    session_cookie(&state, &token),
                ));
            }
            Err(e @ common::Error::RateLimited { .. }) => {
                status = StatusCode::TOO_MANY_REQUESTS;
                problem = Some(e.to_string());
            }
            Err(e @ common::Error::Unauthenticated(_)) => problem = Some(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    let view = LoginPage {
        ctx: page.context(),
        login: form.login.clone(),
        next: safe_next(&form.next).unwrap_or_default(),
        errors,
        problem,
    };
    Ok(render(status, &view)?)
}

/// The sign-out form: only its CSRF token, so no other site can sign a
/// visitor out.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogoutForm {
    csrf_token: String,
}

/// `POST /logout`: revokes the session, clears the cookie, 303 to `/`.
#[post("/logout")]
pub async fn logout(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<LogoutForm>,
) -> PageResult<HttpResponse> {
    page.verify_csrf(&form.csrf_token)?;
    if let Some(user) = &page.user {
        accounts::logout(&state, user.sid).await?;
    }
    page.set_notice("signed_out");
    page.rotate_csrf();
    let secure = state.config.common.public_origin.is_https();
    Ok(see_other_with_cookie(
        "/",
        cookies::removal(cookies::Name::Session, secure),
    ))
}
