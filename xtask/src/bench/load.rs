//! Closed-loop load with `wrk`, and the result line each load generator prints.

use super::Bench;
use super::client::FORM;
use super::server::{Server, TempDir};
use super::{WRK_CONNECTIONS, WRK_THREADS};
use casebook_server::crypto::random_token;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Load {
    pub(super) requests: u64,
    pub(super) rps: f64,
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
}

/// What `done()` prints for us to parse.
pub(super) const WRK_DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d errors=%d status_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"#;

/// The request a wrk script sends.
#[derive(Debug, Clone)]
pub(super) enum Script {
    Get {
        bearer: Option<String>,
    },
    /// POST /oauth2/token with a form from a file, one per line, in turn.
    Token {
        forms: PathBuf,
    },
    /// POST /oauth2/token with forms that may each be sent once (a client
    /// assertion's `jti` is single-use): every wrk thread takes its own
    /// stride of the file and never comes back to a line.
    OnceEach {
        forms: PathBuf,
    },
    /// A script written elsewhere (`dpop.rs`), to which the stop and the
    /// result line are added.
    Lua(String),
}

impl Script {
    pub(super) fn lua(&self, stop_after: Option<u64>) -> String {
        let mut lua = String::new();
        match self {
            Self::Get { bearer } => {
                if let Some(token) = bearer {
                    let _ = writeln!(lua, "wrk.headers[\"Authorization\"] = \"Bearer {token}\"");
                }
            }
            Self::Token { forms } => {
                let _ = write!(
                    lua,
                    r#"
local forms = {{}}
for line in io.lines("{}") do forms[#forms + 1] = line end
local headers = {{ ["Content-Type"] = "{FORM}" }}
wrk.method = "POST"
wrk.headers["Content-Type"] = "{FORM}"
wrk.body = forms[1]
local i = 0
init = function(args) i = math.random(#forms) end
if #forms > 1 then
  request = function()
    i = i % #forms + 1
    return wrk.format("POST", nil, headers, forms[i])
  end
end
"#,
                    forms.display()
                );
            }
            Self::Lua(script) => lua.push_str(script),
            Self::OnceEach { forms } => {
                let _ = write!(
                    lua,
                    r#"
local forms = {{}}
for line in io.lines("{}") do forms[#forms + 1] = line end
local headers = {{ ["Content-Type"] = "{FORM}" }}
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local sent = 0
request = function()
  -- id and stride are set per thread by setup (wrk's thread:set).
  local i = sent * {WRK_THREADS} + id + 1
  sent = sent + 1
  if i > #forms then
    -- Out of fresh assertions: an empty form fails, and the run with it.
    return wrk.format("POST", nil, headers, "")
  end
  return wrk.format("POST", nil, headers, forms[i])
end
"#,
                    forms.display()
                );
            }
        }
        if let Some(limit) = stop_after {
            let _ = write!(
                lua,
                r#"
local seen = 0
response = function(status, headers, body)
  seen = seen + 1
  if seen >= {limit} then wrk.thread:stop() end
end
"#
            );
        }
        lua.push_str(WRK_DONE);
        lua
    }
}

impl Bench {
    pub(super) fn wrk_run(
        &self,
        dir: &TempDir,
        server: &Server,
        path: &str,
        script: &Script,
        duration: Duration,
        stop_after: Option<u64>,
    ) -> Result<Load, String> {
        // One wrk thread when counting, so its own counter stops it at the limit.
        let threads = if stop_after.is_some() { 1 } else { WRK_THREADS };
        let lua = dir.file(&format!("load-{}.lua", &random_token()[..6]), &script.lua(stop_after))?;
        self.wrk_script(server, &lua, path, threads, duration, path)
    }

    /// wrk with `script` against `path` for `duration`: the load, or an
    /// error when the server died or more than 1 in 1,000 requests failed
    /// (`what` names the load in that error).
    pub(super) fn wrk_script(
        &self,
        server: &Server,
        script: &std::path::Path,
        path: &str,
        threads: u32,
        duration: Duration,
        what: &str,
    ) -> Result<Load, String> {
        let load = self.wrk_at(server.addr, script, path, threads, duration, what);
        server.check_alive()?;
        load
    }

    /// [`Bench::wrk_script`] against any address (a proxy in front of the server).
    pub(super) fn wrk_at(
        &self,
        addr: std::net::SocketAddr,
        script: &std::path::Path,
        path: &str,
        threads: u32,
        duration: Duration,
        what: &str,
    ) -> Result<Load, String> {
        let output = Command::new(&self.wrk)
            .arg(format!("-t{threads}"))
            .arg(format!("-c{WRK_CONNECTIONS}"))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .args(["--timeout", "10s", "-s"])
            .arg(script)
            .arg(format!("http://{addr}{path}"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running wrk: {e}"))?;
        let result = ResultLine::find(&output, "BENCH ", "wrk gave no result")?;
        let field = |name: &str| result.field(name);
        let requests = field("requests") as u64;
        let errors = (field("errors") + field("status_errors")) as u64;
        if errors * 1000 > requests.max(1) {
            return Err(format!("{what}: {errors} of {requests} requests failed"));
        }
        Ok(Load {
            requests,
            rps: requests as f64 / (field("duration_us") / 1e6).max(1e-9),
            p50_us: field("p50_us"),
            p99_us: field("p99_us"),
        })
    }

    /// Warm up, then measure.
    pub(super) fn measure(
        &self,
        dir: &TempDir,
        server: &Server,
        path: &str,
        script: &Script,
        label: &str,
    ) -> Result<Load, String> {
        self.wrk_run(dir, server, path, script, self.plan.warmup, None)?;
        let load = self.wrk_run(dir, server, path, script, self.plan.phase, None)?;
        println!(
            "  {label:<44} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
            load.rps,
            load.p50_us / 1000.0,
            load.p99_us / 1000.0
        );
        Ok(load)
    }

    /// Measures two sides in turns (A, B, A, B, …) after warming both up,
    /// and answers each side's median round: a drift of the machine during
    /// the run (another process, a cache warming) falls on both sides alike,
    /// where measuring one side after the other would bias the ratio.
    pub(super) fn alternate(&self, dir: &TempDir, a: &Side<'_>, b: &Side<'_>) -> Result<(Load, Load), String> {
        for side in [a, b] {
            self.wrk_run(dir, side.server, side.path, side.script, self.plan.warmup, None)?;
        }
        let (mut rounds_a, mut rounds_b) = (Vec::new(), Vec::new());
        for _ in 0..ALTERNATE_ROUNDS {
            rounds_a.push(self.wrk_run(dir, a.server, a.path, a.script, self.plan.phase, None)?);
            rounds_b.push(self.wrk_run(dir, b.server, b.path, b.script, self.plan.phase, None)?);
        }
        let (load_a, load_b) = (median(rounds_a), median(rounds_b));
        for (side, load) in [(a, &load_a), (b, &load_b)] {
            println!(
                "  {:<44} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  (median of {ALTERNATE_ROUNDS} alternating rounds)",
                side.label,
                load.rps,
                load.p50_us / 1000.0,
                load.p99_us / 1000.0
            );
        }
        Ok((load_a, load_b))
    }
}

/// Rounds per side in [`Bench::alternate`]: odd, so a median is a round.
const ALTERNATE_ROUNDS: usize = 3;

/// One side of an A/B comparison: a load on a server.
pub(super) struct Side<'a> {
    pub(super) server: &'a Server,
    pub(super) path: &'a str,
    pub(super) script: &'a Script,
    pub(super) label: &'a str,
}

/// The round of median rate.
fn median(mut rounds: Vec<Load>) -> Load {
    rounds.sort_by(|x, y| x.rps.total_cmp(&y.rps));
    rounds.get(rounds.len() / 2).copied().unwrap_or_default()
}

/// The `PREFIX name=value …` line a load generator prints as its result.
pub(super) struct ResultLine(String);

impl ResultLine {
    pub(super) fn find(output: &std::process::Output, prefix: &str, failure: &str) -> Result<Self, String> {
        let stdout = String::from_utf8_lossy(&output.stdout);
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|line| Self(line.to_owned()))
            .ok_or_else(|| format!("{failure}: {stdout}{}", String::from_utf8_lossy(&output.stderr)))
    }

    /// A field's value; 0 when absent.
    pub(super) fn field(&self, name: &str) -> f64 {
        self.0
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}
