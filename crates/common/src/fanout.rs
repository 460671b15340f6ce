//! Room channels on Redis pub/sub: how a stored message, an ephemeral event
//! (presence, typing) or a room's deletion reaches every chat instance.
//!
//! A payload is a short ASCII header and the frame exactly as clients get it,
//! so a receiving instance forwards the bytes without re-serializing:
//! `M <seq> <frame>` (a stored message; seq orders and de-duplicates),
//! `E <from-user-id> <frame>` (ephemeral, not for the user it is about),
//! `D` (the room was deleted).

use redis::aio::ConnectionManager;

use crate::error::Result;
use crate::protocol::ChatMessage;

/// The channel of one room.
pub fn room_channel(prefix: &str, room: i64) -> String {
    format!("{prefix}room:{room}")
}

/// The room id of a channel name, for a payload received on it.
pub fn room_of_channel(prefix: &str, channel: &str) -> Option<i64> {
    channel
        .strip_prefix(prefix)?
        .strip_prefix("room:")?
        .parse()
        .ok()
}

/// A decoded payload; `frame` is the byte range of the frame in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    Message {
        seq: i64,
        frame: std::ops::Range<usize>,
    },
    Event {
        from_user: i64,
        frame: std::ops::Range<usize>,
    },
    RoomDeleted,
}

/// `M <seq> <frame>`.
pub fn encode_message(seq: i64, frame: &str) -> String {
    format!("M {seq} {frame}")
}

/// `E <from-user> <frame>`.
pub fn encode_event(from_user: i64, frame: &str) -> String {
    format!("E {from_user} {frame}")
}

/// Parses a payload; `None` for anything malformed (ignored by receivers).
pub fn decode(payload: &[u8]) -> Option<Envelope> {
    if payload == b"D" {
        return Some(Envelope::RoomDeleted);
    }
    let kind = *payload.first()?;
    let rest = payload.get(2..)?;
    let space = rest.iter().position(|b| *b == b' ')?;
    let number: i64 = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
    let frame = (2 + space + 1)..payload.len();
    std::str::from_utf8(&payload[frame.clone()]).ok()?;
    match kind {
        b'M' => Some(Envelope::Message { seq: number, frame }),
        b'E' => Some(Envelope::Event {
            from_user: number,
            frame,
        }),
        _ => None,
    }
}

/// Publishes a stored message's `frame` (serialized once by the sender) to its room's channel.
pub async fn publish_message(
    redis: &ConnectionManager,
    prefix: &str,
    message: &ChatMessage,
    frame: &str,
) -> Result<()> {
    let _: i64 = redis::cmd("PUBLISH")
        .arg(room_channel(prefix, message.room))
        .arg(encode_message(message.seq, frame))
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// Publishes an ephemeral frame about `from_user` to a room's channel.
pub async fn publish_event(
    redis: &ConnectionManager,
    prefix: &str,
    room: i64,
    from_user: i64,
    frame: &str,
) -> Result<()> {
    let _: i64 = redis::cmd("PUBLISH")
        .arg(room_channel(prefix, room))
        .arg(encode_event(from_user, frame))
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// Tells every instance that a room is gone, so its members get `left`.
pub async fn publish_room_deleted(
    redis: &ConnectionManager,
    prefix: &str,
    room: i64,
) -> Result<()> {
    let _: i64 = redis::cmd("PUBLISH")
        .arg(room_channel(prefix, room))
        .arg("D")
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let m = encode_message(42, r#"{"type":"message"}"#);
        let Some(Envelope::Message { seq, frame }) = decode(m.as_bytes()) else {
            panic!("{m}")
        };
        assert_eq!((seq, &m[frame]), (42, r#"{"type":"message"}"#));
        let e = encode_event(5, r#"{"type":"typing"}"#);
        let Some(Envelope::Event { from_user, frame }) = decode(e.as_bytes()) else {
            panic!("{e}")
        };
        assert_eq!((from_user, &e[frame]), (5, r#"{"type":"typing"}"#));
        assert_eq!(decode(b"D"), Some(Envelope::RoomDeleted));
        for bad in [&b""[..], b"M", b"M x {}", b"X 1 {}", b"M 1", b"M 1 \xff"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn channels_name_their_room() {
        assert_eq!(room_channel("p:", 7), "p:room:7");
        assert_eq!(room_of_channel("p:", "p:room:7"), Some(7));
        assert_eq!(room_of_channel("p:", "q:room:7"), None);
    }
}
