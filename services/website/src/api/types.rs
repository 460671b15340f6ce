//! The JSON objects of the API (http.md): `user`, `room`, and the bodies.

use chrono::{DateTime, Utc};
use common::protocol::{ChatMessage, UserRef, rfc3339_millis};
use common::store::rooms::RoomView;
use common::store::users::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as the API shows them (never the e-mail of someone else).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserJson {
    pub id: i64,
    pub username: String,
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserJson {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            created_at: u.created_at,
        }
    }
}

/// A room. `owner` is null for the rooms Parley seeds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomJson {
    pub id: i64,
    pub name: String,
    pub topic: String,
    pub owner: Option<UserRef>,
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// The seq of the newest message (also the number of messages).
    pub last_seq: i64,
}

impl From<&RoomView> for RoomJson {
    fn from(v: &RoomView) -> Self {
        let r = &v.room;
        Self {
            id: r.id,
            name: r.name.clone(),
            topic: r.topic.clone(),
            owner: r
                .owner_id
                .zip(v.owner_name.clone())
                .map(|(id, name)| UserRef { id, name }),
            created_at: r.created_at,
            last_seq: r.last_seq,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserEnvelope {
    pub user: UserJson,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomEnvelope {
    pub room: RoomJson,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageEnvelope {
    pub message: ChatMessage,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomPage {
    pub rooms: Vec<RoomJson>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    /// Newest first.
    pub messages: Vec<ChatMessage>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginAnswer {
    pub token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// When the token stops working (the idle limit; log in again after).
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterBody {
    pub username: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    /// Username or e-mail.
    pub login: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRoomBody {
    pub name: String,
    #[serde(default)]
    pub topic: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessageBody {
    pub body: String,
    /// 1..=64 characters; sending the same nonce again stores nothing new.
    pub nonce: String,
}

/// The error body of every failed API call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable.
    pub code: String,
    /// For people.
    pub message: String,
    /// The input field concerned, when there is one.
    pub field: Option<String>,
}
