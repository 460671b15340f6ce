//! The client's address for rate limits: the peer, or the address nginx
//! reports in `X-Real-IP` when the peer is a trusted proxy. A header from
//! anyone else is ignored, so clients cannot pick their own address.

use std::net::IpAddr;

use actix_web::HttpRequest;
use common::config::IpRange;

/// The address to attribute this request to.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpRange]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    if trusted_proxies.iter().any(|r| r.contains(peer))
        && let Some(real) = req.headers().get("x-real-ip").and_then(|v| v.to_str().ok())
        && let Ok(ip) = real.trim().parse::<IpAddr>()
    {
        return ip.to_string();
    }
    peer.to_string()
}
