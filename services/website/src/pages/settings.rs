//! `/settings`: my profile (display name, bio), my preferences (the card's
//! form is in `_settings_preferences.html`), changing the password, the
//! sessions signed in as me (device, address, last used) with a way to
//! sign any or all of them out, and the people I blocked. Plain forms: it
//! works without JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use common::preferences::{NotifyLevel, Patch, Preferences, Theme, TimeZone};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{TokenForm, see_other};
use crate::actions::preferences;
use crate::actions::profiles::{self, ProfileEdit};
use crate::actions::sessions::{self, SessionView};
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};
use crate::web::times::Times;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ctx: PageContext,
    sessions: Vec<SessionRow>,
    errors: FieldErrors,
    /// A refusal that is not about one field (too many attempts).
    problem: Option<String>,
    /// The profile form's values: as stored, or as just typed.
    profile: ProfileDraft,
    /// The people I blocked, the newest first.
    blocks: Vec<BlockRow>,
    /// The preferences card's values: as stored, or as just typed.
    prefs: PrefsDraft,
    /// The preferences card's problems, by preference key.
    pref_errors: FieldErrors,
    /// How many rooms' use personalization has stored for me.
    learned_rooms: i64,
}

/// The profile form's fields.
struct ProfileDraft {
    username: String,
    display_name: String,
    bio: String,
}

/// Someone I blocked, as the page lists them.
struct BlockRow {
    username: String,
    shown_name: String,
    /// RFC 3339, for `<time datetime>`.
    since: String,
    /// Like "29 Nov 2026".
    since_label: String,
}

impl SettingsPage {
    /// The time zones the card suggests.
    fn time_zones(&self) -> impl Iterator<Item = &'static str> {
        TimeZone::choices()
    }

    /// The choices of each select, with their labels.
    fn themes(&self) -> [(&'static str, &'static str); 3] {
        [
            (Theme::System.as_str(), "Like this device"),
            (Theme::Light.as_str(), "Light"),
            (Theme::Dark.as_str(), "Dark"),
        ]
    }

    fn levels(&self) -> [(&'static str, &'static str); 3] {
        [
            (NotifyLevel::All.as_str(), "Every new message"),
            (NotifyLevel::Mentions.as_str(), "Only when I am mentioned"),
            (NotifyLevel::Nothing.as_str(), "Nothing"),
        ]
    }
}

/// The preferences card as the form shows it: every value as text, so what
/// was typed comes back as it was.
struct PrefsDraft {
    theme: String,
    time_zone: String,
    clock: String,
    density: String,
    enter_sends: bool,
    notify_default: String,
    notify_browser: bool,
    show_typing: bool,
    appear_offline: bool,
    personalization: bool,
    sidebar_order: String,
    emotion_tagging: bool,
    show_emotions: bool,
}

impl From<&Preferences> for PrefsDraft {
    fn from(p: &Preferences) -> Self {
        Self {
            theme: p.theme.as_str().to_owned(),
            time_zone: p.time_zone.name().to_owned(),
            clock: p.clock.as_str().to_owned(),
            density: p.density.as_str().to_owned(),
            enter_sends: p.enter_sends,
            notify_default: p.notifications.default_level.as_str().to_owned(),
            notify_browser: p.notifications.browser,
            show_typing: p.show_typing,
            appear_offline: p.appear_offline,
            personalization: p.personalization,
            sidebar_order: p.sidebar_order.as_str().to_owned(),
            emotion_tagging: p.emotion_tagging,
            show_emotions: p.show_emotions,
        }
    }
}

/// A session as the page lists it.
struct SessionRow {
    id: Uuid,
    device: String,
    address: String,
    /// RFC 3339, for `<time datetime>`.
    created_at: String,
    /// Like "29 Nov 2026, 10:40 UTC", in the viewer's zone and clock.
    created_label: String,
    last_seen_at: String,
    last_seen_label: String,
    current: bool,
}

impl SessionRow {
    fn of(s: SessionView, times: &Times) -> Self {
        Self {
            id: s.id,
            device: s.device,
            address: s.address,
            created_at: s.created_at.to_rfc3339(),
            created_label: times.short_date_time(&s.created_at),
            last_seen_at: s.last_seen_at.to_rfc3339(),
            last_seen_label: times.short_date_time(&s.last_seen_at),
            current: s.current,
        }
    }
}

