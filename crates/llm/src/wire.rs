//! The JSON of the chat-completions API: what we send, and the parts of the
//! chunks we read (everything else in them is ignored, so providers that add
//! fields or leave optional ones out are fine).

use serde::{Deserialize, Serialize};

/// Who says a message of the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The fixed instructions.
    System,
    /// The person (and the data given with the question).
    User,
    /// The model's earlier turns.
    Assistant,
}

/// One message of the conversation sent to the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An assistant message (an earlier answer).
    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// Tokens the provider counted for one answer (sent last, when asked for
/// with `stream_options.include_usage`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt.
    #[serde(default)]
    pub prompt_tokens: u32,
    /// Tokens of the answer.
    #[serde(default)]
    pub completion_tokens: u32,
}

/// The request body.
#[derive(Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: &'a [ChatMessage],
    pub stream: bool,
    pub stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

#[derive(Serialize)]
pub(crate) struct StreamOptions {
    pub include_usage: bool,
}

/// One `chat.completion.chunk`.
#[derive(Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Some providers report a failure inside the stream this way.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Option<ChunkDelta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ChunkDelta {
    #[serde(default)]
    pub content: Option<String>,
}

/// The `{"error": {"message", "code"}}` of an error response, leniently:
/// also `{"error": "text"}` and `[{"error": …}]` (Gemini). Returns (code,
/// message), either possibly empty.
pub(crate) fn error_details(body: &[u8]) -> (String, String) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (
            String::new(),
            String::from_utf8_lossy(body).chars().take(200).collect(),
        );
    };
    let value = value.get(0).unwrap_or(&value);
    let error = value.get("error").unwrap_or(value);
    let text = |key: &str| match error.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let message = match error {
        serde_json::Value::String(s) => s.clone(),
        _ => text("message"),
    };
    (text("code"), message.chars().take(500).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_read_openai_gemini_and_ollama_shapes() {
        let openai = br#"{"error":{"message":"no such model","type":"invalid_request_error","code":"model_not_found"}}"#;
        assert_eq!(
            error_details(openai),
            ("model_not_found".into(), "no such model".into())
        );
        let gemini =
            br#"[{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}]"#;
        assert_eq!(
            error_details(gemini),
            ("404".into(), "models/x is not found".into())
        );
        let ollama = br#"{"error":"model \"x\" not found, try pulling it first"}"#;
        assert_eq!(
            error_details(ollama).1,
            "model \"x\" not found, try pulling it first"
        );
        assert_eq!(error_details(b"<html>oops").1, "<html>oops");
    }

    #[test]
    fn a_chunk_with_only_usage_parses() {
        let chunk: Chunk = match serde_json::from_str(
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        ) {
            Ok(chunk) => chunk,
            Err(e) => panic!("{e}"),
        };
        assert!(chunk.choices.is_empty());
        assert_eq!(
            chunk.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 4
            })
        );
    }
}
