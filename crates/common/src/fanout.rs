//! Channels on Redis pub/sub: how a room event, an ephemeral frame
//! (presence, typing) or a room's deletion reaches every chat instance
//! (room channels), and how a frame for one user (their unread state)
//! reaches each of their connections (user channels).
//!
//! A payload is a short ASCII header and the frame exactly as clients get it,
//! so a receiving instance forwards the bytes without re-serializing:
//! `M <seq> <frame>` (a sequenced room event; seq orders and de-duplicates),
//! `E <from-user-id> <frame>` (ephemeral, not for the user it is about),
//! `D` (the room was deleted), and on a user channel `U <frame>` (for each
//! of the user's connections) and `W <room> <1|0>` (the user became, or
//! stopped being, a member of a room: watch its unread state, or stop).

use crate::redis_client::RedisConn;

use crate::error::Result;

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

/// The channel of one user's connections.
pub fn user_channel(prefix: &str, user: i64) -> String {
    format!("{prefix}user:{user}")
}

/// The user id of a user channel's name.
pub fn user_of_channel(prefix: &str, channel: &str) -> Option<i64> {
    channel
        .strip_prefix(prefix)?
        .strip_prefix("user:")?
        .parse()
        .ok()
}

/// A decoded payload; `frame` is the byte range of the frame in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// A room event, stored in the log before it was published.
    Sequenced {
        seq: i64,
        frame: std::ops::Range<usize>,
    },
    Event {
        from_user: i64,
        frame: std::ops::Range<usize>,
    },
    RoomDeleted,
    /// A frame for every connection of the channel's user.
    ToUser {
        frame: std::ops::Range<usize>,
    },
    /// The channel's user joined (`member`) or left a room.
    Membership {
        room: i64,
        member: bool,
    },
}

/// `M <seq> <frame>`.
pub fn encode_sequenced(seq: i64, frame: &str) -> String {
    format!("M {seq} {frame}")
}

/// `E <from-user> <frame>`.
pub fn encode_event(from_user: i64, frame: &str) -> String {
    format!("E {from_user} {frame}")
}

/// `W <room> <1|0>`.
pub fn encode_membership(room: i64, member: bool) -> String {
    format!("W {room} {}", u8::from(member))
}

