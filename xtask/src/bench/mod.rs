//! `cargo xtask bench [--quick] [--binary PATH]`: load benchmarks of a release build.
//!
//! Builds `casebook` in release mode (or takes the one `--binary` names, so
//! two builds can be compared in one session on one machine), starts it on a
//! fresh database on a free loopback port, prepares an application, a token
//! and a few cases through the real APIs, then drives load from separate
//! processes:
//!
//! - closed-loop throughput and latency with `wrk` (a fixed connection count
//!   and duration per endpoint, back to back on one server, so the ratios to
//!   `/healthz` cancel out the machine's speed and background noise);
//! - open-loop, rate-limited latency with a small generator built into this
//!   binary (`__open-loop`, spawned as a child process): requests are due on
//!   a fixed schedule and latency counts from when each was due, so a slow
//!   response delays the count instead of hiding it (what `wrk2` does; it is
//!   not packaged for Debian).
//!
//! The token and `me` steps run twice: alone, and while a second client
//! obtains and revokes one of its own tokens five times a second (a thread
//! of this binary). A revocation must cost only its token: if it emptied
//! shared caches, any client could slow every other one down by revoking.
//!
//! `wrk` is C with an event loop: it costs the server far less CPU than a
//! generator of ours would, which matters on a small machine where both share
//! the cores. The rate-limited case needs no such efficiency (half the
//! saturated rate), and needs the schedule `wrk` does not have.
//!
//! The main suite runs on the default install (RS256). Then the token and
//! `me` steps run again on one new install per signing algorithm (RS256,
//! ES256, EdDSA), each against its own `/healthz`, and the token step once
//! more with the client authenticated by `private_key_jwt` (ES256
//! assertions signed before the timed window; see `assertions.rs`), and
//! the grant and `me` with DPoP proofs, signed beforehand too (`dpop.rs`).
//!
//! Last, the tenants step (`tenants.rs`): creating 10,000 tenants through
//! the admin API, the server's start time and idle memory at 1, 1,000 and
//! 10,000 tenants, and token throughput spread over 1,000 tenants beside
//! one tenant's. `cargo xtask bench tenants [--quick] [--binary PATH]` runs
//! that step alone; it takes long enough at full size that comparing
//! builds on it should not wait for the rest.
//!
//! `cargo xtask bench algorithms [--quick]` runs the signing algorithms'
//! step alone and only prints; `cargo xtask bench forward-auth` likewise
//! runs forward auth's (`forward_auth.rs`: the check beside `me`, and nginx
//! with the check beside nginx alone), and `idempotency` (`idempotency.rs`:
//! creating cases with an `Idempotency-Key` beside creating them without),
//! `usage` (`usage.rs`: the grant with usage counting on beside off,
//! and the usage answer's latency with 30 days of counts),
//! and `webhooks` (`webhooks.rs`: `/api/v1/me` while a backlog of 10,000
//! webhook deliveries drains, beside it without one, and the drain time).
//!
//! Set `CASEBOOK_BENCH_PG` to a PostgreSQL URL to run the suite there too (a
//! fresh database is created beside the named one and dropped afterwards).
//! The full run rewrites the generated parts of `BENCHMARKS.md` (the
//! tenants step its own); `--quick` (well under a minute of load; the
//! tenants step, a few minutes with its setup) only prints.

mod algorithms;
mod assertions;
mod audit_export;
mod client;
mod dpop;
mod forward_auth;
mod idempotency;
mod load;
mod open_loop;
mod options;
mod prefill;
mod report;
mod revoker;
mod server;
mod setup;
mod suite;
mod tenants;
mod tenants_report;
mod usage;
mod webhooks;

use crate::openapi::workspace_root;
use options::{Options, Plan, build_release, find_on_path, given_binary};
use report::{Report, write_generated};
use server::Backend;
use std::path::PathBuf;

pub use open_loop::open_loop_child;

const ADMIN_EMAIL: &str = "bench-admin@example.com";
const WRK_THREADS: u32 = 2;
const WRK_CONNECTIONS: u32 = 32;
const OPEN_LOOP_CONNECTIONS: u32 = 32;
/// Revocations a second during the "while one client revokes" step.
const REVOKES_PER_SEC: u32 = 5;
const USAGE: &str = "usage: cargo xtask bench [tenants | algorithms | forward-auth | idempotency | usage | audit-export] [--quick] [--binary PATH]";