async fn settings_page(
    page: &Page,
    state: &AppState,
    errors: FieldErrors,
    problem: Option<String>,
    status: StatusCode,
) -> PageResult<HttpResponse> {
    settings_page_with(page, state, errors, problem, status, Typed::Nothing).await
}

/// What was just typed into one of the page's forms, shown instead of
/// what is stored.
enum Typed {
    Nothing,
    /// The profile form: display name, bio.
    Profile(String, String),
    /// The preferences card, with its problems.
    Prefs(PrefsDraft, FieldErrors),
}

impl Typed {
    fn from_profile(typed: Option<(String, String)>) -> Self {
        typed.map_or(Self::Nothing, |(name, bio)| Self::Profile(name, bio))
    }

    fn from_prefs(typed: Option<(PrefsDraft, FieldErrors)>) -> Self {
        typed.map_or(Self::Nothing, |(draft, errors)| Self::Prefs(draft, errors))
    }
}

/// The settings page, with `typed` in place of what is stored.
async fn settings_page_with(
    page: &Page,
    state: &AppState,
    errors: FieldErrors,
    problem: Option<String>,
    status: StatusCode,
    typed: Typed,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let sid = page.user.as_ref().map(|u| u.sid).unwrap_or_default();
    let list = sessions::list(state, user, sid).await?;
    let me = profiles::find(state, &user.username).await?;
    let stored = page.preferences(state).await;
    let times = Times::of(&stored);
    let (mut profile_typed, mut prefs_typed) = (None, None);
    match typed {
        Typed::Nothing => {}
        Typed::Profile(name, bio) => profile_typed = Some((name, bio)),
        Typed::Prefs(draft, errors) => prefs_typed = Some((draft, errors)),
    }
    let (display_name, bio) = profile_typed.unwrap_or((me.display_name, me.bio));
    let (prefs, pref_errors) =
        prefs_typed.unwrap_or_else(|| (PrefsDraft::from(&stored), FieldErrors::default()));
    let blocks = profiles::blocks(state, user)
        .await?
        .into_iter()
        .map(|b| BlockRow {
            shown_name: b.user.shown_name().to_owned(),
            username: b.user.username,
            since: b.created_at.to_rfc3339(),
            since_label: times.date_label(&b.created_at),
        })
        .collect();
    let learned_rooms = crate::actions::personal::learned(state, user).await?;
    let view = SettingsPage {
        learned_rooms,
        ctx: page.context_with_sidebar(state, None).await,
        sessions: list
            .into_iter()
            .map(|s| SessionRow::of(s, &times))
            .collect(),
        errors,
        problem,
        profile: ProfileDraft {
            username: me.username,
            display_name,
            bio,
        },
        blocks,
        prefs,
        pref_errors,
    };
    Ok(render(status, &view)?)
}

/// `GET /settings`.
#[get("/settings")]
pub async fn show(page: Page, state: web::Data<AppState>) -> PageResult<HttpResponse> {
    settings_page(&page, &state, FieldErrors::default(), None, StatusCode::OK).await
}

/// The profile form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfileForm {
    csrf_token: String,
    display_name: String,
    bio: String,
}

/// `POST /settings/profile`: 303 back with a notice, or the page again
/// with the problems beside their fields and the typed text kept.
#[post("/settings/profile")]
pub async fn save_profile(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<ProfileForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let typed = Some((form.display_name.clone(), form.bio.clone()));
    let mut errors = FieldErrors::default();
    let saved = match ProfileEdit::parse(Some(&form.display_name), Some(&form.bio)) {
        Ok(edit) => profiles::update(&state, user, &edit).await,
        Err(problems) => {
            for e in problems {
                errors.absorb(e)?;
            }
            let status = errors.status();
            return settings_page_with(
                &page,
                &state,
                errors,
                None,
                status,
                Typed::from_profile(typed),
            )
            .await;
        }
    };
    match saved {
        Ok(_) => {
            page.set_notice("profile_saved");
            Ok(see_other("/settings"))
        }
        Err(e @ common::Error::RateLimited { .. }) => {
            let problem = Some(e.to_string());
            let status = StatusCode::TOO_MANY_REQUESTS;
            settings_page_with(
                &page,
                &state,
                errors,
                problem,
                status,
                Typed::from_profile(typed),
            )
            .await
        }
        Err(e) => {
            errors.absorb(e)?;
            let status = errors.status();
            settings_page_with(
                &page,
                &state,
                errors,
                None,
                status,
                Typed::from_profile(typed),
            )
            .await
        }
    }
}

