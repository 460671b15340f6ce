//! What every page handler starts from: the signed-in user (if any), the
//! CSRF token for its forms, the notice left by the previous POST, and the
//! redirect to the login page for pages that need an account.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use common::preferences::{Preferences, SidebarOrder};

use super::auth::{Session, app_state, authenticate};
use super::cookies::{self, Name};
use super::layout::{PageContext, Sidebar, SidebarInvite, SidebarRoom};
use super::times::Times;
use super::{csrf, redirect};
use crate::actions::Actor;
use crate::error::{Error, PageError};
use crate::state::AppState;

/// The page extractor: what every page needs about the request.
pub struct Page {
    /// The signed-in user's session; `None` when signed out (or stale).
    pub user: Option<Session>,
    /// The token this page's forms carry.
    pub csrf_token: String,
    /// A one-shot notice from the previous POST.
    pub notice: Option<&'static str>,
    req: HttpRequest,
}

/// Notices a POST can leave for the next page, by code: the cookie carries
/// only a code, so a crafted cookie cannot put its own text on a page.
const NOTICES: &[(&str, &str)] = &[
    ("welcome", "Welcome to Parley! Your account is ready."),
    ("signed_in", "You are signed in."),
    ("signed_out", "You are signed out."),
    ("room_deleted", "The room was deleted."),
    ("chat_deleted", "The chat was deleted."),
    ("chat_renamed", "The chat is renamed."),
    ("joined", "You joined the room: it is in your rooms now."),
    ("left", "You left the room: it is no longer in your rooms."),
    ("marked_read", "Marked as read."),
    ("message_deleted", "The message was deleted."),
    (
        "password_changed",
        "Your password is changed, and you are signed out everywhere else.",
    ),
    ("session_signed_out", "That session is signed out."),
    ("profile_saved", "Your profile is saved."),
    (
        "blocked",
        "Blocked: their messages are collapsed for you, and they are not told.",
    ),
    ("unblocked", "Unblocked: you see their messages again."),
    ("preferences_saved", "Your preferences are saved."),
    ("moderated", "Done: everyone in the room sees it."),
    ("role_changed", "The role is changed."),
    ("invited", "Invitation sent: they see it in their sidebar."),
    ("invite_revoked", "The invitation is revoked."),
    ("room_saved", "The room's settings are saved."),
    (
        "invite_accepted",
        "Welcome: you are a member of the room now.",
    ),
    ("invite_declined", "Invitation declined."),
    (
        "notifications_saved",
        "Notifications for this room are saved.",
    ),
    (
        "signed_out_elsewhere",
        "You are signed out everywhere else.",
    ),
];

impl Page {
    /// The signed-in user, or a redirect to the login page that comes back here.
    /// After a form POST it comes back to the page the form was on (a POST
    /// path cannot be visited), else to the rooms.
    pub fn require_user(&self) -> Result<&Actor, PageError> {
        self.user.as_ref().map(|s| &s.actor).ok_or_else(|| {
            let next = if self.req.method() == Method::GET {
                match self.req.query_string() {
                    "" => self.req.path().to_owned(),
                    q => format!("{}?{q}", self.req.path()),
                }
            } else {
                self.form_page().unwrap_or_else(|| "/rooms".to_owned())
            };
            PageError(Error::LoginRequired { next })
        })
    }

    /// The same-site page a form was submitted from, from `Referer`.
    fn form_page(&self) -> Option<String> {
        let state = app_state(&self.req).ok()?;
        let referer = self.req.headers().get(header::REFERER)?.to_str().ok()?;
        let path = referer.strip_prefix(state.config.common.public_origin.as_str())?;
        redirect::safe_next(path)
    }

    /// Refuses a POST whose CSRF token was not issued to this browser and
    /// this session, or that another site (even a sibling subdomain) sent.
    pub fn verify_csrf(&self, submitted: &str) -> Result<(), PageError> {
        self.verify_csrf_for(submitted, self.user.as_ref().map(|u| u.sid))
    }

    /// [`Self::verify_csrf`] for the forms of a signed-out visitor (sign
    /// in, register): their token names no session, even if another tab
    /// has signed in meanwhile.
    pub fn verify_csrf_signed_out(&self, submitted: &str) -> Result<(), PageError> {
        self.verify_csrf_for(submitted, None)
    }

    fn verify_csrf_for(&self, submitted: &str, sid: Option<uuid::Uuid>) -> Result<(), PageError> {
        let state = app_state(&self.req)?;
        let fetch_site = self.req.headers().get("sec-fetch-site");
        if fetch_site.is_some_and(|v| v != "same-origin" && v != "none") {
            return Err(PageError(Error::Csrf));
        }
        let secure = state.config.common.public_origin.is_https();
        csrf::verify(&self.req, &state.csrf_key, secure, sid, submitted).map_err(PageError)
    }

    /// Gives the browser a new CSRF secret with this response: at sign-in,
    /// registration and sign-out, when who the browser is changes.
    pub fn rotate_csrf(&self) {
        let secure = app_state(&self.req)
            .map(|s| s.config.common.public_origin.is_https())
            .unwrap_or(true);
        csrf::rotate(&self.req, secure);
    }

    /// Leaves a notice for the page the browser is redirected to.
    pub fn set_notice(&self, code: &'static str) {
        let secure = app_state(&self.req)
            .map(|s| s.config.common.public_origin.is_https())
            .unwrap_or(true);
        cookies::queue(
            &self.req,
            cookies::build(Name::Flash, code.to_owned(), secure, Some(60)),
        );
    }

