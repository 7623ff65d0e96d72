//! Project automation, run as `cargo xtask <task>`.
//!
//! - `openapi [--check]`: writes `openapi/openapi.json` from the server's
//!   routes; `--check` fails when the committed file has drifted.
//! - `bench [--quick]`: load benchmarks of a release build (see `bench.rs`).

mod openapi;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("openapi") => openapi::run(args.iter().any(|a| a == "--check")),
        _ => Err("usage: cargo xtask openapi [--check]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