/// `POST /settings/blocks/{username}/unblock`: lifts a block from the
/// settings page's list; 303 back to it.
#[post("/settings/blocks/{username}/unblock")]
pub async fn unblock(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    profiles::unblock(&state, user, &path).await?;
    page.set_notice("unblocked");
    Ok(see_other("/settings"))
}

/// The password form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
}

/// `POST /settings/password`: 303 back with a notice, or the page again
/// with the problem beside its field.
#[post("/settings/password")]
pub async fn change_password(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let sid = page.user.as_ref().map(|u| u.sid).unwrap_or_default();
    let mut errors = FieldErrors::default();
    if form.current_password.is_empty() {
        errors.add("current_password", "Enter your current password.");
    }
    if form.new_password.is_empty() {
        errors.add("new_password", "Choose a new password.");
    }
    if !errors.is_empty() {
        return settings_page(&page, &state, errors, None, StatusCode::BAD_REQUEST).await;
    }
    let changed = sessions::change_password(
        &state,
        user,
        sid,
        &form.current_password,
        &form.new_password,
    )
    .await;
    match changed {
        Ok(_) => {
            page.set_notice("password_changed");
            page.rotate_csrf();
            Ok(see_other("/settings"))
        }
        Err(e @ common::Error::RateLimited { .. }) => {
            let problem = Some(e.to_string());
            settings_page(
                &page,
                &state,
                errors,
                problem,
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await
        }
        Err(e) => {
            errors.absorb(e)?;
            let status = errors.status();
            settings_page(&page, &state, errors, None, status).await
        }
    }
}

/// `POST /settings/sessions/{id}/sign-out`: signs one session out.
#[post("/settings/sessions/{id}/sign-out")]
pub async fn sign_out(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    sessions::revoke(&state, user, path.into_inner()).await?;
    page.set_notice("session_signed_out");
    Ok(see_other("/settings"))
}

/// `POST /settings/sessions/sign-out-others`: every session but this one.
#[post("/settings/sessions/sign-out-others")]
pub async fn sign_out_others(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let sid = page.user.as_ref().map(|u| u.sid).unwrap_or_default();
    sessions::revoke_others(&state, user, sid).await?;
    page.set_notice("signed_out_elsewhere");
    Ok(see_other("/settings"))
}

/// The preferences card as posted. `card` says which form: `preferences`
/// (the whole card: an unticked box is false) or `browser` (the desktop
/// notifications switch alone).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PrefsForm {
    csrf_token: String,
    card: String,
    theme: Option<String>,
    time_zone: Option<String>,
    clock: Option<String>,
    density: Option<String>,
    enter_sends: Option<String>,
    notify_default: Option<String>,
    notify_browser: Option<String>,
    show_typing: Option<String>,
    appear_offline: Option<String>,
    personalization: Option<String>,
    sidebar_order: Option<String>,
    emotion_tagging: Option<String>,
    show_emotions: Option<String>,
}

/// A form's yes/no: a ticked box sends `true` (or `on`); an absent one is no.
fn ticked(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("true" | "on"))
}

