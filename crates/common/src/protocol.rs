//! The wire shapes of protocol.md that more than one service speaks. The
//! `message` object is the same in the WebSocket `message` frame and in the
//! JSON API, so it is defined once here. Every sequenced frame (a room event)
//! is stored as sent in the room's event log and replayed byte for byte.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Code;

/// A user as other users see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub name: String,
}

/// The message a reply answers, as the reply shows it (a quote).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyRef {
    pub id: i64,
    pub seq: i64,
    pub user: UserRef,
    /// A plain-text excerpt of the answered message; absent once it is deleted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub excerpt: String,
    /// The answered message was deleted (its text is gone).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
}

/// One emoji's reactions to a message, from the viewer's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
    /// Whether the viewer is one of them.
    pub me: bool,
}

/// A message, as protocol.md's `message` frame carries it (without `type`)
/// and as history lists it. Fields that are absent on the wire take their
/// default: no `body`/`html` once deleted, `deleted` false, no reactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    pub room: i64,
    /// The seq of the event that created the message.
    pub seq: i64,
    /// The global message id.
    pub id: i64,
    pub user: UserRef,
    /// The author's Markdown source; absent once deleted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// The server's sanitized rendering of `body`; absent once deleted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub html: String,
    /// The ids of the users the message mentions.
    #[serde(default)]
    pub mentions: Vec<i64>,
    /// The message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyRef>,
    /// The server's time of storage, RFC 3339 in UTC with milliseconds.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: DateTime<Utc>,
    /// The sender's idempotency key, echoed to every receiver.
    pub nonce: String,
    /// When it was last edited (history only).
    #[serde(
        default,
        with = "rfc3339_millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<DateTime<Utc>>,
    /// Deleted: the text is gone, the place in the conversation stays.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// The reaction summary (history only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
    /// The latest annotation of each kind (history only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    /// The files sent with the message, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl ChatMessage {
    /// The message without its text, as it is kept once deleted.
    pub fn redact(&mut self) {
        self.body.clear();
        self.html.clear();
        self.mentions.clear();
        self.reactions.clear();
        self.annotations.clear();
        self.attachments.clear();
        self.deleted = true;
    }
}

/// An edit of a message (protocol.md `edited`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdited {
    pub room: i64,
    pub seq: i64,
    pub id: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub html: String,
    #[serde(default)]
    pub mentions: Vec<i64>,
    #[serde(with = "rfc3339_millis")]
    pub edited_at: DateTime<Utc>,
    pub nonce: String,
    /// The edited message was deleted since: the edit's text is gone too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
}

/// A reaction added or removed (protocol.md `reaction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionChanged {
    pub room: i64,
    pub seq: i64,
    pub id: i64,
    pub emoji: String,
    pub user: UserRef,
    pub on: bool,
    /// How many users react with this emoji after the change.
    pub count: i64,
    pub nonce: String,
}

/// Something the server learned about a message (protocol.md
/// `annotation`): for `kind` `emotion`, the labels that passed, strongest
/// first; an empty list takes the earlier tags back (opted out, or the text
/// no longer says anything).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct Annotation {
    pub room: i64,
    pub seq: i64,
    /// The message it is about.
    pub id: i64,
    /// `emotion` or `transcript`.
    pub kind: String,
    #[serde(default)]
    pub labels: Vec<ScoredLabel>,
    /// What made it, e.g. `emotion-v1`, `rules-v1` or `whisper-tiny.en`.
    pub model: String,
    /// A transcript's text (kind `transcript`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// A transcript carries `text` and `model` instead of `labels`
