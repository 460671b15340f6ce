//! `website healthcheck` / `chat healthcheck` / `worker healthcheck`: asks the running service's
//! `/healthz` over loopback, for container HEALTHCHECKs in images that have
//! no curl. Exit status 0 when it answers 200.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Whether the service on `listen` (its LISTEN_ADDR) answers `/healthz` with 200.
pub fn probe(listen: SocketAddr) -> bool {
    // A service bound to every interface is asked on loopback.
    let target = if listen.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], listen.port()))
    } else {
        listen
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// The command line of a service that only serves (`chat`, `worker`):
/// nothing or `serve` goes on (`None`); `healthcheck` probes the service on
/// `LISTEN_ADDR` (127.0.0.1:`default_port` when unset) and is the exit
/// status; anything else is a usage error.
pub fn command_line(service: &str, default_port: u16) -> Option<std::process::ExitCode> {
    use std::process::ExitCode;
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => None,
        Some("healthcheck") => {
            let addr = crate::config::parsed_or(
                "LISTEN_ADDR",
                SocketAddr::from(([127, 0, 0, 1], default_port)),
            );
            Some(match addr {
                Ok(addr) if probe(addr) => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            })
        }
        Some(arg) => {
            eprintln!("unknown argument {arg:?}; usage: {service} [serve | healthcheck]");
            Some(ExitCode::from(2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_200_is_healthy_and_anything_else_is_not() {
        for (answer, healthy) in [
            (&b"HTTP/1.1 200 OK\r\n\r\nok"[..], true),
            (&b"HTTP/1.1 503 No\r\n\r\n"[..], false),
        ] {
            let listener =
                std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
            let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
            let server = std::thread::spawn(move || {
                if let Ok((mut s, _)) = listener.accept() {
                    let mut buf = [0u8; 256];
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(answer);
                }
            });
            assert_eq!(probe(addr), healthy);
            let _ = server.join();
        }
        let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
        assert!(
            !probe(closed.unwrap_or_else(|e| panic!("{e}"))),
            "nobody listening"
        );
    }
}
