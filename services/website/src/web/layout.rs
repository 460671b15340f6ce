//! The layout every page shares (`base.html`): what it needs to know, and
//! the error page. The error page lives here, apart from the extractors and
//! the template helpers, because every error answer needs it and it must
//! render without knowing who is asking.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use common::preferences::{NotifyLevel, Preferences};

/// The layout's data: who is signed in, the CSRF token for the sign-out
/// form, a notice from the previous POST. Pages get theirs from
/// `Page::context`.
pub struct PageContext {
    /// The signed-in user's username (their profile's address).
    pub username: Option<String>,
    /// The name the header shows for them: their display name, else the
    /// username; empty when signed out.
    pub shown_name: String,
    /// For the sign-out form in the header.
    pub csrf_token: String,
    /// A one-shot notice left by the previous POST.
    pub notice: Option<&'static str>,
    /// False on error pages, which do not know who is asking.
    pub knows_user: bool,
    /// The signed-in user's rooms, beside the page; `None` when signed out
    /// (and on pages that do not show it, like the error page).
    pub sidebar: Option<Sidebar>,
    /// How the signed-in user wants pages (theme, density, times, the
    /// composer, notifications); the defaults when signed out.
    pub prefs: Preferences,
    /// The rooms whose notification level the user set, as
    /// `room:level` pairs separated by spaces (read by the scripts; only
    /// filled while desktop notifications are on).
    pub room_levels: String,
}

impl PageContext {
    /// `room:level` pairs for `data-notify-rooms`.
    pub fn levels_attr(levels: &[(i64, NotifyLevel)]) -> String {
        levels
            .iter()
            .map(|(room, level)| format!("{room}:{}", level.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The sidebar of a signed-in page: invitations waiting for an answer,
/// the rooms the user is a member of, in their order (personalization),
/// then their direct messages, by the other people's names, then their
/// assistant chats, newest first, with what is new in each. The room
/// page's script keeps it live.
pub struct Sidebar {
    /// The rooms, in the user's order: by usage or by name (ignoring case).
    pub rooms: Vec<SidebarRoom>,
    /// Invitations waiting for the user's answer, newest first.
    pub invites: Vec<SidebarInvite>,
    /// The rooms are ordered by usage (the sidebar says so, and how to change it).
    pub by_usage: bool,
    /// The direct messages, by name ignoring case.
    pub dms: Vec<SidebarRoom>,
    /// The user's assistant chats, newest first.
    pub chats: Vec<SidebarRoom>,
    /// The signed-in user's id (the script names DMs after the others).
    pub me: i64,
}

/// An invitation in the sidebar, with Accept and Decline.
pub struct SidebarInvite {
    /// The room it opens.
    pub room_id: i64,
    /// Its name (the person was invited: they may know it).
    pub room_name: String,
    /// Who invited them (a username), if that account still exists.
    pub inviter: Option<String>,
}

impl Sidebar {
    /// Rooms, DMs and chats alike.
    fn all(&self) -> impl Iterator<Item = &SidebarRoom> {
        self.rooms.iter().chain(&self.dms).chain(&self.chats)
    }

    /// Unread messages over every room but the current one, for the
    /// collapsed sidebar's summary on a phone.
    pub fn total_unread(&self) -> i64 {
        self.all().filter(|r| !r.current).map(|r| r.unread).sum()
    }

    /// The collapsed sidebar's unread badge, if anything is unread.
    pub fn total_label(&self) -> Option<String> {
        let total = self.total_unread();
        (total > 0).then(|| unread_label(total))
    }

    /// Whether a room other than the current one mentions the user.
    pub fn any_mentions(&self) -> bool {
        self.all().any(|r| !r.current && r.mentions > 0)
    }
}

/// One room of the sidebar.
pub struct SidebarRoom {
    /// The room's id, for its link and for live updates.
    pub id: i64,
    /// The room's name; a DM's other people's names.
    pub name: String,
    /// A DM's face: the username of the first other person (their avatar).
    pub avatar: Option<String>,
    /// Unread messages by others (capped by the store).
    pub unread: i64,
    /// Those of them that mention the user.
    pub mentions: i64,
    /// The room this page shows: highlighted, and never badged.
    pub current: bool,
}

impl SidebarRoom {
    /// The unread badge's text, if it has one: none for the current room.
    pub fn badge(&self) -> Option<String> {
        if self.current || self.unread <= 0 {
            None
        } else {
            Some(unread_label(self.unread))
        }
    }

    /// Whether the mention badge shows.
    pub fn mentioned(&self) -> bool {
        !self.current && self.mentions > 0
    }
}

/// An unread count as a badge shows it: `999+` at and beyond the store's cap.
pub fn unread_label(unread: i64) -> String {
    if unread >= common::store::members::UNREAD_CAP {
        "999+".to_owned()
    } else {
        unread.to_string()
    }
}

/// An HTML response: every page is sent with this content type.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The error page's template.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ctx: PageContext,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// The error page for `status`; never fails (falls back to plain text), so
/// an error always has an answer.
pub fn render_error_page(status: StatusCode, message: &str) -> HttpResponse {
    let page = ErrorPage {
        ctx: PageContext {
            username: None,
            shown_name: String::new(),
            csrf_token: String::new(),
            notice: None,
            knows_user: false,
            sidebar: None,
            prefs: Preferences::default(),
            room_levels: String::new(),
        },
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    match page.render() {
        Ok(body) => html(status, body),
        Err(_) => HttpResponse::build(status).body(message.to_owned()),
    }
}
