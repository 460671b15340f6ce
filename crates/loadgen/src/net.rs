//! Opening an authenticated WebSocket, optionally from a chosen local
//! address (each 127.0.0.x gives another ~28k ephemeral ports).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::Failure;

pub type Ws = WebSocketStream<TcpStream>;

/// The local address for connection `i` when `source_ips` > 1.
pub fn source_for(i: usize, source_ips: usize) -> Option<Ipv4Addr> {
    (source_ips > 1).then(|| Ipv4Addr::new(127, 0, 0, 1 + (i % source_ips) as u8))
}

/// Connects to `url` with `Authorization: Bearer token`.
pub async fn open(url: &str, token: &str, source: Option<Ipv4Addr>) -> Result<Ws, Failure> {
    open_from(url, token, source, None).await
}

/// [`open`], saying `X-Forwarded-For: forwarded_for` when given: through
/// an nginx that trusts this machine as its proxy, the connection counts
/// as that client address's (its own per-address limits).
pub async fn open_from(
    url: &str,
    token: &str,
    source: Option<Ipv4Addr>,
    forwarded_for: Option<&str>,
) -> Result<Ws, Failure> {
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    if let Some(client) = forwarded_for {
        req.headers_mut().insert("x-forwarded-for", client.parse()?);
    }
    let host = req.uri().host().ok_or("URL without host")?.to_owned();
    let port = req.uri().port_u16().unwrap_or(80);
    let addr: SocketAddr = match host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await?
            .next()
            .ok_or("host does not resolve")?,
    };
    let stream = match source {
        Some(ip) if addr.is_ipv4() => {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
            socket.connect(addr).await?
        }
        _ => TcpStream::connect(addr).await?,
    };
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await?;
    Ok(ws)
}

/// A short name for a failure, for counting failures by kind.
pub fn kind_of(e: &Failure) -> String {
    let s = e.to_string();
    let s = s.split(':').next().unwrap_or(&s);
    s.chars().take(80).collect()
}

/// How a refused upgrade answered: its HTTP status and the `code` of its
/// JSON error body (nginx's own 429 says `rate_limited`, the chat
/// service's per-user cap `too_many_connections`); `None` when the
/// failure was not an HTTP answer.
pub fn refusal(e: &Failure) -> Option<(u16, String)> {
    let tokio_tungstenite::tungstenite::Error::Http(response) = e.downcast_ref()? else {
        return None;
    };
    let code = response
        .body()
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Some((response.status().as_u16(), code))
}

/// Opens a connection and joins `room` (no replay), returning once the
/// server said `joined`.
pub async fn open_joined(
    url: &str,
    token: &str,
    source: Option<Ipv4Addr>,
    room: i64,
) -> Result<Ws, Failure> {
    open_joined_from(url, token, source, None, room).await
}

/// [`open_joined`] as [`open_from`] opens.
pub async fn open_joined_from(
    url: &str,
    token: &str,
    source: Option<Ipv4Addr>,
    forwarded_for: Option<&str>,
    room: i64,
) -> Result<Ws, Failure> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let mut ws = open_from(url, token, source, forwarded_for).await?;
    let join = common::protocol::ClientFrame::Join { room, since: None };
    ws.send(Message::text(join.to_json())).await?;
    while let Some(m) = ws.next().await {
        if let Message::Text(t) = m?
            && matches!(
                crate::frame::scan(t.as_str()),
                crate::frame::Frame::Joined { .. }
            )
        {
            return Ok(ws);
        }
    }
    Err("closed before joined".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_their_status_and_code() {
        use tokio_tungstenite::tungstenite::{Error, http};
        let refused = |status: u16, body: &str| -> Failure {
            let mut response = http::Response::new(Some(body.as_bytes().to_vec()));
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
            Box::new(Error::Http(Box::new(response)))
        };
        let cap = refused(
            429,
            r#"{"error":{"code":"too_many_connections","message":"x"}}"#,
        );
        assert_eq!(refusal(&cap), Some((429, "too_many_connections".into())));
        assert_eq!(
            refusal(&refused(401, "no json")),
            Some((401, String::new()))
        );
        let other: Failure = "connection refused".into();
        assert_eq!(refusal(&other), None);
    }

    #[test]
    fn sources_cycle_over_loopback_addresses() {
        assert_eq!(source_for(5, 1), None);
        assert_eq!(source_for(0, 4), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(source_for(5, 4), Some(Ipv4Addr::new(127, 0, 0, 2)));
    }
}
