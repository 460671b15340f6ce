//! `parley-load`: the project's load tool. It drives Parley's chat service
//! the way real clients do (protocol.md) and reports what the benchmark
//! needs, as a human report on stdout and, with `--json FILE`, one JSON
//! object per step or result:
//!
//! - `fanout` (the default): senders at one or more offered rates; per step
//!   send-to-receipt and send-to-echo latency (p50, p99, p99.9, max),
//!   deliveries, delivered ratio, lost, duplicated and out of order,
//!   messages committed per second, and the CPU of process groups;
//! - `idle`: connections joined and left idle, in steps: connect time and
//!   the server processes' memory growth per connection;
//! - `storm`: everyone dropped at once and reconnecting with `since`: time
//!   until all caught up and history queries per client;
//! - `seed`: a user, session and room with messages, for page benchmarks;
//! - `logins`: sign-ins through the website at a fixed rate;
//! - `abuse`: one hostile user (sockets that never read, replay floods,
//!   join/leave churn, typing floods) while two ordinary users chat, all
//!   through nginx: the ordinary users' delivery p99 and the chat
//!   processes' memory growth must stay under stated bounds (the abuse
//!   test of `scripts/test`).
//!
//! Users, their sessions and the rooms are created directly in the stack's
//! database (DATABASE_URL) with tokens signed by its key (TOKEN_SIGNING_KEY):
//! the website's per-address limits would otherwise throttle the set-up.

mod abuse;
mod args;
mod fanout;
mod frame;
mod hist;
mod idle;
mod net;
mod procstat;
mod provision;
mod storm;
mod web;

use std::io::Write;
use std::process::ExitCode;

use crate::args::{Args, Mode};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    common::config::load_dotenv();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        rt.worker_threads(args.threads);
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parley-load: no runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let out = Out::new(&args);
    let result = rt.block_on(async {
        match args.mode {
            Mode::Fanout => fanout::run(&args, &out).await,
            Mode::Idle => idle::run(&args, &out).await,
            Mode::Storm => storm::run(&args, &out).await,
            Mode::Seed => web::seed(&args, &out).await,
            Mode::Logins => web::logins(&args, &out).await,
            Mode::Abuse => abuse::run(&args, &out).await,
        }
    });
    // Client tasks still draining must not hold the exit.
    rt.shutdown_background();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("parley-load: {e}");
            ExitCode::from(2)
        }
    }
}

/// Where results go: JSON lines to `--json FILE`, each with the run's label.
pub struct Out {
    json: Option<String>,
    label: String,
}

impl Out {
    fn new(args: &Args) -> Self {
        Self {
            json: args.json.clone(),
            label: args.label.clone(),
        }
    }

    /// Appends one result (an object) as a JSON line.
    pub fn emit(&self, kind: &str, mut fields: serde_json::Map<String, serde_json::Value>) {
        fields.insert("kind".into(), kind.into());
        fields.insert("label".into(), self.label.clone().into());
        fields.insert("at".into(), chrono::Utc::now().to_rfc3339().into());
        let Some(path) = &self.json else { return };
        let line = serde_json::Value::Object(fields).to_string();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("parley-load: cannot write {path}: {e}");
        }
    }
}

/// A JSON object from `key => value` pairs.
#[macro_export]
macro_rules! fields {
    ($($k:expr => $v:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_string(), serde_json::json!($v)); )*
        m
    }};
}