impl PrefsForm {
    /// The JSON object the API would take for this form, so both are
    /// validated by the one parser.
    fn as_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut text = |key: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(key.to_owned(), Value::String(v.trim().to_owned()));
            }
        };
        let whole = self.card != "browser";
        if whole {
            text("theme", &self.theme);
            text("time_zone", &self.time_zone);
            text("clock", &self.clock);
            text("density", &self.density);
            text("sidebar_order", &self.sidebar_order);
        }
        let mut notifications = Map::new();
        if whole {
            if let Some(level) = &self.notify_default {
                notifications.insert("default".into(), Value::String(level.clone()));
            }
            m.insert(
                "enter_sends".into(),
                Value::Bool(self.enter_sends.as_deref() != Some("false")),
            );
            for (key, v) in [
                ("show_typing", &self.show_typing),
                ("appear_offline", &self.appear_offline),
                ("personalization", &self.personalization),
                ("emotion_tagging", &self.emotion_tagging),
                ("show_emotions", &self.show_emotions),
            ] {
                m.insert(key.into(), Value::Bool(ticked(v)));
            }
        } else if self.notify_browser.is_some() {
            notifications.insert("browser".into(), Value::Bool(ticked(&self.notify_browser)));
        }
        if !notifications.is_empty() {
            m.insert("notifications".into(), Value::Object(notifications));
        }
        m
    }

    /// The card as typed, over the stored preferences (for what the form
    /// did not send).
    fn draft(&self, stored: &Preferences) -> PrefsDraft {
        let mut d = PrefsDraft::from(stored);
        let keep = |into: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                v.clone_into(into);
            }
        };
        if self.card != "browser" {
            keep(&mut d.theme, &self.theme);
            keep(&mut d.time_zone, &self.time_zone);
            keep(&mut d.clock, &self.clock);
            keep(&mut d.density, &self.density);
            keep(&mut d.notify_default, &self.notify_default);
            keep(&mut d.sidebar_order, &self.sidebar_order);
            d.enter_sends = self.enter_sends.as_deref() != Some("false");
            d.show_typing = ticked(&self.show_typing);
            d.appear_offline = ticked(&self.appear_offline);
            d.personalization = ticked(&self.personalization);
            d.emotion_tagging = ticked(&self.emotion_tagging);
            d.show_emotions = ticked(&self.show_emotions);
        }
        d
    }
}

/// `POST /settings/preferences`: saves the card (303 back with a notice),
/// or shows it again as typed with each problem beside its field.
#[post("/settings/preferences")]
pub async fn save_preferences(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<PrefsForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let saved = match Patch::parse(&form.as_json()) {
        Ok(patch) => preferences::update(&state, user, &patch).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => {
            page.set_notice("preferences_saved");
            Ok(see_other("/settings#preferences"))
        }
        Err(e) => {
            let stored = page.preferences(&state).await;
            let mut pref_errors = FieldErrors::default();
            if e.field() == Some("time_zone") {
                // Worded for people: the API's message names the key.
                pref_errors.add(
                    "time_zone",
                    "That is not a time zone we know: pick one from the list, like Europe/Paris or UTC.",
                );
            }
            pref_errors.absorb(e)?;
            let status = pref_errors.status();
            let typed = Some((form.draft(&stored), pref_errors));
            settings_page_with(
                &page,
                &state,
                FieldErrors::default(),
                None,
                status,
                Typed::from_prefs(typed),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use common::preferences::{Clock, Density, SidebarOrder};

    use super::*;

    #[test]
    fn the_whole_card_sends_every_key_and_unticked_boxes_as_false() {
        let form = PrefsForm {
            card: "preferences".into(),
            theme: Some("dark".into()),
            time_zone: Some(" Europe/Paris ".into()),
            clock: Some("12h".into()),
            density: Some("compact".into()),
            sidebar_order: Some("alphabetical".into()),
            enter_sends: Some("false".into()),
            notify_default: Some("all".into()),
            show_typing: Some("true".into()),
            ..PrefsForm::default()
        };
        let patch = match Patch::parse(&form.as_json()) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let p = Preferences::default().patched(&patch);
        assert_eq!(
            (p.theme, p.clock, p.density),
            (Theme::Dark, Clock::H12, Density::Compact)
        );
        assert_eq!(p.time_zone.name(), "Europe/Paris");
        assert!(!p.enter_sends && p.show_typing && !p.personalization && !p.emotion_tagging);
        assert_eq!(p.sidebar_order, SidebarOrder::Alphabetical);
        assert_eq!(p.notifications.default_level, NotifyLevel::All);
        assert_eq!(
            patch.notify_browser, None,
            "the card leaves the desktop switch alone"
        );
    }

    #[test]
    fn the_browser_switch_sends_only_itself() {
        let form = PrefsForm {
            card: "browser".into(),
            notify_browser: Some("false".into()),
            theme: Some("blue".into()),
            ..PrefsForm::default()
        };
        let json = form.as_json();
        assert_eq!(json.len(), 1, "{json:?}");
        assert_eq!(json["notifications"]["browser"], Value::Bool(false));
    }
}
