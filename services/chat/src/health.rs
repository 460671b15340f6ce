//! Liveness, readiness (Postgres and Redis) and metrics.

use std::time::Duration;

use bytes::Bytes;
use diesel_async::SimpleAsyncConnection;
use hyper::StatusCode;

use crate::server::{HttpResponse, text, with_type};
use crate::state::ChatState;

/// 200 while the process is up.
pub fn healthz() -> HttpResponse {
    text(StatusCode::OK, "ok")
}

/// 200 only while Postgres and Redis answer.
pub async fn readyz(state: &ChatState) -> HttpResponse {
    let postgres = async {
        let mut conn = state.pool.get().await.map_err(|e| e.to_string())?;
        conn.batch_execute("SELECT 1")
            .await
            .map_err(|e| e.to_string())
    };
    let redis = async {
        redis::cmd("PING")
            .query_async::<String>(&mut state.redis.clone())
            .await
            .map_err(|e| e.to_string())
    };
    let limit = Duration::from_secs(2);
    let (pg, rd) = tokio::join!(
        tokio::time::timeout(limit, postgres),
        tokio::time::timeout(limit, redis)
    );
    match (pg, rd) {
        (Ok(Ok(())), Ok(Ok(_))) => text(StatusCode::OK, "ready"),
        (pg, rd) => {
            let what = if !matches!(pg, Ok(Ok(()))) {
                "postgres unavailable"
            } else {
                "redis unavailable"
            };
            tracing::warn!(
                pg_ok = matches!(pg, Ok(Ok(()))),
                redis_ok = matches!(rd, Ok(Ok(_))),
                "not ready"
            );
            text(StatusCode::SERVICE_UNAVAILABLE, what)
        }
    }
}

/// Prometheus text format.
pub fn metrics(state: &ChatState) -> HttpResponse {
    with_type(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        Bytes::from(state.metrics.render()),
    )
}
