//! Who a request counts against in the per-address limits: the peer, or the
//! address nginx reports in `X-Real-IP` when the peer is a trusted proxy (a
//! header from anyone else is ignored, so clients cannot pick their own
//! address), reduced to the network one client holds: an IPv4 address, or
//! an IPv6 prefix (a /64 by default, since a subscriber gets a whole /64).

use std::net::{IpAddr, Ipv6Addr};

use actix_web::HttpRequest;
use actix_web::http::header;
use common::store::sessions::Device;

use crate::config::WebsiteConfig;

/// The device a sign-in comes from, as its session records it: the
/// client's network key and its `User-Agent`.
pub fn client_device(req: &HttpRequest, config: &WebsiteConfig) -> Device {
    Device {
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        address: client_key(req, config),
    }
}

/// The key of the client's network for rate limits.
pub fn client_key(req: &HttpRequest, config: &WebsiteConfig) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    let trusted = &config.common.trusted_proxies;
    let ip = if trusted.iter().any(|r| r.contains(peer))
        && let Some(real) = req.headers().get("x-real-ip").and_then(|v| v.to_str().ok())
        && let Ok(ip) = real.trim().parse::<IpAddr>()
    {
        ip
    } else {
        peer
    };
    network_key(ip, config.limits.ipv6_prefix)
}

/// An IPv4 address as itself (also when written IPv4-mapped), an IPv6
/// address as its first `prefix` bits: `2001:db8:1:2::/64`.
pub fn network_key(ip: IpAddr, prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let bits = u128::from(v6);
                let prefix = prefix.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                format!("{}/{prefix}", Ipv6Addr::from(bits & mask))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str, prefix: u8) -> String {
        let Ok(ip) = ip.parse() else {
            panic!("{ip} is not an address")
        };
        network_key(ip, prefix)
    }

    #[test]
    fn one_ipv6_slash_64_is_one_client() {
        assert_eq!(key("2001:db8:1:2::5", 64), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::9", 64), key("2001:db8:1:2::5", 64));
        assert_ne!(key("2001:db8:1:3::5", 64), key("2001:db8:1:2::5", 64));
    }

    #[test]
    fn the_prefix_is_a_setting() {
        assert_eq!(key("2001:db8:1:2::5", 48), "2001:db8:1::/48");
        assert_eq!(key("2001:db8:1:2::5", 128), "2001:db8:1:2::5/128");
    }

    #[test]
    fn ipv4_is_itself_also_when_mapped() {
        assert_eq!(key("192.0.2.1", 64), "192.0.2.1");
        assert_eq!(key("::ffff:192.0.2.1", 64), "192.0.2.1");
    }
}
