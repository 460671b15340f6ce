//! `chat` serves the WebSocket endpoint until SIGTERM or Ctrl-C.

use std::net::TcpListener;
use std::process::ExitCode;

use chat::Chat;
use chat::config::ChatConfig;
use common::config;

#[tokio::main]
async fn main() -> ExitCode {
    config::load_dotenv();
    if let Some(status) = common::healthcheck::command_line("chat", 8091) {
        return status;
    }
    common::telemetry::init_tracing();
    let config = match ChatConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let addr = config.common.listen_addr;
    let chat = match Chat::start(config).await {
        Ok(chat) => chat,
        Err(e) => {
            eprintln!("chat cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("chat cannot listen on {addr} (LISTEN_ADDR): {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match chat.serve(listener) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("chat cannot serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, instance = %chat.state.instance, "chat listening");
    wait_for_signal().await;
    tracing::info!("shutting down: closing sockets with 1001");
    chat.shutdown(server).await;
    tracing::info!("chat stopped");
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
