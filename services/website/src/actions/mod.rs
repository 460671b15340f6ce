//! What a user can do, shared by the pages and the JSON API so both follow
//! the same rules: handlers parse the request, call one of these, and answer.
//! Nothing here knows HTTP; a handler turns the result into a page or JSON.

pub mod accounts;
pub mod assistant;
pub mod chats;
pub mod dms;
pub mod invites;
pub mod messages;
pub mod moderation;
pub mod mood;
pub mod personal;
pub mod preferences;
pub mod profiles;
pub mod rooms;
pub mod search;
pub mod sessions;
pub mod uploads;

/// The signed-in user an action runs for. Actions take this rather than the
/// web session, so the rules do not depend on how a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Whose rights apply, and who is recorded as author or owner.
    pub user_id: i64,
    /// Shown with what the actor creates, without reading the user back.
    pub username: String,
}
