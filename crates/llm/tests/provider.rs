//! The real client against the stand-in provider over real HTTP: every
//! fault mode ends in one outcome, retried only before the first token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use llm::{
    CancellationToken, ChatMessage, Client, Completion, Event, LlmError, ProviderConfig, Usage,
};
use test_support::llm::{StandIn, StandInOptions};

const DATA: &str = "Answer from these messages.\n{\"n\":1,\"text\":\"we deploy on fridays\"}\n{\"n\":2,\"text\":\"never on mondays\"}";
const CITED: &str =
    "According to [1] and [2], \"we deploy on fridays\" [1]; \"never on mondays\" [2].";

/// Limits small enough for tests to stay fast.
fn config(stand_in: &StandIn, model: &str) -> ProviderConfig {
    let mut config = ProviderConfig::new(stand_in.base_url(), model);
    config.first_byte_timeout = Duration::from_secs(5);
    config.total_timeout = Duration::from_secs(10);
    config.max_retries = 2;
    config.backoff_base = Duration::from_millis(1);
    config
}

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("Answer only from the data."),
        ChatMessage::user(DATA),
    ]
}

/// Runs one answer to its end, returning the deltas and the outcome.
async fn ask(
    config: ProviderConfig,
    cancel: CancellationToken,
) -> (Vec<String>, Result<Completion, LlmError>) {
    let client = Client::new(config).unwrap();
    let mut deltas = Vec::new();
    let outcome = client
        .complete(messages(), cancel, |d| deltas.push(d.to_owned()))
        .await;
    (deltas, outcome)
}

#[tokio::test]
async fn cite_streams_token_by_token_and_completes_with_usage() {
    let stand_in = StandIn::start().await;
    let (deltas, outcome) = ask(config(&stand_in, "cite"), CancellationToken::new()).await;
    let completion = outcome.unwrap();
    assert_eq!(completion.text, CITED);
    assert_eq!(deltas.concat(), CITED);
    assert_eq!(
        deltas.len(),
        14,
        "one delta per token, the empty role chunk skipped"
    );
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    assert_eq!(completion.usage.map(|u| u.completion_tokens), Some(14));
    assert!(completion.usage.is_some_and(|u: Usage| u.prompt_tokens > 0));
    assert!(!completion.is_interrupted());

    let log = stand_in.requests();
    assert_eq!(log.len(), 1);
    let body = &log[0].body;
    assert_eq!(log[0].path, "/v1/chat/completions");
    assert_eq!(body["model"], "cite");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["content"], DATA);
    assert_eq!(log[0].authorization, None);
}

