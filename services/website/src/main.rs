//! `website` serves the site; `website migrate` brings the database up to
//! date (migrations, then the seed); `website keygen` prints a new token key pair.

use std::net::TcpListener;
use std::process::ExitCode;

use common::auth::keys::SigningKeyMaterial;
use common::config;
use website::config::WebsiteConfig;
use website::state::AppState;

const USAGE: &str = "usage: website [serve | migrate | keygen | healthcheck]";

#[tokio::main]
async fn main() -> ExitCode {
    config::load_dotenv();
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve().await,
        Some("migrate") => migrate().await,
        Some("keygen") => keygen(),
        Some("healthcheck") => healthcheck(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command {other:?}; {USAGE}");
            ExitCode::from(2)
        }
    }
}

/// For container HEALTHCHECKs: asks this service's /healthz on LISTEN_ADDR.
fn healthcheck() -> ExitCode {
    match config::parsed_or(
        "LISTEN_ADDR",
        std::net::SocketAddr::from(([127, 0, 0, 1], 8081)),
    ) {
        Ok(addr) if common::healthcheck::probe(addr) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn keygen() -> ExitCode {
    let key = SigningKeyMaterial::generate();
    println!("TOKEN_SIGNING_KEY={}", key.to_base64());
    println!("TOKEN_VERIFYING_KEY={}", key.public().to_base64());
    ExitCode::SUCCESS
}

async fn migrate() -> ExitCode {
    common::telemetry::init_tracing();
    let url = match config::required("DATABASE_URL") {
        Ok(url) => url,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match common::db::migrate(&url).await {
        Ok(applied) => tracing::info!(applied = ?applied, "database is up to date"),
        Err(e) => {
            tracing::error!(error = %e, "migration failed");
            return ExitCode::FAILURE;
        }
    }
    // APP_DATABASE_ROLE: the login website and chat use, allowed DML only.
    let Some(role) = config::var("APP_DATABASE_ROLE") else {
        return ExitCode::SUCCESS;
    };
    let password = config::var("APP_DATABASE_PASSWORD");
    match common::db::grant_app_role(&url, &role, password.as_deref()).await {
        Ok(()) => {
            tracing::info!(role = %role, "the application role may read and change rows, nothing more");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "the application role could not be set up");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    common::telemetry::init_tracing();
    let config = match WebsiteConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let addr = config.common.listen_addr;
    let state = match AppState::build(config).await {
        Ok(state) => state,
        Err(e) => {
            eprintln!("website cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("website cannot listen on {addr} (LISTEN_ADDR): {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, "website listening");
    let result = match website::server(state, listener) {
        Ok(server) => server.await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            tracing::info!("website stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "website failed");
            ExitCode::FAILURE
        }
    }
}
