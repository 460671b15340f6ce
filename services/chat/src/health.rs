//! Liveness, readiness (Postgres and Redis) and metrics.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use diesel_async::SimpleAsyncConnection;

use crate::state::ChatState;

/// 200 while the process is up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// 200 only while Postgres and Redis answer.
#[get("/readyz")]
pub async fn readyz(state: web::Data<ChatState>) -> HttpResponse {
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
        (Ok(Ok(())), Ok(Ok(_))) => HttpResponse::Ok().content_type("text/plain").body("ready"),
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
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body(what)
        }
    }
}

/// Prometheus text format.
#[get("/metrics")]
pub async fn metrics(state: web::Data<ChatState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
