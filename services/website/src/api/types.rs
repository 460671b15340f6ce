//! The JSON objects of the API (http.md): `user`, `room`, and the bodies.

use chrono::{DateTime, Utc};
use common::protocol::{ChatMessage, ReactionCount, UserRef, rfc3339_millis};
use common::store::rooms::RoomView;
use common::store::users::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as the API shows them (never the e-mail of someone else).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserJson {
    /// Stable for the account's life.
    pub id: i64,
    /// As registered (case kept).
    pub username: String,
    /// When the account was created.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// What pages call the person, at most 64 characters; empty: they show
    /// the username.
    pub display_name: String,
    /// A short text about the person, at most 300 characters (may hold line
    /// breaks); may be empty.
    pub bio: String,
    /// The person's picture (a generated SVG), a path on this site.
    pub avatar_url: String,
}

impl From<&User> for UserJson {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            created_at: u.created_at,
            display_name: u.display_name.clone(),
            bio: u.bio.clone(),
            avatar_url: crate::avatar::url(&u.username),
        }
    }
}

/// A change to my profile: the fields given are replaced, the others kept.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileBody {
    /// At most 64 characters, no control, invisible or direction-changing
    /// characters; empty: show the username.
    #[serde(default)]
    pub display_name: Option<String>,
    /// At most 300 characters; line breaks allowed, no other control,
    /// invisible or direction-changing characters.
    #[serde(default)]
    pub bio: Option<String>,
}

/// One person I blocked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockJson {
    /// Who.
    pub user: UserJson,
    /// Since when.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// `{blocks}`: the people I blocked, the newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlocksPage {
    /// The blocks.
    pub blocks: Vec<BlockJson>,
}

/// A room. `owner` is null for the rooms Parley seeds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomJson {
    /// Stable for the room's life; rooms are addressed by it.
    pub id: i64,
    /// Unique ignoring case.
    pub name: String,
    /// May be empty.
    pub topic: String,
    /// Who may delete the room.
    pub owner: Option<UserRef>,
    /// When the room was created.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// The seq of the room's newest event (messages, edits, deletions,
    /// reactions): what a client that has seen everything holds.
    pub last_seq: i64,
    /// How many messages the room holds (deleted ones not counted).
    pub message_count: i64,
    /// `public` (listed, anyone may join) or `private` (members only).
    pub visibility: String,
    /// `room`, `dm` for a direct conversation, or `assistant` for a
    /// private chat with the assistant.
    pub kind: String,
    /// One message per this many seconds per member (0: off).
    pub slow_mode_secs: i32,
    /// The server tags the room's messages with emotions (its owner's
    /// switch; each author may still opt out).
    pub emotions: bool,
    /// The caller's role (`owner`, `moderator`, `member`); null when not a
    /// member.
    pub my_role: Option<String>,
    /// A DM's people, the caller among them (a DM's `name` is empty: it is
    /// called after the others); empty for a room.
    pub people: Vec<PersonJson>,
}

/// Someone in a DM: enough to name them and show their avatar.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PersonJson {
    /// The account's id.
    pub id: i64,
    /// As registered.
    pub username: String,
    /// Empty: show the username.
    pub display_name: String,
    /// Their generated avatar, a path on this site.
    pub avatar_url: String,
}

/// `POST /api/v1/dms`: who to talk with.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDmBody {
    /// 1 to 9 other people's usernames, any case; repeats and the caller's
    /// own name are left out.
    pub usernames: Vec<String>,
}

impl RoomJson {
    /// The room as `standing`'s person sees it (their role filled in).
    pub fn seen_by(v: &RoomView, standing: &common::access::Standing) -> Self {
        let mut json = Self::from(v);
        let role = if v.room.owner_id == Some(standing.user_id) {
            Some(common::access::Role::Owner)
        } else {
            standing.role
        };
        json.my_role = role.map(|r| r.as_str().to_owned());
        json
    }
}

impl From<&RoomView> for RoomJson {
    fn from(v: &RoomView) -> Self {
        let r = &v.room;
        Self {
            visibility: r.visibility.clone(),
            kind: r.kind.clone(),
            slow_mode_secs: r.slow_mode_secs,
            emotions: r.emotions,
            my_role: None,
            id: r.id,
            name: r.name.clone(),
            topic: r.topic.clone(),
            owner: r
                .owner_id
                .zip(v.owner_name.clone())
                .map(|(id, name)| UserRef { id, name }),
            created_at: r.created_at,
            last_seq: r.last_seq,
            message_count: r.message_count,
            people: v
                .people
                .iter()
                .map(|p| PersonJson {
                    id: p.id,
                    username: p.username.clone(),
                    display_name: p.display_name.clone(),
                    avatar_url: crate::avatar::url(&p.username),
                })
                .collect(),
        }
    }
}

