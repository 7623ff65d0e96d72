//! Open-loop, rate-limited load: the generator runs as a child process of
//! this binary (`__open-loop`).

use super::Bench;
use super::OPEN_LOOP_CONNECTIONS;
use super::client::read_response;
use super::load::ResultLine;
use super::server::{Server, TempDir};
use casebook_server::crypto::random_token;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct OpenLoop {
    pub(super) rate: f64,
    pub(super) achieved: f64,
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) max_us: f64,
    pub(super) failed: u64,
}

impl Bench {
    pub(super) fn open_loop(
        &self,
        dir: &TempDir,
        server: &Server,
        request: &str,
        rate: f64,
        duration: Duration,
    ) -> Result<OpenLoop, String> {
        let addr = server.addr;
        let file = dir.file(&format!("request-{}.http", &random_token()[..6]), request)?;
        // This very binary, even if a build has replaced the file meanwhile.
        let exe = if cfg!(target_os = "linux") {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe().map_err(|e| e.to_string())?
        };
        let output = Command::new(exe)
            .arg("__open-loop")
            .arg(addr.to_string())
            .arg(format!("{rate:.1}"))
            .arg(duration.as_secs_f64().to_string())
            .arg(OPEN_LOOP_CONNECTIONS.to_string())
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("starting the open-loop generator: {e}"))?;
        server.check_alive()?;
        let result_line = ResultLine::find(&output, "OPENLOOP ", "the open-loop generator failed")?;
        let field = |name: &str| result_line.field(name);
        let result = OpenLoop {
            rate,
            achieved: field("achieved_rps"),
            p50_us: field("p50_us"),
            p99_us: field("p99_us"),
            max_us: field("max_us"),
            failed: field("failed") as u64,
        };
        if result.failed > 0 {
            return Err(format!("open-loop load: {} requests failed", result.failed));
        }
        Ok(result)
    }
}

/// `xtask __open-loop ADDR RATE SECONDS CONNECTIONS REQUEST_FILE`: sends the
/// request in the file at RATE per second for SECONDS over CONNECTIONS
/// keep-alive connections. Request k is due at k/RATE; its latency runs from
/// then, not from when a free connection got to send it.
pub fn open_loop_child(args: &[String]) -> Result<(), String> {
    let [addr, rate, secs, conns, file] = args else {
        return Err("usage: xtask __open-loop ADDR RATE SECONDS CONNECTIONS REQUEST_FILE".into());
    };
    let addr: SocketAddr = addr.parse().map_err(|e| format!("address: {e}"))?;
    let rate: f64 = rate.parse().map_err(|e| format!("rate: {e}"))?;
    let secs: f64 = secs.parse().map_err(|e| format!("seconds: {e}"))?;
    let conns: u32 = conns.parse().map_err(|e| format!("connections: {e}"))?;
    if !(rate > 0.0 && secs > 0.0 && secs <= 600.0 && (1..=256).contains(&conns)) {
        return Err("rate and seconds must be positive (at most 600 s), connections 1 to 256".into());
    }
    if !addr.ip().is_loopback() {
        return Err("load goes to loopback addresses only".into());
    }
    let request = Arc::new(std::fs::read(file).map_err(|e| format!("{file}: {e}"))?);
    let interval = f64::from(conns) / rate;
    let end = secs;
    let start = Instant::now() + Duration::from_millis(20);
    let workers: Vec<_> = (0..conns)
        .map(|c| {
            let request = Arc::clone(&request);
            let offset = f64::from(c) / rate;
            std::thread::spawn(move || open_loop_worker(addr, &request, start, offset, interval, end))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (l, f) = w.join().map_err(|_| "a load thread panicked")?;
        latencies.extend(l);
        failed += f;
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    latencies.sort_unstable();
    let pct = |p: f64| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let i = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    println!(
        "OPENLOOP sent={} failed={failed} achieved_rps={:.1} p50_us={} p99_us={} max_us={}",
        latencies.len() as u64 + failed,
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or(0)
    );
    Ok(())
}

pub(super) fn open_loop_worker(
    addr: SocketAddr,
    request: &[u8],
    start: Instant,
    offset: f64,
    interval: f64,
    end: f64,
) -> (Vec<u64>, u64) {
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(16 * 1024);
    for k in 0u64.. {
        let due_secs = offset + interval * k as f64;
        if due_secs >= end {
            break;
        }
        let due = start + Duration::from_secs_f64(due_secs);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let result = (|| -> std::io::Result<u16> {
            let connected = match stream.take() {
                Some(s) => s,
                None => {
                    let s = TcpStream::connect(addr)?;
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(Duration::from_secs(10)))?;
                    s
                }
            };
            let s = stream.insert(connected);
            s.write_all(request)?;
            Ok(read_response(s, &mut buf)?.0)
        })();
        match result {
            Ok(status) if (200..300).contains(&status) => latencies.push(due.elapsed().as_micros() as u64),
            Ok(_) => failed += 1,
            Err(_) => {
                failed += 1;
                stream = None;
            }
        }
    }
    (latencies, failed)
}
