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
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
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

/// Opens a connection and joins `room` (no replay), returning once the
/// server said `joined`.
pub async fn open_joined(
    url: &str,
    token: &str,
    source: Option<Ipv4Addr>,
    room: i64,
) -> Result<Ws, Failure> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let mut ws = open(url, token, source).await?;
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
    fn sources_cycle_over_loopback_addresses() {
        assert_eq!(source_for(5, 1), None);
        assert_eq!(source_for(0, 4), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(source_for(5, 4), Some(Ipv4Addr::new(127, 0, 0, 2)));
    }
}
