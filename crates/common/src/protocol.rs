//! The wire shapes of protocol.md that more than one service speaks. The
//! `message` object is the same in the WebSocket `message` frame and in the
//! JSON API, so it is defined once here.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::store::messages::MessageView;

/// A user as other users see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub name: String,
}

/// A stored message, as protocol.md's `message` frame carries it (without `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    pub room: i64,
    /// 1, 2, 3, ... within the room, with no holes.
    pub seq: i64,
    /// The global message id.
    pub id: i64,
    pub user: UserRef,
    pub body: String,
    /// The server's time of storage, RFC 3339 in UTC with milliseconds.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: DateTime<Utc>,
    /// The sender's idempotency key, echoed to every receiver.
    pub nonce: String,
}

impl From<&MessageView> for ChatMessage {
    fn from(v: &MessageView) -> Self {
        let m = &v.message;
        Self {
            room: m.room_id,
            seq: m.seq,
            id: m.id,
            user: UserRef {
                id: m.user_id,
                name: v.author.clone(),
            },
            body: m.body.clone(),
            sent_at: m.sent_at,
            nonce: m.nonce.clone(),
        }
    }
}

/// RFC 3339 timestamps in UTC with millisecond precision, e.g. `2026-11-21T10:00:00.123Z`.
pub mod rfc3339_millis {
    use super::*;

    /// Formats a time the way every Parley JSON document does.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub fn serialize<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_serializes_as_protocol_md_shows() {
        let sent_at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00.123456Z")
            .map(|t| t.with_timezone(&Utc));
        let Ok(sent_at) = sent_at else {
            panic!("bad fixture")
        };
        let m = ChatMessage {
            room: 7,
            seq: 42,
            id: 9001,
            user: UserRef {
                id: 3,
                name: "ann".into(),
            },
            body: "hello".into(),
            sent_at,
            nonce: "c-1a2b".into(),
        };
        let json = serde_json::to_string(&m).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"room":7,"seq":42,"id":9001,"user":{"id":3,"name":"ann"},"body":"hello","sent_at":"2026-11-21T10:00:00.123Z","nonce":"c-1a2b"}"#
        );
        let back: Result<ChatMessage, _> = serde_json::from_str(&json);
        assert_eq!(back.map(|b| b.seq).ok(), Some(42));
    }
}
