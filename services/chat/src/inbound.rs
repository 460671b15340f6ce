//! What a text frame from a client is: a valid request, a mistake answered
//! with an `error` frame (the connection stays open), or something that
//! closes the connection (protocol.md: 1007 for a frame that is not a JSON
//! object). A JSON object the parser will not hold (nested deeper than its
//! recursion limit, a number no `f64` takes, a lone surrogate escape) is a
//! mistake, not a reason to close.

use common::error::Code;
use common::protocol::ClientFrame;

/// The close code for a text frame that is not a JSON object.
pub const INVALID_PAYLOAD: u16 = 1007;

/// A classified text frame.
#[derive(Debug, PartialEq)]
pub enum Inbound {
    /// A well-formed request.
    Frame(ClientFrame),
    /// Answer with an `error` frame and keep the connection.
    Reject {
        /// The stable error code.
        code: Code,
        /// What was wrong, for a human.
        message: String,
        /// The frame's nonce, else its room, echoed as `ref`.
        reference: Option<String>,
    },
    /// Close the connection with this code.
    Close(u16, &'static str),
}

/// Classifies one text frame. The common case parses once.
pub fn classify(text: &str) -> Inbound {
    if let Ok(frame) = serde_json::from_str::<ClientFrame>(text) {
        return Inbound::Frame(frame);
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        if is_json_object(text) {
            return Inbound::Reject {
                code: Code::BadRequest,
                message: "the frame nests deeper than 128 levels, or holds a number \
                          or a string escape that cannot be read"
                    .into(),
                reference: None,
            };
        }
        return Inbound::Close(INVALID_PAYLOAD, "frames must be JSON objects");
    };
    let Some(object) = value.as_object() else {
        return Inbound::Close(INVALID_PAYLOAD, "frames must be JSON objects");
    };
    // Echo what the frame concerns: its nonce, else its room.
    let reference = object
        .get("nonce")
        .and_then(|n| n.as_str().map(str::to_owned))
        .or_else(|| {
            object
                .get("room")
                .map(|r| r.as_str().map_or_else(|| r.to_string(), str::to_owned))
        })
        .map(|r| r.chars().take(64).collect());
    match object.get("type").and_then(|t| t.as_str()) {
        None => Inbound::Reject {
            code: Code::BadRequest,
            message: "a frame needs a string \"type\"".into(),
            reference,
        },
        Some(t) if ClientFrame::TYPES.contains(&t) => {
            let detail = serde_json::from_value::<ClientFrame>(value.clone())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "malformed frame".into());
            Inbound::Reject {
                code: Code::BadRequest,
                message: format!("bad {t} frame: {detail}"),
                reference,
            }
        }
        Some(t) => {
            let shown: String = t.chars().take(32).collect();
            Inbound::Reject {
                code: Code::UnknownType,
                message: format!("unknown frame type {shown:?}"),
                reference,
            }
        }
    }
}

/// Whether `text` is a JSON object by the grammar alone: serde_json skips
/// an ignored value without a depth limit (iteratively, on the heap) and
/// without reading its numbers or escapes, so what `Value` refuses for its
/// depth, a number out of range or a lone surrogate still passes here.
fn is_json_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> String {
        match classify(text) {
            Inbound::Frame(_) => "frame".into(),
            Inbound::Reject { code, .. } => code.into(),
            Inbound::Close(c, _) => c.to_string(),
        }
    }

    #[test]
    fn frames_are_classified_as_protocol_md_says() {
        assert_eq!(code(r#"{"type":"join","room":7,"since":41}"#), "frame");
        assert_eq!(
            code(r#"{"type":"join","room":7,"extra":"ignored"}"#),
            "frame"
        );
        assert_eq!(
            code(r#"{"type":"send","room":7,"body":"hi","nonce":"n"}"#),
            "frame"
        );
        assert_eq!(code("not json"), "1007");
        assert_eq!(code("[1,2]"), "1007");
        assert_eq!(code("\"text\""), "1007");
        assert_eq!(code(r#"{"type":"dance","room":7}"#), "unknown_type");
        assert_eq!(code(r#"{"room":7}"#), "bad_request");
        assert_eq!(code(r#"{"type":5}"#), "bad_request");
        assert_eq!(
            code(r#"{"type":"send","room":7,"nonce":"n"}"#),
            "bad_request"
        );
        assert_eq!(code(r#"{"type":"join","room":"seven"}"#), "bad_request");
    }

    #[test]
    fn json_objects_the_parser_will_not_hold_are_mistakes_not_closes() {
        let deep_array = format!(
            r#"{{"type":"join","room":7,"x":{}{}}}"#,
            "[".repeat(20_000),
            "]".repeat(20_000)
        );
        let deep_object = format!(
            r#"{{"type":"join","room":7,"x":{}1{}}}"#,
            r#"{"a":"#.repeat(5_000),
            "}".repeat(5_000)
        );
        for text in [
            r#"{"type":"join","room":1e400}"#,
            r#"{"type":"join","room":-1e400}"#,
            &format!(r#"{{"type":"join","room":1{}}}"#, "0".repeat(400)),
            r#"{"type":"join","room":7,"x":"\ud800"}"#,
            r#" {"type":"send","room":7,"body":"\udfff","nonce":"n"}"#,
            &deep_array,
            &deep_object,
        ] {
            assert_eq!(code(text), "bad_request", "{}", &text[..text.len().min(60)]);
        }
        // Still not JSON objects: closed.
        let deep_list = format!("{}{}", "[".repeat(1_000), "]".repeat(1_000));
        for text in [
            "1e400",
            &deep_list,
            r#"{"type":"join","room":1e400"#,
            "{} {}",
        ] {
            assert_eq!(code(text), "1007", "{}", &text[..text.len().min(60)]);
        }
    }

    #[test]
    fn rejections_echo_the_nonce_or_room() {
        let Inbound::Reject { reference, .. } =
            classify(r#"{"type":"send","room":7,"nonce":"c-1"}"#)
        else {
            panic!("not a rejection")
        };
        assert_eq!(reference.as_deref(), Some("c-1"));
        let Inbound::Reject { reference, .. } = classify(r#"{"type":"join","room":"x"}"#) else {
            panic!()
        };
        assert_eq!(reference.as_deref(), Some("x"));
    }
}
