//! `worker` follows the room event logs until SIGTERM or Ctrl-C.

use std::net::TcpListener;
use std::process::ExitCode;

use common::config;
use worker::Worker;
use worker::config::WorkerConfig;

#[tokio::main]
async fn main() -> ExitCode {
    config::load_dotenv();
    if let Some(status) = common::healthcheck::command_line("worker", 8095) {
        return status;
    }
    common::telemetry::init_tracing();
    let config = match WorkerConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let addr = config.common.listen_addr;
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("worker cannot listen on {addr} (LISTEN_ADDR): {e}");
            return ExitCode::FAILURE;
        }
    };
    let worker = match Worker::start(&config, listener).await {
        Ok(worker) => worker,
        Err(e) => {
            eprintln!("worker cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, "worker following the room logs");
    wait_for_signal().await;
    worker.shutdown().await;
    tracing::info!("worker stopped");
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
