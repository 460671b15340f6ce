//! `GET /ws`: authenticates the upgrade (token from the session cookie or a
//! Bearer header, session still open), checks the Origin of cookie-based
//! upgrades and the handshake itself, enforces the per-user connection cap,
//! then answers 101 and hands the upgraded socket to its connection task.
//! Every refusal is an HTTP answer; no socket opens.

use std::sync::Arc;

use common::auth::token::{Via, bearer, session_cookie};
use common::protocol::UserRef;
use common::store::{preferences, sessions};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::connection::{self, Peer};
use crate::error::UpgradeError;
use crate::server::HttpResponse;
use crate::state::ChatState;

/// The WebSocket endpoint: 101 and a connection task, or the refusal.
pub async fn ws(state: &Arc<ChatState>, req: Request<Incoming>) -> HttpResponse {
    match accept(state, req).await {
        Ok(response) => response,
        Err(e) => {
            state.metrics.upgrades_refused.inc();
            e.response()
        }
    }
}

async fn accept(
    state: &Arc<ChatState>,
    mut req: Request<Incoming>,
) -> Result<HttpResponse, UpgradeError> {
    let headers = req.headers();
    let (token, via) = token(headers, state.config.common.public_origin.is_https())?;
    let claims = state.verifier.verify(&token)?;
    let user_id = claims.user_id()?;
    if let Via::Cookie = via {
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        if !origin.is_some_and(|o| state.config.origin_allowed(o)) {
            return Err(UpgradeError::CrossOrigin);
        }
    }
    let accept_key = handshake(headers)?;
    let active = async {
        let mut conn = state.pool.get().await?;
        let Some((_, username, _)) = sessions::find_active(&mut conn, claims.sid, user_id).await?
        else {
            return Ok(None);
        };
        let privacy = preferences::get(&mut conn, user_id).await?.privacy();
        Ok::<_, common::Error>(Some((username, privacy)))
    };
    let (username, privacy) = active.await?.ok_or(UpgradeError::Unauthenticated(
        "this session has ended; sign in again",
    ))?;
    let id = state.registry.next_id();
    if !state.conn_limit.acquire(user_id, id).await? {
        return Err(UpgradeError::TooManyConnections);
    }
    let peer = Peer {
        id,
        user: UserRef {
            id: user_id,
            name: username,
        },
        session_id: claims.sid,
        token_expires_at: claims.expires_at(),
        privacy,
    };
    let upgrading = hyper::upgrade::on(&mut req);
    let state = state.clone();
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(connection::socket_config()),
                )
                .await;
                connection::run(state, peer, socket).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "the upgrade did not complete");
                let _ = state.conn_limit.release(peer.user.id, peer.id).await;
            }
        }
    });
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept_key);
    Ok(response)
}

fn token(headers: &HeaderMap, https: bool) -> Result<(String, Via), UpgradeError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        return match bearer(value.to_str().unwrap_or_default()) {
            Some(token) => Ok((token.to_owned(), Via::Bearer)),
            None => Err(UpgradeError::Unauthenticated(
                "use Authorization: Bearer <token>",
            )),
        };
    }
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == session_cookie(https));
    match session {
        Some(c) if !c.value().is_empty() => Ok((c.value().to_owned(), Via::Cookie)),
        _ => Err(UpgradeError::Unauthenticated(
            "sign in first: no session token",
        )),
    }
}

/// Checks that the request asks for WebSocket version 13 (RFC 6455 §4.2.1)
/// and returns the `Sec-WebSocket-Accept` answer to its key.
fn handshake(headers: &HeaderMap) -> Result<HeaderValue, UpgradeError> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let refuse = |why: &str| Err(UpgradeError::NotWebSocket(why.to_owned()));
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return refuse(
            "this endpoint only upgrades to WebSocket (Connection: Upgrade, Upgrade: websocket)",
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return refuse("Sec-WebSocket-Version 13 is required");
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return refuse("Sec-WebSocket-Key is missing");
    };
    HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .or_else(|_| refuse("Sec-WebSocket-Key is not valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn the_accept_key_is_rfc_6455s() {
        let h = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert_eq!(
            handshake(&h).ok(),
            Some(HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        );
    }

    #[test]
    fn anything_but_a_version_13_upgrade_is_refused() {
        let missing_key = headers(&[
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
        ]);
        let old = headers(&[
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "8"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        let plain = headers(&[("connection", "keep-alive")]);
        for h in [missing_key, old, plain] {
            assert!(matches!(handshake(&h), Err(UpgradeError::NotWebSocket(_))));
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "theme=dark; parley_session=abc; x=1")]);
        assert_eq!(
            session_cookie(false),
            "parley_session",
            "the test names the cookie"
        );
        assert!(matches!(token(&h, false), Ok((t, Via::Cookie)) if t == "abc"));
        let none = headers(&[("cookie", "theme=dark")]);
        assert!(token(&none, false).is_err());
    }

    #[test]
    fn on_https_only_the_host_prefixed_cookie_counts() {
        let plain = headers(&[("cookie", "parley_session=abc")]);
        assert!(
            token(&plain, true).is_err(),
            "a subdomain could have set it"
        );
        let host = headers(&[("cookie", "__Host-parley_session=abc")]);
        assert!(matches!(token(&host, true), Ok((t, Via::Cookie)) if t == "abc"));
    }
}
