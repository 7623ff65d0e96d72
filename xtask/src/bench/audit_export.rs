//! The audit trail's export in constant memory (the contract, "The audit
//! trail as evidence"): a SQLite install whose trail holds 10,000, then
//! 100,000, then 300,000 events, each exported whole as CSV and as JSON
//! Lines while the server's resident memory is sampled. Streamed a batch
//! at a time, the export's peak levels off once the database's page caches
//! and the allocator's arenas are warm (their size is bounded, not the
//! export's); read whole, it would grow with the events.
//!
//!     cargo xtask bench audit-export [--binary PATH]

use super::client::request_bytes;
use super::server::{Backend, Database, Server, block_on};
use super::setup::sign_in;
use casebook_server::crypto::MasterKey;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const COUNTS: [usize; 3] = [10_000, 100_000, 300_000];
/// Rows a prefill statement inserts.
const PREFILL_BATCH: usize = 500;

/// What one export measured.
#[derive(Debug)]
struct Export {
    events: usize,
    format: &'static str,
    bytes: usize,
    lines: usize,
    seconds: f64,
    /// The highest `VmRSS` sampled while the body streamed, in KiB.
    peak_rss_kib: u64,
}

pub(super) fn run(binary: &std::path::Path) -> Result<(), String> {
    println!("\n== audit export (SQLite) ==");
    let database = Database::create(&Backend::Sqlite, "audit-export")?;
    let server = Server::start(binary, &database, &MasterKey::generate_base64())?;
    let session = sign_in(&server)?;
    std::thread::sleep(Duration::from_secs(1));
    let (_, idle_kib) = server.memory_kib()?;
    println!("idle server: {} MiB resident", idle_kib / 1024);
    let mut held = 0;
    let mut results = Vec::new();
    for count in COUNTS {
        prefill(&database.url, held, count)?;
        held = count;
        for format in ["csv", "jsonl"] {
            let export = export(&server, &session, format)?;
            if export.lines < count {
                return Err(format!(
                    "the {format} export of {count} events had {} lines",
                    export.lines
                ));
            }
            println!(
                "{count:>7} events as {format:<5}: {:>6.1} MiB in {:.2} s ({:.0} events/s); peak resident {} MiB, {:+} MiB over idle",
                export.bytes as f64 / 1_048_576.0,
                export.seconds,
                count as f64 / export.seconds,
                export.peak_rss_kib / 1024,
                (export.peak_rss_kib as i64 - idle_kib as i64) / 1024,
            );
            results.push(Export {
                events: count,
                ..export
            });
        }
    }
    for format in ["csv", "jsonl"] {
        let growth = |events: usize| {
            results
                .iter()
                .find(|e| e.events == events && e.format == format)
                .map(|e| e.peak_rss_kib.saturating_sub(idle_kib).max(1))
        };
        for pair in COUNTS.windows(2) {
            if let (Some(small), Some(large)) = (growth(pair[0]), growth(pair[1])) {
                println!(
                    "{format}: peak over idle with {} events / with {} events: {:.2}",
                    pair[1],
                    pair[0],
                    large as f64 / small as f64
                );
            }
        }
    }
    Ok(())
}

/// Events `from..to` written straight into the database, as a trail of
/// ordinary changes would leave them (older than anything the server
/// writes: their ids sort first).
fn prefill(url: &str, from: usize, to: usize) -> Result<(), String> {
    let url = url.to_owned();
    let started = Instant::now();
    block_on(async move {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&url).await?;
        let mut tx = conn.begin().await?;
        for start in (from..to).step_by(PREFILL_BATCH) {
            let end = (start + PREFILL_BATCH).min(to);
            let mut sql = String::from(
                "INSERT INTO audit_events (id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, \
                 detail, tenant_id, source, request_id, target_name, changes) VALUES ",
            );
            for (n, i) in (start..end).enumerate() {
                if n > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "('0000bench{i:012}', {at}, 'user', 'bench-user', 'Bench Admin', 'application.changed', \
                     'application', 'app-{app}', NULL, 'root', '127.0.0.1', 'req-{i}', 'Partner App {app}', \
                     '{{\"roles\":{{\"from\":[\"Readers\"],\"to\":[\"Writers\"]}}}}')",
                    at = 1_700_000_000_000_000i64 + i as i64 * 1_000,
                    app = i % 1_000,
                ));
            }
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        conn.close().await
    })?;
    println!(
        "prefilled events {from}..{to} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One export read to its end, the server's `VmRSS` sampled as it streams.
fn export(server: &Server, session: &str, format: &'static str) -> Result<Export, String> {
    let path = format!("/admin/v1/audit-events/export?format={format}");
    let mut stream = TcpStream::connect(server.addr).map_err(|e| format!("export: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let request = request_bytes(server.addr, "GET", &path, Some(session), None).replacen(
        "\r\n\r\n",
        "\r\nConnection: close\r\n\r\n",
        1,
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("export: {e}"))?;
    let started = Instant::now();
    let mut chunk = vec![0u8; 64 * 1024];
    let (mut bytes, mut lines, mut peak) = (0usize, 0usize, 0u64);
    let mut since_sample = 0usize;
    loop {
        let n = stream.read(&mut chunk).map_err(|e| format!("export: {e}"))?;
        if n == 0 {
            break;
        }
        if bytes == 0 && !chunk.starts_with(b"HTTP/1.1 200") {
            return Err(format!("export: {}", String::from_utf8_lossy(&chunk[..n.min(200)])));
        }
        bytes += n;
        lines += chunk[..n].iter().filter(|b| **b == b'\n').count();
        since_sample += n;
        if since_sample >= 256 * 1024 {
            since_sample = 0;
            peak = peak.max(server.memory_kib()?.1);
        }
    }
    peak = peak.max(server.memory_kib()?.1);
    Ok(Export {
        events: 0,
        format,
        bytes,
        // The response head's lines and the CSV header are counted too.
        lines,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_kib: peak,
    })
}
