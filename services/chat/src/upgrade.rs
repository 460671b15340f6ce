//! `GET /ws`: authenticates the upgrade (token from the session cookie or a
//! Bearer header, session still open), checks the Origin of cookie-based
//! upgrades, enforces the per-user connection cap, then hands the socket to
//! its connection task. Every refusal is an HTTP answer; no socket opens.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use common::auth::token::{SESSION_COOKIE, Via, bearer};
use common::protocol::UserRef;
use common::store::sessions;

use crate::connection::{self, Peer};
use crate::errors::UpgradeError;
use crate::state::ChatState;

fn token(req: &HttpRequest) -> Result<(String, Via), UpgradeError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        return match bearer(value.to_str().unwrap_or_default()) {
            Some(token) => Ok((token.to_owned(), Via::Bearer)),
            None => Err(UpgradeError::Unauthenticated(
                "use Authorization: Bearer <token>",
            )),
        };
    }
    match req.cookie(SESSION_COOKIE) {
        Some(c) if !c.value().is_empty() => Ok((c.value().to_owned(), Via::Cookie)),
        _ => Err(UpgradeError::Unauthenticated(
            "sign in first: no session token",
        )),
    }
}

/// The WebSocket endpoint.
pub async fn ws(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<ChatState>,
) -> Result<HttpResponse, UpgradeError> {
    let refused = |e: UpgradeError| {
        state.metrics.upgrades_refused.inc();
        e
    };
    let (token, via) = token(&req).map_err(refused)?;
    let claims = state
        .verifier
        .verify(&token)
        .map_err(|e| refused(e.into()))?;
    let user_id = claims.user_id().map_err(|e| refused(e.into()))?;
    if let Via::Cookie = via {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        if !origin.is_some_and(|o| state.config.origin_allowed(o)) {
            return Err(refused(UpgradeError::CrossOrigin));
        }
    }
    let active = async {
        let mut conn = state.pool.get().await?;
        sessions::find_active(&mut conn, claims.sid, user_id).await
    };
    let (_, username) = active
        .await
        .map_err(|e| refused(e.into()))?
        .ok_or_else(|| {
            refused(UpgradeError::Unauthenticated(
                "this session has ended; sign in again",
            ))
        })?;
    let id = state.registry.next_id();
    if !state
        .conn_limit
        .acquire(user_id, id)
        .await
        .map_err(|e| refused(e.into()))?
    {
        return Err(refused(UpgradeError::TooManyConnections));
    }
    let (response, session, stream) = match actix_ws::handle(&req, body) {
        Ok(parts) => parts,
        Err(e) => {
            let _ = state.conn_limit.release(user_id, id).await;
            return Err(UpgradeError::NotWebSocket(e.to_string()));
        }
    };
    let peer = Peer {
        id,
        user: UserRef {
            id: user_id,
            name: username,
        },
        session_id: claims.sid,
        token_expires_at: claims.expires_at(),
    };
    actix_web::rt::spawn(connection::run(state.into_inner(), peer, session, stream));
    Ok(response)
}