/// (protocol.md); an emotion tag always carries its `labels`, empty when it
/// takes the tags back.
impl Serialize for Annotation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let transcript = self.kind == TRANSCRIPT;
        let mut out = s.serialize_struct("Annotation", 7)?;
        out.serialize_field("room", &self.room)?;
        out.serialize_field("seq", &self.seq)?;
        out.serialize_field("id", &self.id)?;
        out.serialize_field("kind", &self.kind)?;
        if transcript {
            out.skip_field("labels")?;
        } else {
            out.serialize_field("labels", &self.labels)?;
        }
        out.serialize_field("model", &self.model)?;
        if self.text.is_empty() {
            out.skip_field("text")?;
        } else {
            out.serialize_field("text", &self.text)?;
        }
        out.end()
    }
}

/// The kind of a voice message's transcript.
pub const TRANSCRIPT: &str = "transcript";

impl Annotation {
    /// Whether it takes the kind's earlier annotation back: nothing left
    /// to say (no labels, no text).
    pub fn is_withdrawal(&self) -> bool {
        self.labels.is_empty() && self.text.is_empty()
    }
}

/// What a file of a message is, which decides how a page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    /// Shown inline, with a thumbnail made by the server.
    Image,
    /// Played inline, with its duration and waveform.
    Audio,
    /// Offered for download.
    File,
}

impl AttachmentKind {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::File => "file",
        }
    }

    /// The kind a stored name names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(Self::Image),
            "audio" => Some(Self::Audio),
            "file" => Some(Self::File),
            _ => None,
        }
    }
}

/// A file sent with a message (protocol.md "Attachments"). `url` serves it
/// to whoever may read the room; the id is random, so it cannot be guessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    /// The attachment's id: what a send names, and the file's address.
    pub id: String,
    pub kind: AttachmentKind,
    /// The file's name as sent, made safe.
    pub name: String,
    /// Its type, as the server found it from the content.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// Where the file is served (site-relative).
    pub url: String,
    /// An image's size in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    /// An image's thumbnail (absent when the image is small enough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb: Option<Thumb>,
    /// Audio: where the player plays from (the file itself, or a
    /// conversion browsers can play), its length and its waveform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i32>,
    /// The waveform: bars of 0 to 255, loudest 255.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peaks: Vec<u8>,
}

/// A server-made thumbnail of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Thumb {
    pub url: String,
    pub width: i32,
    pub height: i32,
}

/// One label of an annotation with its score, 0 to 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScoredLabel {
    pub label: String,
    #[schema(value_type = f32)]
    pub score: Score,
}

/// A score between 0 and 1, rounded to three decimals so a frame reads
/// well and compares exactly (it is never NaN).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Score(f32);

impl Score {
    /// Clamps to 0..=1 (NaN is 0) and rounds to three decimals.
    pub fn new(x: f32) -> Self {
        let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        Self((x * 1000.0).round() / 1000.0)
    }

    /// The value.
    pub fn get(self) -> f32 {
        self.0
    }
}

impl Eq for Score {}

/// Every frame the server sends (protocol.md "Server -> client"): one
/// What a room's moderator or owner did: a sequenced event every member
/// sees live and in history ("ann muted bob for 1 h"). The reason given
/// stays in the moderation log, which only moderators read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModerationEvent {
    pub room: i64,
    pub seq: i64,
    /// `kick`, `ban`, `unban`, `mute`, `unmute`, `role`, `owner` (handed
    /// over), `topic`, `visibility` or `slow_mode`.
    pub action: String,
    /// Who did it.
    pub by: UserRef,
    /// Whom it concerns (not for `topic`, `visibility`, `slow_mode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<UserRef>,
    /// When a ban or mute ends; absent: until lifted.
    #[serde(
        default,
        with = "rfc3339_millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<DateTime<Utc>>,
    /// The new role (`role`, `owner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The new topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The new visibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// The new slow mode, in seconds (0: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_mode_secs: Option<i32>,
    /// When it was done.
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// The moderator's idempotency key.
    pub nonce: String,
}

impl ModerationEvent {
    /// Whether this takes someone out of the room (their connections leave
    /// it at once, on every instance): a kick or a ban.
    pub fn removes(&self) -> Option<i64> {
        match self.action.as_str() {
            "kick" | "ban" => self.target.as_ref().map(|t| t.id),
            _ => None,
        }
    }
}

