//! Project automation, run as `cargo xtask <task>`.
//!
//! - `openapi [--check]`: writes `openapi/openapi.json` from the server's
//!   routes; `--check` fails when the committed file has drifted.
//! - `typescript [--check]`: regenerates the TypeScript SDK's types from
//!   the OpenAPI document; `--check` fails when the committed file has drifted.
//! - `tidy`: import circles and files the architecture map does not name.
//! - `bench [tenants] [--quick] [--binary PATH]`: load benchmarks of a release build (see `bench/mod.rs`).

mod bench;
mod openapi;
mod tidy;
mod typescript;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("openapi") => openapi::run(args.iter().any(|a| a == "--check")),
        Some("typescript") => typescript::run(args.iter().any(|a| a == "--check")),
        Some("tidy") => tidy::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("__open-loop") => bench::open_loop_child(&args[1..]),
        _ => Err(
            "usage: cargo xtask openapi [--check] | cargo xtask typescript [--check] | cargo xtask tidy | cargo xtask bench [tenants] [--quick] [--binary PATH]"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
