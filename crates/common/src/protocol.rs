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

/// Every frame the server sends (protocol.md "Server -> client"): one
/// serde-tagged enum shared by the chat service, the tests and the bench tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Message(ChatMessage),
    Joined {
        room: i64,
        last_seq: i64,
        online: Vec<UserRef>,
        truncated: bool,
    },
    Presence {
        room: i64,
        user: UserRef,
        online: bool,
    },
    Typing {
        room: i64,
        user: UserRef,
    },
    Left {
        room: i64,
    },
    Error {
        code: String,
        message: String,
        /// The nonce or room the error concerns.
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

impl ServerFrame {
    /// The frame as sent on the wire. Serializing these types cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Every frame a client sends (protocol.md "Client -> server").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Join {
        room: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<i64>,
    },
    Leave {
        room: i64,
    },
    Send {
        room: i64,
        body: String,
        nonce: String,
    },
    Typing {
        room: i64,
    },
}

impl ClientFrame {
    /// The frame as sent on the wire.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
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
        let frame = ServerFrame::Message(m).to_json();
        assert!(
            frame.starts_with(r#"{"type":"message","room":7,"seq":42,"#),
            "{frame}"
        );
        assert!(matches!(
            serde_json::from_str::<ServerFrame>(&frame),
            Ok(ServerFrame::Message(_))
        ));
    }

    #[test]
    fn frames_match_the_examples_of_protocol_md() {
        let cases = [
            (
                ServerFrame::Joined {
                    room: 7,
                    last_seq: 42,
                    online: vec![UserRef {
                        id: 3,
                        name: "ann".into(),
                    }],
                    truncated: false,
                },
                r#"{"type":"joined","room":7,"last_seq":42,"online":[{"id":3,"name":"ann"}],"truncated":false}"#,
            ),
            (
                ServerFrame::Presence {
                    room: 7,
                    user: UserRef {
                        id: 5,
                        name: "bob".into(),
                    },
                    online: true,
                },
                r#"{"type":"presence","room":7,"user":{"id":5,"name":"bob"},"online":true}"#,
            ),
            (
                ServerFrame::Typing {
                    room: 7,
                    user: UserRef {
                        id: 5,
                        name: "bob".into(),
                    },
                },
                r#"{"type":"typing","room":7,"user":{"id":5,"name":"bob"}}"#,
            ),
            (ServerFrame::Left { room: 7 }, r#"{"type":"left","room":7}"#),
            (
                ServerFrame::Error {
                    code: "too_long".into(),
                    message: "message body is over 4000 characters".into(),
                    reference: Some("c-1a2b".into()),
                },
                r#"{"type":"error","code":"too_long","message":"message body is over 4000 characters","ref":"c-1a2b"}"#,
            ),
        ];
        for (frame, json) in cases {
            assert_eq!(frame.to_json(), json);
        }
        for (json, frame) in [
            (
                r#"{"type":"join","room":7,"since":41}"#,
                ClientFrame::Join {
                    room: 7,
                    since: Some(41),
                },
            ),
            (
                r#"{"type":"leave","room":7}"#,
                ClientFrame::Leave { room: 7 },
            ),
            (
                r#"{"type":"send","room":7,"body":"hello","nonce":"c-1a2b"}"#,
                ClientFrame::Send {
                    room: 7,
                    body: "hello".into(),
                    nonce: "c-1a2b".into(),
                },
            ),
            (
                r#"{"type":"typing","room":7}"#,
                ClientFrame::Typing { room: 7 },
            ),
        ] {
            assert_eq!(
                serde_json::from_str::<ClientFrame>(json).ok(),
                Some(frame.clone())
            );
            assert_eq!(frame.to_json(), json);
        }
    }
}