    /// The request, for what a handler reads beyond this (the client address).
    pub fn request(&self) -> &HttpRequest {
        &self.req
    }

    /// What the layout shows around this page.
    pub fn context(&self) -> PageContext {
        PageContext {
            username: self.user.as_ref().map(|u| u.actor.username.clone()),
            shown_name: self
                .user
                .as_ref()
                .map(|u| {
                    common::domain::DisplayName::or_username(&u.display_name, &u.actor.username)
                        .to_owned()
                })
                .unwrap_or_default(),
            csrf_token: self.csrf_token.clone(),
            notice: self.notice,
            knows_user: true,
            sidebar: None,
            prefs: Preferences::default(),
            room_levels: String::new(),
        }
    }

    /// The signed-in user's preferences, read once per request (the
    /// defaults when signed out, or when they cannot be read: a page never
    /// fails for them).
    pub async fn preferences(&self, state: &AppState) -> Preferences {
        let Some(session) = &self.user else {
            return Preferences::default();
        };
        if let Some(known) = self.req.extensions().get::<Preferences>() {
            return *known;
        }
        match crate::actions::preferences::get(state, &session.actor).await {
            Ok(prefs) => {
                self.req.extensions_mut().insert(prefs);
                prefs
            }
            Err(e) => {
                tracing::warn!(error = %e, "preferences could not be read; the defaults apply");
                Preferences::default()
            }
        }
    }

    /// How this page writes times: in the user's zone, on their clock.
    pub async fn times(&self, state: &AppState) -> Times {
        Times::of(&self.preferences(state).await)
    }

    /// What the layout shows around this page, with the signed-in user's
    /// sidebar of rooms (`current`: the room the page shows). A sidebar
    /// that cannot be read is left out rather than failing the page.
    pub async fn context_with_sidebar(
        &self,
        state: &AppState,
        current: Option<i64>,
    ) -> PageContext {
        let mut ctx = self.context();
        let Some(session) = &self.user else {
            return ctx;
        };
        ctx.prefs = self.preferences(state).await;
        if ctx.prefs.notifications.browser {
            match crate::actions::preferences::room_levels(state, &session.actor).await {
                Ok(levels) => ctx.room_levels = PageContext::levels_attr(&levels),
                Err(e) => {
                    tracing::warn!(error = %e, "the rooms' notification levels could not be read")
                }
            }
        }
        let invites = match crate::actions::invites::pending(state, &session.actor).await {
            Ok(pending) => pending
                .into_iter()
                .map(|p| SidebarInvite {
                    room_id: p.room_id,
                    room_name: p.room_name,
                    inviter: p.inviter,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "the sidebar's invitations could not be read");
                Vec::new()
            }
        };
        let mine = match crate::actions::rooms::mine(state, &session.actor).await {
            Ok(mut rooms) => {
                crate::actions::personal::order_rooms(state, &session.actor, &ctx.prefs, &mut rooms)
                    .await
                    .map(|()| rooms)
            }
            Err(e) => Err(e),
        };
        match mine {
            Ok(rooms) => {
                let me = session.actor.user_id;
                let (chats, rooms): (Vec<_>, Vec<_>) = rooms
                    .into_iter()
                    .partition(|r| r.room.room.kind() == common::access::Kind::Assistant);
                let (dms, rooms): (Vec<_>, Vec<_>) =
                    rooms.into_iter().partition(|r| r.room.is_dm());
                let entry = |r: crate::actions::rooms::MyRoom| SidebarRoom {
                    id: r.room.room.id,
                    current: Some(r.room.room.id) == current,
                    name: r.room.title_for(me),
                    avatar: r.room.others(me).first().map(|p| p.username.clone()),
                    unread: r.unread.unread,
                    mentions: r.unread.mentions,
                };
                let mut dms: Vec<SidebarRoom> = dms.into_iter().map(entry).collect();
                dms.sort_by_cached_key(|d| (d.name.to_lowercase(), d.id));
                let mut chats: Vec<SidebarRoom> = chats.into_iter().map(entry).collect();
                chats.sort_by_key(|c| std::cmp::Reverse(c.id));
                ctx.sidebar = Some(Sidebar {
                    invites,
                    by_usage: ctx.prefs.effective_sidebar_order() == SidebarOrder::Usage,
                    rooms: rooms.into_iter().map(entry).collect(),
                    dms,
                    chats,
                    me,
                });
            }
            Err(e) => tracing::warn!(error = %e, "the sidebar's rooms could not be read"),
        }
        ctx
    }
}

impl FromRequest for Page {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let secure = state.config.common.public_origin.is_https();
            let user = match authenticate(&req, &state).await {
                Ok(user) => user,
                // A stale or revoked cookie just means "signed out" on pages.
                Err(Error::Core(common::Error::Unauthenticated(_))) => {
                    if cookies::read(&req, Name::Session, secure).is_some() {
                        cookies::queue(&req, cookies::removal(Name::Session, secure));
                    }
                    None
                }
                Err(e) => return Err(PageError(e)),
            };
            let flash = cookies::read(&req, Name::Flash, secure);
            let notice = flash.as_ref().and_then(|c| {
                NOTICES
                    .iter()
                    .find(|(code, _)| *code == c.value())
                    .map(|(_, text)| *text)
            });
            if flash.is_some() {
                cookies::queue(&req, cookies::removal(Name::Flash, secure));
            }
            let sid = user.as_ref().map(|u| u.sid);
            let csrf_token = csrf::token(&req, &state.csrf_key, secure, sid);
            Ok(Page {
                user,
                csrf_token,
                notice,
                req,
            })
        })
    }
}