/// `{user}`: objects are wrapped so an answer can grow more keys.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserEnvelope {
    /// The user.
    pub user: UserJson,
}

/// `{room}`, wrapped like every object.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomEnvelope {
    /// The room.
    pub room: RoomJson,
}

/// `{message}`, wrapped like every object.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageEnvelope {
    /// The message, as the WebSocket sends it.
    pub message: ChatMessage,
}

/// A page of the room list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomPage {
    /// Ordered by name, ignoring case.
    pub rooms: Vec<RoomJson>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of a room's history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    /// Newest first.
    pub messages: Vec<ChatMessage>,
}

/// A successful login: the bearer token and who it is for. Its `Debug`
/// leaves the token out (logs are not a place for credentials).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginAnswer {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// When the token stops working (the idle limit; log in again after).
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub user: UserJson,
}

/// Whether the names asked about are free.
// Still `Availability` in the OpenAPI document, as before the rename.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Availability)]
pub struct AvailabilityAnswer {
    /// True when the username is free; null when not asked.
    pub username: Option<bool>,
    /// True when the e-mail is free; null when not asked.
    pub email: Option<bool>,
}

/// A new account. Its `Debug` leaves the password out.
#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    /// 3..=32 of `[A-Za-z0-9_.-]`, unique ignoring case.
    pub username: String,
    /// Unique ignoring case; never shown to others.
    pub email: String,
    /// 8..=256 characters.
    pub password: String,
}

/// A login attempt. Its `Debug` leaves the password out.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    /// Username or e-mail.
    pub login: String,
    /// The account's password.
    pub password: String,
}

/// A new room, owned by the caller.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRoomBody {
    /// 1..=64 characters, unique ignoring case among public rooms.
    pub name: String,
    /// At most 256 characters; may be left out.
    #[serde(default)]
    pub topic: String,
    /// `public` (the default) or `private`.
    #[serde(default)]
    pub visibility: Option<String>,
}

/// A message to send.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessageBody {
    /// Markdown, 1..=4000 characters after trimming (may be empty when
    /// `attachments` is not); of control characters only newline and tab.
    #[serde(default)]
    pub body: String,
    /// 1..=64 characters; sending the same nonce again stores nothing new.
    pub nonce: String,
    /// The id of the message (of the same room) this one answers.
    #[serde(default)]
    pub reply_to: Option<i64>,
    /// Files uploaded with `POST /api/v1/rooms/{id}/attachments` (their ids),
    /// sent with the message in this order.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// A message's new text.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditBody {
    /// Markdown, the same rules as a new message's body.
    pub body: String,
    /// 1..=64 characters; the same nonce again changes nothing more.
    pub nonce: String,
}

/// How far the user has read a room.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadBody {
    /// A seq of the room (at most its `last_seq`), not behind the current mark.
    pub seq: i64,
}

/// `{reactions}`: a message's reaction summary as the caller sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReactionsEnvelope {
    /// One entry per emoji, in the order each was first used.
    pub reactions: Vec<ReactionCount>,
}

/// One of my rooms, with how far I read it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyRoomJson {
    /// The room.
    pub room: RoomJson,
    /// My read mark: the newest seq I have read.
    pub read_seq: i64,
    /// Messages by others after my read mark (deleted ones not counted;
    /// counted up to 1000).
    pub unread: i64,
    /// Those of them that mention me.
    pub mentions: i64,
}

/// `{rooms}`: the rooms I am a member of, by name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyRoomsPage {
    /// By name, ignoring case.
    pub rooms: Vec<MyRoomJson>,
}

/// `{events}`: a room's sequenced events in order, each exactly the frame
/// protocol.md describes (`message`, `edited`, `deleted`, `reaction`), a
/// deleted message's text redacted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    /// In increasing `seq`, with no gap.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
}

/// The error body of every failed API call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of an error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable.
    pub code: String,
    /// For people.
    pub message: String,
    /// The input field concerned, when there is one.
    pub field: Option<String>,
}

impl std::fmt::Debug for LoginAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAnswer")
            .field("token", &"***")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .finish()
    }
}

