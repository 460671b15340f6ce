//! The Redis connection both services use for commands (not pub/sub):
//! multiplexed, reconnecting by itself, with short timeouts so that a Redis
//! outage fails requests fast (503, `unavailable`) instead of hanging them.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::Result;

/// Connects to `url`; fails if Redis cannot be reached now.
pub async fn connect(url: &str) -> Result<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    Ok(client.get_connection_manager_with_config(config).await?)
}