/// serde-tagged enum shared by the chat service, the tests and the bench tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Message(ChatMessage),
    Edited(MessageEdited),
    Deleted {
        room: i64,
        seq: i64,
        id: i64,
        nonce: String,
    },
    Reaction(ReactionChanged),
    Moderation(ModerationEvent),
    Annotation(Annotation),
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
        /// Why the server took the connection out of the room (`kicked`,
        /// `banned`, `removed`); absent when the client asked to leave.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A member's unread state of a room its connection has not joined.
    Unread {
        room: i64,
        last_seq: i64,
        read_seq: i64,
        unread: i64,
        mentions: i64,
    },
    Error {
        code: String,
        message: String,
        /// The nonce or room the error concerns.
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// For `rate_limited`: seconds until the limit lets the request
        /// through (the WebSocket's `Retry-After`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
}

impl ServerFrame {
    /// The frame as sent on the wire. Serializing these types cannot fail
    /// today; if it ever did, the failure is logged and an `error` frame
    /// (`internal`) goes out in its place, never an empty frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            tracing::error!(error = %e, "a server frame could not be serialized");
            unwritable_frame()
        })
    }

    /// `(room, seq)` of a sequenced frame (a room event); `None` for the
    /// ephemeral ones. Clients advance their `since` on every one of them.
    pub fn sequenced(&self) -> Option<(i64, i64)> {
        match self {
            Self::Message(m) => Some((m.room, m.seq)),
            Self::Edited(e) => Some((e.room, e.seq)),
            Self::Deleted { room, seq, .. } => Some((*room, *seq)),
            Self::Reaction(r) => Some((r.room, r.seq)),
            Self::Moderation(m) => Some((m.room, m.seq)),
            Self::Annotation(a) => Some((a.room, a.seq)),
            _ => None,
        }
    }
}

/// The `error` frame sent in place of one that could not be serialized,
/// built without serializing a frame.
fn unwritable_frame() -> String {
    serde_json::json!({
        "type": "error",
        "code": Code::Internal,
        "message": "the server could not write this frame",
    })
    .to_string()
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
        /// The id of the message this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<i64>,
        /// Files uploaded beforehand (their ids), sent with the message.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    Edit {
        room: i64,
        id: i64,
        body: String,
        nonce: String,
    },
    Delete {
        room: i64,
        id: i64,
        nonce: String,
    },
    React {
        room: i64,
        id: i64,
        emoji: String,
        /// True adds the reaction, false takes it back.
        on: bool,
        nonce: String,
    },
    /// Moves the user's read mark of a room forward to `seq`.
    Read {
        room: i64,
        seq: i64,
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

    /// Every `type` a client may send, for telling an unknown type from a
    /// malformed known one.
    pub const TYPES: [&'static str; 8] = [
        "join", "leave", "send", "edit", "delete", "react", "read", "typing",
    ];
}