/// Parses a payload; `None` for anything malformed (ignored by receivers).
pub fn decode(payload: &[u8]) -> Option<Envelope> {
    if payload == b"D" {
        return Some(Envelope::RoomDeleted);
    }
    if let Some(rest) = payload.strip_prefix(b"W ") {
        let rest = std::str::from_utf8(rest).ok()?;
        let (room, member) = rest.split_once(' ')?;
        let member = match member {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        return Some(Envelope::Membership {
            room: room.parse().ok()?,
            member,
        });
    }
    if let Some(frame) = payload.strip_prefix(b"U ") {
        std::str::from_utf8(frame).ok()?;
        return Some(Envelope::ToUser {
            frame: 2..payload.len(),
        });
    }
    let kind = *payload.first()?;
    let rest = payload.get(2..)?;
    let space = rest.iter().position(|b| *b == b' ')?;
    let number: i64 = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
    let frame = (2 + space + 1)..payload.len();
    std::str::from_utf8(&payload[frame.clone()]).ok()?;
    match kind {
        b'M' => Some(Envelope::Sequenced { seq: number, frame }),
        b'E' => Some(Envelope::Event {
            from_user: number,
            frame,
        }),
        _ => None,
    }
}

/// Publishes what the event writer stored: each event to its room's
/// channel and each membership it made to its user's channel, a whole batch
/// in one pipelined round trip.
#[derive(Clone)]
pub struct Announcer {
    redis: RedisConn,
    prefix: String,
}

impl Announcer {
    /// Publishes on `redis`, in channels named with `prefix`.
    pub fn new(redis: RedisConn, prefix: String) -> Self {
        Self { redis, prefix }
    }

    /// Publishes `(room, seq, frame)` events and `(user, room)` new
    /// memberships; nothing to publish costs nothing.
    pub async fn announce(&self, events: &[(i64, i64, &str)], joined: &[(i64, i64)]) -> Result<()> {
        if events.is_empty() && joined.is_empty() {
            return Ok(());
        }
        let publish = self.redis.publish_command();
        let mut cmds = Vec::with_capacity(events.len() + joined.len());
        for (room, seq, frame) in events {
            let mut cmd = redis::cmd(publish);
            cmd.arg(room_channel(&self.prefix, *room))
                .arg(encode_sequenced(*seq, frame));
            cmds.push(cmd);
        }
        for (user, room) in joined {
            let mut cmd = redis::cmd(publish);
            cmd.arg(user_channel(&self.prefix, *user))
                .arg(encode_membership(*room, true));
            cmds.push(cmd);
        }
        self.redis.each(cmds).await
    }
}

/// One publish (`SPUBLISH` on a cluster); how many subscribers heard it does not matter (pub/sub is
/// at-most-once and the chat instances catch up from Postgres).
async fn publish(
    redis: &RedisConn,
    channel: String,
    payload: impl redis::ToRedisArgs + Send + Sync,
) -> Result<()> {
    let _: i64 = redis::cmd(redis.publish_command())
        .arg(channel)
        .arg(payload)
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// Publishes a stored room event's `frame` (serialized once by the sender)
/// to its room's channel.
pub async fn publish_sequenced(
    redis: &RedisConn,
    prefix: &str,
    room: i64,
    seq: i64,
    frame: &str,
) -> Result<()> {
    publish(
        redis,
        room_channel(prefix, room),
        encode_sequenced(seq, frame),
    )
    .await
}

/// Publishes an ephemeral frame about `from_user` to a room's channel.
pub async fn publish_event(
    redis: &RedisConn,
    prefix: &str,
    room: i64,
    from_user: i64,
    frame: &str,
) -> Result<()> {
    publish(
        redis,
        room_channel(prefix, room),
        encode_event(from_user, frame),
    )
    .await
}

/// Publishes ephemeral `(from_user, frame)`s to a room's channel, in order,
/// in one pipelined round trip (one channel is one slot on a cluster).
pub async fn publish_events(
    redis: &RedisConn,
    prefix: &str,
    room: i64,
    events: &[(i64, String)],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let channel = room_channel(prefix, room);
    let mut pipe = redis::pipe();
    for (from_user, frame) in events {
        pipe.cmd(redis.publish_command())
            .arg(&channel)
            .arg(encode_event(*from_user, frame))
            .ignore();
    }
    let () = pipe.query_async(&mut redis.clone()).await?;
    Ok(())
}

/// Publishes a frame to every connection of one user, on any instance.
pub async fn publish_to_user(
    redis: &RedisConn,
    prefix: &str,
    user: i64,
    frame: &str,
) -> Result<()> {
    publish(redis, user_channel(prefix, user), format!("U {frame}")).await
}

/// Tells every instance that `user` joined (`member`) or left `room`, so
/// their open connections start or stop following its unread state.
pub async fn publish_membership(
    redis: &RedisConn,
    prefix: &str,
    user: i64,
    room: i64,
    member: bool,
) -> Result<()> {
    publish(
        redis,
        user_channel(prefix, user),
        encode_membership(room, member),
    )
    .await
}

/// Tells every instance that a room is gone, so its members get `left`.
pub async fn publish_room_deleted(redis: &RedisConn, prefix: &str, room: i64) -> Result<()> {
    publish(redis, room_channel(prefix, room), "D").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let m = encode_sequenced(42, r#"{"type":"message"}"#);
        let Some(Envelope::Sequenced { seq, frame }) = decode(m.as_bytes()) else {
            panic!("{m}")
        };
        assert_eq!((seq, &m[frame]), (42, r#"{"type":"message"}"#));
        let e = encode_event(5, r#"{"type":"typing"}"#);
        let Some(Envelope::Event { from_user, frame }) = decode(e.as_bytes()) else {
            panic!("{e}")
        };
        assert_eq!((from_user, &e[frame]), (5, r#"{"type":"typing"}"#));
        assert_eq!(decode(b"D"), Some(Envelope::RoomDeleted));
        let u = r#"U {"type":"unread"}"#;
        let Some(Envelope::ToUser { frame }) = decode(u.as_bytes()) else {
            panic!("{u}")
        };
        assert_eq!(&u[frame], r#"{"type":"unread"}"#);
        assert_eq!(
            decode(b"W 7 1"),
            Some(Envelope::Membership {
                room: 7,
                member: true
            })
        );
        assert_eq!(
            decode(b"W 7 0"),
            Some(Envelope::Membership {
                room: 7,
                member: false
            })
        );
        assert_eq!(decode(b"W 7 2"), None);
        for bad in [&b""[..], b"M", b"M x {}", b"X 1 {}", b"M 1", b"M 1 \xff"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn channels_name_their_room() {
        assert_eq!(room_channel("p:", 7), "p:room:7");
        assert_eq!(room_of_channel("p:", "p:room:7"), Some(7));
        assert_eq!(room_of_channel("p:", "q:room:7"), None);
        assert_eq!(user_of_channel("p:", &user_channel("p:", 5)), Some(5));
        assert_eq!(room_of_channel("p:", "p:user:5"), None);
    }
}