impl std::fmt::Debug for RegisterBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterBody")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &"***")
            .finish()
    }
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody")
            .field("login", &self.login)
            .field("password", &"***")
            .finish()
    }
}

#[cfg(test)]
mod secrets_tests {
    use super::*;

    #[test]
    fn debug_output_holds_no_password_or_token() {
        let login = LoginBody {
            login: "ann".into(),
            password: "hunter2-secret".into(),
        };
        let register = RegisterBody {
            username: "ann".into(),
            email: "ann@example.com".into(),
            password: "hunter2-secret".into(),
        };
        let shown = format!("{login:?} {register:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(
            shown.contains("ann@example.com"),
            "the rest is shown: {shown}"
        );
    }
}

/// One of my sessions: a browser or client signed in as me.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionJson {
    /// What `DELETE /api/v1/me/sessions/{id}` names.
    pub id: uuid::Uuid,
    /// "Firefox on Linux", or what the client called itself.
    pub device: String,
    /// The network it signed in from (an IPv4 address or an IPv6 /64).
    pub address: String,
    /// When it signed in.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was last used (to within 5 minutes).
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    /// The session of this request.
    pub current: bool,
}

/// `{sessions}`: my sessions that still work, most recently used first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionsAnswer {
    /// The sessions.
    pub sessions: Vec<SessionJson>,
}

/// A password change. Its `Debug` leaves both passwords out.
#[derive(Deserialize, ToSchema)]
pub struct PasswordChangeBody {
    /// The password now.
    pub current_password: String,
    /// The password from now on.
    pub new_password: String,
}

/// How many other sessions an action signed out.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedOut {
    /// Sessions ended.
    pub signed_out: usize,
}

/// `{preferences}`: all of my preferences.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PreferencesEnvelope {
    /// Every key, with its value or its default.
    pub preferences: common::preferences::Preferences,
}

/// A change to my preferences: any subset of the keys (what is left out
/// keeps its value); a key that is not one is refused (422, `field`).
/// Documentation only: the handler parses the object itself, so that an
/// unknown key can be named.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PreferencesPatchBody {
    /// `system`, `light` or `dark`.
    pub theme: Option<common::preferences::Theme>,
    /// An IANA name, like `Europe/Paris` or `UTC`.
    pub time_zone: Option<String>,
    /// `24h` or `12h`.
    pub clock: Option<common::preferences::Clock>,
    /// `comfortable` or `compact`.
    pub density: Option<common::preferences::Density>,
    /// Enter sends (else Ctrl/Cmd+Enter).
    pub enter_sends: Option<bool>,
    /// Any subset of `{browser, default}`.
    pub notifications: Option<NotificationsPatchBody>,
    /// Others see when I am typing.
    pub show_typing: Option<bool>,
    /// Others never see me online.
    pub appear_offline: Option<bool>,
    /// Suggestions and ordering learned from what I do.
    pub personalization: Option<bool>,
    /// `usage` or `alphabetical`: how my sidebar orders my rooms.
    pub sidebar_order: Option<common::preferences::SidebarOrder>,
    /// My messages are analysed for emotion tags.
    pub emotion_tagging: Option<bool>,
    /// Emotion markers show on messages in my view.
    pub show_emotions: Option<bool>,
}

/// A change to my notification preferences.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NotificationsPatchBody {
    /// Desktop notifications through the browser.
    pub browser: Option<bool>,
    /// The level of rooms without their own.
    #[serde(rename = "default")]
    pub default_level: Option<common::preferences::NotifyLevel>,
}

/// A room's notification level to set.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RoomLevelBody {
    /// `all`, `mentions`, `nothing`, or null for my default.
    pub level: Option<common::preferences::NotifyLevel>,
}

/// A room's notification level as set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomLevelAnswer {
    /// The room.
    pub room_id: i64,
    /// Its own level; null: my default applies.
    pub level: Option<common::preferences::NotifyLevel>,
}

/// A public room suggested to me, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionJson {
    /// The room, as the room list shows it.
    pub room: RoomJson,
    /// One line a person reads, like "3 people you talk with are here" or
    /// "Like #rust and #cooking".
    pub reason: String,
    /// Higher is a better match (the list is ordered by it).
    pub score: f64,
}

/// `GET /api/v1/me/suggestions`: best first; empty while personalization
/// is off.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionsAnswer {
    /// At most 5.
    pub suggestions: Vec<SuggestionJson>,
}
