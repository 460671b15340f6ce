//! Upgrades that must be refused before any socket opens, and sockets that
//! must be closed when their session ends.

use common::auth::keys::SigningKeyMaterial;
use common::auth::token::TokenIssuer;

use crate::helpers::*;

#[tokio::test]
async fn missing_forged_expired_and_revoked_tokens_get_401() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    assert!(
        try_connect(&chat.ws_url(), Auth::Bearer(&ann.token))
            .await
            .is_ok()
    );
    assert_eq!(
        try_connect(&chat.ws_url(), Auth::Raw(vec![])).await.err(),
        Some(401)
    );
    assert_eq!(
        try_connect(&chat.ws_url(), Auth::Bearer("not.a.token"))
            .await
            .err(),
        Some(401)
    );
    let stranger = SigningKeyMaterial::generate();
    let now = chrono::Utc::now();
    let (forged, _) = TokenIssuer::new(&stranger)
        .issue(
            ann.id,
            "ann",
            ann.session,
            now,
            now + chrono::Duration::hours(1),
        )
        .unwrap();
    assert_eq!(
        try_connect(&chat.ws_url(), Auth::Bearer(&forged))
            .await
            .err(),
        Some(401)
    );
    let expired = stack.user_with_token_life("bob", -60).await;
    assert_eq!(
        try_connect(&chat.ws_url(), Auth::Bearer(&expired.token))
            .await
            .err(),
        Some(401)
    );
    stack.revoke(&ann).await;
    assert_eq!(
        try_connect(&chat.ws_url(), Auth::Bearer(&ann.token))
            .await
            .err(),
        Some(401)
    );
    // Tokens never travel in the query string.
    let url = format!("{}?token={}", chat.ws_url(), expired.token);
    assert_eq!(try_connect(&url, Auth::Raw(vec![])).await.err(), Some(401));
}

#[tokio::test]
async fn cookie_upgrades_need_the_sites_own_origin() {
    let stack = Stack::new().await;
    let chat = stack
        .chat_with(&[("ALLOWED_ORIGINS", "https://app.example.com")])
        .await;
    let ann = stack.user("ann").await;
    let cookie = |origin| Auth::Cookie {
        token: &ann.token,
        origin,
    };
    assert_eq!(
        try_connect(&chat.ws_url(), cookie(None)).await.err(),
        Some(403)
    );
    assert_eq!(
        try_connect(&chat.ws_url(), cookie(Some("http://evil.example")))
            .await
            .err(),
        Some(403)
    );
    assert!(
        try_connect(&chat.ws_url(), cookie(Some(ORIGIN)))
            .await
            .is_ok()
    );
    assert!(
        try_connect(&chat.ws_url(), cookie(Some("https://app.example.com")))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn one_connection_over_the_per_user_cap_gets_429() {
    let stack = Stack::new().await;
    let a = stack.chat_with(&[("MAX_CONNECTIONS_PER_USER", "3")]).await;
    let b = stack.chat_with(&[("MAX_CONNECTIONS_PER_USER", "3")]).await;
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    // The cap counts across instances.
    let mut held = vec![
        connect(&a, &ann).await,
        connect(&b, &ann).await,
        connect(&a, &ann).await,
    ];
    assert_eq!(
        try_connect(&b.ws_url(), Auth::Bearer(&ann.token))
            .await
            .err(),
        Some(429)
    );
    assert!(
        try_connect(&b.ws_url(), Auth::Bearer(&bob.token))
            .await
            .is_ok(),
        "other users are unaffected"
    );
    // Closing one frees a slot.
    let mut first = held.remove(0);
    first
        .send_raw(tokio_tungstenite::tungstenite::Message::Close(None))
        .await;
    let _ = first.closed().await;
    let mut admitted = false;
    for _ in 0..50 {
        if try_connect(&b.ws_url(), Auth::Bearer(&ann.token))
            .await
            .is_ok()
        {
            admitted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(admitted);
}

#[tokio::test]
async fn logout_closes_the_users_open_sockets_with_1008_within_5_s() {
    let stack = Stack::new().await;
    let a = stack.chat().await;
    let b = stack.chat().await;
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let (mut ann1, mut ann2, mut bob1) = (
        connect(&a, &ann).await,
        connect(&b, &ann).await,
        connect(&a, &bob).await,
    );
    let started = std::time::Instant::now();
    stack.revoke(&ann).await;
    assert_eq!(ann1.closed().await, Some(1008));
    assert_eq!(ann2.closed().await, Some(1008));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        bob1.next_within(std::time::Duration::from_millis(500))
            .await
            .is_none(),
        "bob stays connected"
    );
}

#[tokio::test]
async fn an_expiring_token_closes_its_socket_with_1008() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user_with_token_life("ann", 2).await;
    let mut client = connect(&chat, &ann).await;
    assert_eq!(client.closed().await, Some(1008));
}