/// One run: its plan, the load generator and the binary under test. Its
/// steps are written beside what each measures (`suite.rs`, `load.rs`,
/// `open_loop.rs`, `algorithms.rs`, `assertions.rs`).
#[derive(Debug)]
struct Bench {
    plan: Plan,
    wrk: PathBuf,
    binary: PathBuf,
}

/// `cargo xtask bench`: builds or takes the binary, runs every step, reports.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some((first, rest)) = args.split_first()
        && first == "audit-export"
    {
        let Options { given, .. } = Options::parse(rest)?;
        let binary = match &given {
            Some(path) => given_binary(path)?,
            None => build_release()?,
        };
        return audit_export::run(&binary);
    }
    let (only, args) = match args.split_first() {
        Some((first, rest))
            if [
                "tenants",
                "algorithms",
                "forward-auth",
                "idempotency",
                "usage",
                "webhooks",
            ]
            .contains(&first.as_str()) =>
        {
            (Some(first.as_str()), rest)
        }
        _ => (None, args),
    };
    let Options { quick, given } = Options::parse(args)?;
    let plan = Plan::new(quick);
    let wrk = find_on_path("wrk").ok_or(
        "`wrk` is needed to drive the load and is not on PATH: install it with `apt-get install wrk` \
         (Debian/Ubuntu), `brew install wrk` (macOS), or build it from https://github.com/wg/wrk",
    )?;
    let binary = match &given {
        Some(path) => given_binary(path)?,
        None => build_release()?,
    };
    let machine = Machine::describe();
    println!("{}", machine.line());
    let bench = Bench { plan, wrk, binary };
    let postgres_url = std::env::var("CASEBOOK_BENCH_PG").ok().filter(|v| !v.is_empty());
    if postgres_url.is_none() {
        println!("(CASEBOOK_BENCH_PG is not set: PostgreSQL skipped)");
    }
    match only {
        Some("tenants") => {
            return match bench.tenants(postgres_url.as_deref())? {
                Some(tenants) => tenants.publish(&machine),
                None => Ok(()),
            };
        }
        // One step alone: printed, never written to BENCHMARKS.md.
        Some("forward-auth") => {
            bench.forward_auth()?;
            return Ok(());
        }
        Some("idempotency") => {
            bench.idempotency(postgres_url.as_deref())?;
            return Ok(());
        }
        Some("usage") => {
            let point = bench.usage()?;
            println!(
                "  usage: grant with counting on/off {:.3}; usage answer p99 {:.2} ms",
                point.on_vs_off(),
                point.answer.p99_us / 1000.0
            );
            return Ok(());
        }
        Some("webhooks") => {
            bench.webhooks()?;
            return Ok(());
        }
        Some(_) => {
            bench.algorithms()?;
            return Ok(());
        }
        None => {}
    }

    let sqlite = bench.suite(Backend::Sqlite)?;
    let postgres = match &postgres_url {
        Some(url) => Some(bench.suite(Backend::Postgres(url.clone()))?),
        None => None,
    };
    let algorithms = bench.algorithms()?;
    let scale = bench.scale()?;
    let forward_auth = bench.forward_auth()?;
    let idempotency = bench.idempotency(postgres_url.as_deref())?;
    let tenants = bench.tenants(postgres_url.as_deref())?;

    let report = Report {
        plan,
        machine,
        binary: given.is_some().then(|| bench.binary.display().to_string()),
        sqlite,
        postgres,
        algorithms,
        scale,
        forward_auth,
        idempotency,
    };
    let text = report.markdown();
    println!("\n{text}");
    if !plan.quick {
        let path = workspace_root().join("BENCHMARKS.md");
        write_generated(&path, &text)?;
        println!("wrote {}", path.display());
    }
    match tenants {
        Some(tenants) => tenants.publish(&report.machine),
        None => Ok(()),
    }
}

// ------------------------------------------------------------------ machine

#[derive(Debug, Clone)]
struct Machine {
    cpus: usize,
    model: String,
    memory_mib: u64,
}

impl Machine {
    fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            model,
            memory_mib: memory_kib / 1024,
        }
    }

    fn line(&self) -> String {
        format!(
            "machine: {} CPUs (nproc), {}, {} MiB memory",
            self.cpus, self.model, self.memory_mib
        )
    }
}
