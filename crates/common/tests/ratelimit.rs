//! The rate limiter against a real Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use common::Error;
use common::ratelimit::{Limit, RateLimiter};

async fn limiter() -> RateLimiter {
    let redis = test_support::redis_conn().await;
    RateLimiter::new(redis, test_support::unique_redis_prefix())
}

const THREE: Limit = Limit {
    name: "test",
    max: 3,
    window: Duration::from_secs(60),
};

async fn limited(limiter: &RateLimiter, who: &str) -> bool {
    matches!(
        limiter.hit(&THREE, who).await,
        Err(Error::RateLimited { .. })
    )
}

#[tokio::test]
async fn a_refund_takes_its_count_back() {
    let limiter = limiter().await;
    let first = limiter.hit_refundable(&THREE, "ann").await.unwrap();
    let second = limiter.hit_refundable(&THREE, "ann").await.unwrap();
    limiter.hit(&THREE, "ann").await.unwrap();
    assert!(
        limited(&limiter, "ann").await,
        "the 4th is refused (and counted)"
    );
    first.apply().await;
    second.apply().await;
    assert!(!limited(&limiter, "ann").await, "two back: room for one");
    assert!(limited(&limiter, "ann").await);
}

#[tokio::test]
async fn a_refund_never_takes_a_count_below_zero() {
    let limiter = limiter().await;
    let refund = limiter.hit_refundable(&THREE, "bob").await.unwrap();
    limiter.reset(&THREE, "bob").await.unwrap();
    refund.apply().await;
    for _ in 0..3 {
        assert!(!limited(&limiter, "bob").await);
    }
    assert!(
        limited(&limiter, "bob").await,
        "no credit from a refund at zero"
    );
}

#[tokio::test]
async fn a_budget_is_spent_by_amounts_and_refuses_once_spent() {
    let limiter = limiter().await;
    let megabyte = Limit {
        name: "test-bytes",
        max: 1_000_000,
        window: Duration::from_secs(60),
    };
    limiter.within_budget(&megabyte, "ann").await.unwrap();
    limiter.spend(&megabyte, "ann", 600_000).await.unwrap();
    limiter.within_budget(&megabyte, "ann").await.unwrap();
    limiter.spend(&megabyte, "ann", 600_000).await.unwrap();
    assert!(matches!(
        limiter.within_budget(&megabyte, "ann").await,
        Err(Error::RateLimited { retry_after_secs }) if (1..=60).contains(&retry_after_secs)
    ));
    limiter.within_budget(&megabyte, "bob").await.unwrap();
}
