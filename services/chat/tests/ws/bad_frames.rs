//! Every kind of bad frame gets the answer protocol.md gives it; mistakes
//! keep the connection, protocol violations close it with their code.

use common::protocol::{ClientFrame, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

#[tokio::test]
async fn binary_non_json_and_oversized_frames_close_with_their_codes() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let cases: Vec<(Message, u16)> = vec![
        (Message::binary(vec![1u8, 2, 3]), 1003),
        (Message::text("hello?"), 1007),
        (Message::text("[1,2,3]"), 1007),
        (Message::text("42"), 1007),
        (
            Message::text(format!(
                r#"{{"type":"send","room":1,"body":"{}","nonce":"n"}}"#,
                "x".repeat(70_000)
            )),
            1009,
        ),
    ];
    for (message, expected) in cases {
        let mut client = connect(&chat, &ann).await;
        client.send_raw(message).await;
        assert_eq!(client.closed().await, Some(expected));
    }
}

#[tokio::test]
async fn mistakes_get_error_frames_and_the_connection_stays_open() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let room = stack.room(&ann, "r").await;
    let other = stack.room(&ann, "other").await;
    let mut c = connect(&chat, &ann).await;
    c.join(room, None).await;
    let long = "x".repeat(4001);
    let cases: Vec<(String, &str, Option<String>)> = vec![
        (
            r#"{"type":"dance","room":1}"#.into(),
            "unknown_type",
            Some("1".into()),
        ),
        (r#"{"room":1}"#.into(), "bad_request", Some("1".into())),
        (
            format!(r#"{{"type":"send","room":{room},"nonce":"n1"}}"#),
            "bad_request",
            Some("n1".into()),
        ),
        (
            format!(r#"{{"type":"send","room":{room},"body":"{long}","nonce":"n2"}}"#),
            "too_long",
            Some("n2".into()),
        ),
        (
            format!(r#"{{"type":"send","room":{room},"body":"  \n ","nonce":"n3"}}"#),
            "empty",
            Some("n3".into()),
        ),
        (
            format!(r#"{{"type":"send","room":{room},"body":"bell\u0007","nonce":"n4"}}"#),
            "bad_request",
            Some("n4".into()),
        ),
        (
            format!(r#"{{"type":"send","room":{room},"body":"hi","nonce":""}}"#),
            "bad_request",
            Some(String::new()),
        ),
        (
            format!(r#"{{"type":"send","room":{other},"body":"hi","nonce":"n5"}}"#),
            "not_joined",
            Some("n5".into()),
        ),
        (
            format!(r#"{{"type":"typing","room":{other}}}"#),
            "not_joined",
            Some(other.to_string()),
        ),
        (
            format!(r#"{{"type":"leave","room":{other}}}"#),
            "not_joined",
            Some(other.to_string()),
        ),
        (
            r#"{"type":"join","room":999999}"#.into(),
            "room_not_found",
            Some("999999".into()),
        ),
        (
            r#"{"type":"join","room":"seven"}"#.into(),
            "bad_request",
            Some("seven".into()),
        ),
        // JSON objects serde_json will not hold (scripts/fuzz found them
        // closing the connection with 1007): a mistake like any other.
        (
            format!(r#"{{"type":"join","room":{room},"since":1e400}}"#),
            "bad_request",
            None,
        ),
        (
            format!(
                r#"{{"type":"join","room":{room},"x":{}{}}}"#,
                "[".repeat(5000),
                "]".repeat(5000)
            ),
            "bad_request",
            None,
        ),
        (
            format!(r#"{{"type":"send","room":{room},"body":"\ud800","nonce":"n6"}}"#),
            "bad_request",
            None,
        ),
    ];
    for (text, code, reference) in cases {
        c.send_raw(Message::text(text.clone())).await;
        let (got, got_ref) = c.error().await;
        assert_eq!(
            (got.as_str(), got_ref),
            (code, reference),
            "{}",
            &text[..text.len().min(80)]
        );
    }
    // Still open, and nothing bad was stored.
    c.say(room, "still here", "ok-1").await;
    assert_eq!(c.message().await.body, "still here");
    assert_eq!(stack.stored_count(room).await, 1);
    c.send(&ClientFrame::Leave { room }).await;
    assert_eq!(c.frame().await, ServerFrame::Left { room, reason: None });
}
