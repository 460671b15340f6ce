//! The LLM stand-in as a process, for scripts/test's stack and the browser
//! tests: `parley-llm-standin [--port N] [--key KEY]` prints its base URL
//! (`http://127.0.0.1:N/v1`) on one line and serves until interrupted.

use std::io::Write;

use test_support::llm::{StandIn, StandInOptions};

const USAGE: &str = "usage: parley-llm-standin [--port N] [--key KEY]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<StandInOptions, String> {
    let mut options = StandInOptions::default();
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))?;
        match arg.as_str() {
            "--port" => {
                options.port = value
                    .parse()
                    .map_err(|_| format!("--port {value}: not a port"))?
            }
            "--key" => options.api_key = Some(value),
            _ => return Err(format!("unknown argument {arg}\n{USAGE}")),
        }
    }
    Ok(options)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let stand_in = StandIn::start_with(options).await;
    println!("{}", stand_in.base_url());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
}