#[tokio::test]
async fn the_stream_yields_deltas_then_exactly_one_end() {
    let stand_in = StandIn::start().await;
    let client = Client::new(config(&stand_in, "echo")).unwrap();
    let events: Vec<Event> = client
        .stream(messages(), CancellationToken::new())
        .collect()
        .await;
    let (last, deltas) = events.split_last().unwrap();
    assert!(
        deltas
            .iter()
            .all(|e| matches!(e, Event::Delta(d) if !d.is_empty()))
    );
    match last {
        Event::End(Ok(completion)) => assert_eq!(completion.text, DATA),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_api_key_is_sent_as_bearer_and_a_wrong_one_is_unauthorized_at_once() {
    let stand_in = StandIn::start_with(StandInOptions {
        api_key: Some("sk-right".into()),
        port: 0,
    })
    .await;
    let mut right = config(&stand_in, "cite");
    right.api_key = Some("sk-right".into());
    assert_eq!(
        ask(right, CancellationToken::new()).await.1.unwrap().text,
        CITED
    );

    let mut wrong = config(&stand_in, "cite");
    wrong.api_key = Some("sk-wrong".into());
    assert_eq!(
        ask(wrong, CancellationToken::new()).await.1,
        Err(LlmError::Unauthorized)
    );
    let log = stand_in.requests();
    assert_eq!(log.len(), 2, "no retry after 401");
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer sk-right"));
    assert_eq!(log[1].authorization.as_deref(), Some("Bearer sk-wrong"));
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_then_answers() {
    let stand_in = StandIn::start().await;
    let started = Instant::now();
    let (_, outcome) = ask(config(&stand_in, "429-1"), CancellationToken::new()).await;
    assert_eq!(outcome.unwrap().text, CITED);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(stand_in.requests().len(), 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_is_not_waited_for() {
    let stand_in = StandIn::start().await;
    let mut config = config(&stand_in, "429-5");
    config.max_retry_after = Duration::from_millis(500);
    let started = Instant::now();
    let (_, outcome) = ask(config, CancellationToken::new()).await;
    assert_eq!(
        outcome,
        Err(LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(1))
        })
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(stand_in.requests().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_answer() {
    let stand_in = StandIn::start().await;
    let (_, outcome) = ask(config(&stand_in, "500-2"), CancellationToken::new()).await;
    assert_eq!(outcome.unwrap().text, CITED);
    assert_eq!(stand_in.requests().len(), 3);
}

#[tokio::test]
async fn it_gives_up_after_max_retries_500s_with_server_error() {
    let stand_in = StandIn::start().await;
    let (deltas, outcome) = ask(config(&stand_in, "500-10"), CancellationToken::new()).await;
    assert_eq!(outcome, Err(LlmError::Server(500)));
    assert!(deltas.is_empty());
    assert_eq!(
        stand_in.requests().len(),
        3,
        "the first attempt and max_retries = 2"
    );
}

#[tokio::test]
async fn never_times_out_at_the_first_byte_timeout_and_hangs_up() {
    let stand_in = StandIn::start().await;
    let mut config = config(&stand_in, "never");
    config.first_byte_timeout = Duration::from_millis(150);
    let started = Instant::now();
    let (_, outcome) = ask(config, CancellationToken::new()).await;
    let took = started.elapsed();
    assert_eq!(outcome, Err(LlmError::Timeout));
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(stand_in.requests().len(), 1, "a timeout is not retried");
    assert!(stand_in.wait_for_hang_up(0, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_cut_after_the_first_token_is_a_partial_interrupted_answer_never_a_retry() {
    let stand_in = StandIn::start().await;
    let (deltas, outcome) = ask(config(&stand_in, "cut-3"), CancellationToken::new()).await;
    let completion = outcome.unwrap();
    assert_eq!(completion.text, "According to [1]");
    assert_eq!(deltas.concat(), completion.text);
    assert!(
        matches!(completion.interrupted, Some(LlmError::Connect(_))),
        "{completion:?}"
    );
    assert_eq!(completion.finish_reason, None);
    assert_eq!(stand_in.requests().len(), 1);
}

#[tokio::test]
async fn a_cut_before_the_first_token_is_retried() {
    let stand_in = StandIn::start().await;
    let (deltas, outcome) = ask(config(&stand_in, "cut-0"), CancellationToken::new()).await;
    assert!(matches!(outcome, Err(LlmError::Connect(_))), "{outcome:?}");
    assert!(deltas.is_empty());
    assert_eq!(stand_in.requests().len(), 3);
}

#[tokio::test]
async fn garbage_is_a_bad_response_keeping_the_partial() {
    let stand_in = StandIn::start().await;
    let (_, outcome) = ask(config(&stand_in, "garbage"), CancellationToken::new()).await;
    let completion = outcome.unwrap();
    assert_eq!(completion.text, "According");
    assert!(
        matches!(completion.interrupted, Some(LlmError::BadResponse(_))),
        "{completion:?}"
    );
    assert_eq!(stand_in.requests().len(), 1);
}

#[tokio::test]
async fn a_wrong_content_type_is_a_bad_response() {
    let stand_in = StandIn::start().await;
    let (_, outcome) = ask(config(&stand_in, "wrong-type"), CancellationToken::new()).await;
    match outcome {
        Err(LlmError::BadResponse(message)) => assert!(message.contains("text/html"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(stand_in.requests().len(), 1);
}

#[tokio::test]
async fn cancelling_mid_stream_keeps_the_partial_and_hangs_up() {
    let stand_in = StandIn::start().await;
    let client = Client::new(config(&stand_in, "slow-20")).unwrap();
    let cancel = CancellationToken::new();
    let mut events = client.stream(messages(), cancel.clone());
    let mut text = String::new();
    let outcome = loop {
        match events.next().await.unwrap() {
            Event::Delta(delta) => {
                text.push_str(&delta);
                if text == "According to" {
                    cancel.cancel();
                }
            }
            Event::End(outcome) => break outcome,
        }
    };
    let completion = outcome.unwrap();
    assert_eq!(completion.text, "According to");
    assert_eq!(completion.interrupted, Some(LlmError::Cancelled));
    assert!(events.next().await.is_none(), "nothing after the end");
    assert!(stand_in.wait_for_hang_up(0, Duration::from_secs(5)).await);
    assert_eq!(stand_in.requests().len(), 1);
}

#[tokio::test]
async fn cancelling_before_any_text_is_cancelled() {
    let stand_in = StandIn::start().await;
    let cancel = CancellationToken::new();
    let cancel_soon = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel_soon.cancel();
    });
    let (_, outcome) = ask(config(&stand_in, "never"), cancel).await;
    assert_eq!(outcome, Err(LlmError::Cancelled));
    assert!(stand_in.wait_for_hang_up(0, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn the_total_timeout_interrupts_a_slow_answer() {
    let stand_in = StandIn::start().await;
    let mut config = config(&stand_in, "slow-40");
    config.total_timeout = Duration::from_millis(300);
    let (_, outcome) = ask(config, CancellationToken::new()).await;
    let completion = outcome.unwrap();
    assert!(
        !completion.text.is_empty() && completion.text.len() < CITED.len(),
        "{completion:?}"
    );
    assert_eq!(completion.interrupted, Some(LlmError::Timeout));
}

#[tokio::test]
async fn an_unknown_model_is_model_not_found_without_retries() {
    let stand_in = StandIn::start().await;
    let (_, outcome) = ask(config(&stand_in, "gpt-9"), CancellationToken::new()).await;
    assert_eq!(outcome, Err(LlmError::ModelNotFound));
    assert_eq!(stand_in.requests().len(), 1);
}

#[tokio::test]
async fn a_provider_that_is_down_is_connect_after_the_retries() {
    let port = test_support::free_port();
    let mut config = ProviderConfig::new(format!("http://127.0.0.1:{port}/v1"), "cite");
    config.backoff_base = Duration::from_millis(1);
    let (_, outcome) = ask(config, CancellationToken::new()).await;
    match outcome {
        Err(e @ LlmError::Connect(_)) => assert_eq!(e.code(), "connect"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn models_are_listed() {
    let stand_in = StandIn::start().await;
    let client = Client::new(config(&stand_in, "cite")).unwrap();
    let models = client.list_models().await.unwrap();
    assert!(models.iter().any(|m| m == "cite"), "{models:?}");
    assert_eq!(stand_in.requests()[0].path, "/v1/models");
}
