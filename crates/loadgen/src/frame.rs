//! Cheap reading of server frames on the receive path: a load client sees
//! hundreds of thousands of frames a second, so instead of deserializing a
//! whole `ServerFrame` it pulls out the few fields it needs (type, room, seq,
//! the body's send stamp, an error's code and ref) by scanning the text.
//! The server serializes `type` first (serde's internally tagged enum), and
//! the top-level `room` and `seq` come before any nested object.

/// The stamp a load client writes at the start of every body it sends:
/// `t=<µs since the run's epoch> s=<step> c=<client> ` then padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub sent_us: u64,
    pub step: u32,
    pub client: u32,
}

impl Stamp {
    /// A body of exactly `len` bytes (at least the stamp) carrying this stamp.
    pub fn body(&self, len: usize) -> String {
        let mut b = format!("t={} s={} c={} ", self.sent_us, self.step, self.client);
        let pad = len.saturating_sub(b.len());
        b.extend(std::iter::repeat_n('x', pad));
        b
    }
}

/// What a load client needs to know about one server frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A `message` frame, with the stamp when its body carries one.
    Message {
        room: i64,
        seq: i64,
        stamp: Option<Stamp>,
    },
    /// Another sequenced room event (edited, deleted, reaction, annotation).
    Event {
        room: i64,
        seq: i64,
    },
    Joined {
        room: i64,
        last_seq: i64,
    },
    Error {
        code: &'a str,
        reference: Option<&'a str>,
    },
    /// Presence, typing, unread, left, or anything unknown.
    Other,
}

const SEQUENCED: [&str; 4] = ["edited", "deleted", "reaction", "annotation"];

/// Reads one text frame.
pub fn scan(text: &str) -> Frame<'_> {
    let Some(rest) = text.strip_prefix("{\"type\":\"") else {
        return Frame::Other;
    };
    let Some(end) = rest.find('"') else {
        return Frame::Other;
    };
    let (kind, rest) = rest.split_at(end);
    match kind {
        "message" => match (int_after(rest, "\"room\":"), int_after(rest, "\"seq\":")) {
            (Some(room), Some(seq)) => Frame::Message {
                room,
                seq,
                stamp: stamp_in(rest),
            },
            _ => Frame::Other,
        },
        "joined" => match (
            int_after(rest, "\"room\":"),
            int_after(rest, "\"last_seq\":"),
        ) {
            (Some(room), Some(last_seq)) => Frame::Joined { room, last_seq },
            _ => Frame::Other,
        },
        "error" => Frame::Error {
            code: str_after(rest, "\"code\":\"").unwrap_or(""),
            reference: str_after(rest, "\"ref\":\""),
        },
        k if SEQUENCED.contains(&k) => {
            match (int_after(rest, "\"room\":"), int_after(rest, "\"seq\":")) {
                (Some(room), Some(seq)) => Frame::Event { room, seq },
                _ => Frame::Other,
            }
        }
        _ => Frame::Other,
    }
}

/// The integer right after the first `key`.
fn int_after(s: &str, key: &str) -> Option<i64> {
    let at = s.find(key)? + key.len();
    leading_int(&s[at..]).map(|(v, _)| v)
}

/// A leading (optionally negative) decimal integer and the rest of `s`.
fn leading_int(s: &str) -> Option<(i64, &str)> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 || end > 18 {
        return None;
    }
    let v: i64 = digits[..end].parse().ok()?;
    Some((if neg { -v } else { v }, &digits[end..]))
}

/// The JSON string (without escapes, as codes and nonces are) after `key`.
fn str_after<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let at = s.find(key)? + key.len();
    let rest = &s[at..];
    rest.find('"').map(|end| &rest[..end])
}

fn stamp_in(s: &str) -> Option<Stamp> {
    const KEY: &str = "\"body\":\"t=";
    let at = s.find(KEY)? + KEY.len();
    let (sent_us, rest) = leading_int(&s[at..])?;
    let (step, rest) = leading_int(rest.strip_prefix(" s=")?)?;
    let (client, _) = leading_int(rest.strip_prefix(" c=")?)?;
    Some(Stamp {
        sent_us: u64::try_from(sent_us).ok()?,
        step: u32::try_from(step).ok()?,
        client: u32::try_from(client).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::protocol::ServerFrame;

    #[test]
    fn a_message_frame_as_the_server_writes_it() {
        let stamp = Stamp {
            sent_us: 123_456_789,
            step: 3,
            client: 42,
        };
        let body = stamp.body(100);
        assert_eq!(body.len(), 100);
        let text = format!(
            r#"{{"type":"message","room":7,"seq":42,"id":9001,"user":{{"id":3,"name":"ann"}},"body":"{body}","html":"<p>{body}</p>","mentions":[],"sent_at":"2026-11-21T10:00:00.123Z","nonce":"3.42.0"}}"#
        );
        // The real type agrees with the scan.
        let parsed: Result<ServerFrame, _> = serde_json::from_str(&text);
        assert!(matches!(parsed, Ok(ServerFrame::Message(ref m)) if m.room == 7 && m.seq == 42));
        assert_eq!(
            scan(&text),
            Frame::Message {
                room: 7,
                seq: 42,
                stamp: Some(stamp)
            }
        );
    }

    #[test]
    fn replies_nest_a_seq_after_the_top_level_one() {
        let text = r#"{"type":"message","room":7,"seq":43,"id":1,"user":{"id":3,"name":"a"},"body":"hi","reply_to":{"id":9,"seq":2}}"#;
        assert_eq!(
            scan(text),
            Frame::Message {
                room: 7,
                seq: 43,
                stamp: None
            }
        );
    }

    #[test]
    fn other_frames() {
        assert_eq!(
            scan(r#"{"type":"joined","room":7,"last_seq":41,"online":[],"truncated":false}"#),
            Frame::Joined {
                room: 7,
                last_seq: 41
            }
        );
        assert_eq!(
            scan(r#"{"type":"error","code":"rate_limited","message":"slow down","ref":"0.1.2"}"#),
            Frame::Error {
                code: "rate_limited",
                reference: Some("0.1.2")
            }
        );
        assert_eq!(
            scan(r#"{"type":"deleted","room":7,"seq":45,"id":9001,"nonce":"c-3"}"#),
            Frame::Event { room: 7, seq: 45 }
        );
        assert_eq!(
            scan(r#"{"type":"presence","room":7,"user":{"id":5,"name":"bob"},"online":true}"#),
            Frame::Other
        );
        assert_eq!(scan("[1,2]"), Frame::Other);
        assert_eq!(scan(r#"{"type":"message","room":"x"}"#), Frame::Other);
    }

    #[test]
    fn a_body_without_a_full_stamp_has_none() {
        let text = r#"{"type":"message","room":1,"seq":1,"body":"t=12 s=x"}"#;
        assert_eq!(
            scan(text),
            Frame::Message {
                room: 1,
                seq: 1,
                stamp: None
            }
        );
    }
}