fn is_false(b: &bool) -> bool {
    !*b
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

    /// The same for an optional time (absent on the wire when `None`).
    pub mod option {
        use super::*;

        pub fn serialize<S: serde::Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|raw| {
                    DateTime::parse_from_rfc3339(&raw)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        let Ok(t) = DateTime::parse_from_rfc3339(text) else {
            panic!("bad fixture {text}")
        };
        t.with_timezone(&Utc)
    }

    fn ann() -> UserRef {
        UserRef {
            id: 3,
            name: "ann".into(),
        }
    }

    fn bob() -> UserRef {
        UserRef {
            id: 5,
            name: "bob".into(),
        }
    }

    fn message() -> ChatMessage {
        ChatMessage {
            room: 7,
            seq: 43,
            id: 9002,
            user: ann(),
            body: "**hi** @bob".into(),
            html: "<p><strong>hi</strong></p>".into(),
            mentions: vec![5],
            reply_to: Some(ReplyRef {
                id: 9001,
                seq: 42,
                user: bob(),
                excerpt: "hello".into(),
                deleted: false,
            }),
            sent_at: at("2026-11-21T10:00:00.123456Z"),
            nonce: "c-1".into(),
            edited_at: None,
            deleted: false,
            reactions: vec![],
            annotations: vec![],
            attachments: vec![],
        }
    }

    #[test]
    fn message_serializes_as_protocol_md_shows() {
        let m = message();
        let json = serde_json::to_string(&m).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"room":7,"seq":43,"id":9002,"user":{"id":3,"name":"ann"},"body":"**hi** @bob","html":"<p><strong>hi</strong></p>","mentions":[5],"reply_to":{"id":9001,"seq":42,"user":{"id":5,"name":"bob"},"excerpt":"hello"},"sent_at":"2026-11-21T10:00:00.123Z","nonce":"c-1"}"#
        );
        let back: Result<ChatMessage, _> = serde_json::from_str(&json);
        assert_eq!(back.ok().map(|b| b.reply_to), Some(m.reply_to.clone()));
        let frame = ServerFrame::Message(m).to_json();
        assert!(
            frame.starts_with(r#"{"type":"message","room":7,"seq":43,"#),
            "{frame}"
        );
        assert!(matches!(
            serde_json::from_str::<ServerFrame>(&frame),
            Ok(ServerFrame::Message(_))
        ));
    }

    #[test]
    fn a_message_of_the_first_protocol_still_parses() {
        let old = r#"{"type":"message","room":7,"seq":42,"id":9001,"user":{"id":3,"name":"ann"},"body":"hello","sent_at":"2026-11-21T10:00:00.123Z","nonce":"c-1a2b"}"#;
        let Ok(ServerFrame::Message(m)) = serde_json::from_str::<ServerFrame>(old) else {
            panic!("{old}")
        };
        assert_eq!(
            (m.body.as_str(), m.deleted, m.mentions.len()),
            ("hello", false, 0)
        );
    }

    #[test]
    fn a_redacted_message_keeps_its_place_and_loses_its_text() {
        let mut m = message();
        m.reactions.push(ReactionCount {
            emoji: "👍".into(),
            count: 1,
            me: false,
        });
        m.redact();
        let json = ServerFrame::Message(m).to_json();
        assert_eq!(
            json,
            r#"{"type":"message","room":7,"seq":43,"id":9002,"user":{"id":3,"name":"ann"},"mentions":[],"reply_to":{"id":9001,"seq":42,"user":{"id":5,"name":"bob"},"excerpt":"hello"},"sent_at":"2026-11-21T10:00:00.123Z","nonce":"c-1","deleted":true}"#
        );
    }

    #[test]
    fn room_events_serialize_as_protocol_md_shows() {
        let cases = [
            (
                ServerFrame::Edited(MessageEdited {
                    room: 7,
                    seq: 44,
                    id: 9001,
                    body: "hello again".into(),
                    html: "<p>hello again</p>".into(),
                    mentions: vec![],
                    edited_at: at("2026-11-21T10:01:00Z"),
                    nonce: "c-2".into(),
                    deleted: false,
                }),
                r#"{"type":"edited","room":7,"seq":44,"id":9001,"body":"hello again","html":"<p>hello again</p>","mentions":[],"edited_at":"2026-11-21T10:01:00.000Z","nonce":"c-2"}"#,
            ),
            (
                ServerFrame::Deleted {
                    room: 7,
                    seq: 45,
                    id: 9001,
                    nonce: "c-3".into(),
                },
                r#"{"type":"deleted","room":7,"seq":45,"id":9001,"nonce":"c-3"}"#,
            ),
            (
                ServerFrame::Reaction(ReactionChanged {
                    room: 7,
                    seq: 46,
                    id: 9001,
                    emoji: "👍".into(),
                    user: ann(),
                    on: true,
                    count: 2,
                    nonce: "c-4".into(),
                }),
                r#"{"type":"reaction","room":7,"seq":46,"id":9001,"emoji":"👍","user":{"id":3,"name":"ann"},"on":true,"count":2,"nonce":"c-4"}"#,
            ),
            (
                ServerFrame::Unread {
                    room: 9,
                    last_seq: 120,
                    read_seq: 100,
                    unread: 20,
                    mentions: 1,
                },
                r#"{"type":"unread","room":9,"last_seq":120,"read_seq":100,"unread":20,"mentions":1}"#,
            ),
        ];
        for (frame, json) in cases {
            assert_eq!(frame.to_json(), json);
            assert_eq!(serde_json::from_str::<ServerFrame>(json).ok(), Some(frame));
        }
        for (json, frame) in [
            (
                r#"{"type":"send","room":7,"body":"**hi** @bob","nonce":"c-1","reply_to":9001}"#,
                ClientFrame::Send {
                    room: 7,
                    body: "**hi** @bob".into(),
                    nonce: "c-1".into(),
                    reply_to: Some(9001),
                    attachments: Vec::new(),
                },
            ),
            (
                r#"{"type":"edit","room":7,"id":9001,"body":"hello again","nonce":"c-2"}"#,
                ClientFrame::Edit {
                    room: 7,
                    id: 9001,
                    body: "hello again".into(),
                    nonce: "c-2".into(),
                },
            ),
            (
                r#"{"type":"delete","room":7,"id":9001,"nonce":"c-3"}"#,
                ClientFrame::Delete {
                    room: 7,
                    id: 9001,
                    nonce: "c-3".into(),
                },
            ),
            (
                r#"{"type":"react","room":7,"id":9001,"emoji":"👍","on":true,"nonce":"c-4"}"#,
                ClientFrame::React {
                    room: 7,
                    id: 9001,
                    emoji: "👍".into(),
                    on: true,
                    nonce: "c-4".into(),
                },
            ),
            (
                r#"{"type":"read","room":7,"seq":42}"#,
                ClientFrame::Read { room: 7, seq: 42 },
            ),
        ] {
            assert_eq!(
                serde_json::from_str::<ClientFrame>(json).ok(),
                Some(frame.clone())
            );
            assert_eq!(frame.to_json(), json);
        }
    }

    #[test]
    fn a_frame_that_cannot_be_written_becomes_an_error_frame() {
        match serde_json::from_str::<ServerFrame>(&unwritable_frame()) {
            Ok(ServerFrame::Error {
                code, reference, ..
            }) => {
                assert_eq!(code, Code::Internal.as_str());
                assert_eq!(reference, None);
            }
            other => panic!("not an error frame: {other:?}"),
        }
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
            (
                ServerFrame::Left {
                    room: 7,
                    reason: None,
                },
                r#"{"type":"left","room":7}"#,
            ),
            (
                ServerFrame::Error {
                    retry_after: None,
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
                    reply_to: None,
                    attachments: Vec::new(),
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

    #[test]
    fn a_transcript_carries_text_instead_of_labels() {
        let mut a = Annotation {
            room: 7,
            seq: 48,
            id: 9001,
            kind: TRANSCRIPT.into(),
            labels: vec![],
            model: "whisper-tiny.en".into(),
            text: "The meeting is moved to Thursday.".into(),
        };
        let json = serde_json::to_string(&ServerFrame::Annotation(a.clone())).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"type":"annotation","room":7,"seq":48,"id":9001,"kind":"transcript","model":"whisper-tiny.en","text":"The meeting is moved to Thursday."}"#
        );
        assert_eq!(
            serde_json::from_str::<ServerFrame>(&json).ok(),
            Some(ServerFrame::Annotation(a.clone()))
        );
        // An emotion tag taken back still says so with its empty labels.
        a.kind = "emotion".into();
        a.text.clear();
        let json = serde_json::to_string(&ServerFrame::Annotation(a)).unwrap_or_default();
        assert!(json.contains(r#""labels":[]"#), "{json}");
        assert!(!json.contains("text"), "{json}");
    }
}
