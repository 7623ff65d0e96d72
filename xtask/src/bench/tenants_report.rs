//! The tenants step's figures as Markdown, and their place in
//! `BENCHMARKS.md` (the part between its markers, the rest kept).

use super::report::{met, ms};
use super::tenants::*;
use super::{Machine, WRK_CONNECTIONS, WRK_THREADS};
use std::fmt::Write as _;
use std::path::Path;

impl Tenants {
    pub(super) fn markdown(&self, machine: &Machine) -> String {
        let mut md = String::new();
        let command = if self.quick {
            "`cargo xtask bench tenants --quick`"
        } else {
            "`cargo xtask bench tenants`"
        };
        let _ = writeln!(
            md,
            "- {}; load average (1 min) {} when the step began, {} when it ended",
            machine.line(),
            self.load.0,
            self.load.1
        );
        let _ = writeln!(
            md,
            "- {command} (or the whole `cargo xtask bench`): server, load generators and the admin client share the machine over loopback; the install's default signing algorithm (RS256) unless a row says EdDSA."
        );
        let _ = writeln!(
            md,
            "- Creating: `POST /admin/v1/tenants` with `admin_password` given, {CREATE_CONCURRENCY} requests in flight (one for the first tenant); the time of each request, and the wall clock divided by the tenants made. Each create hashes that password once: one Argon2id hash (m=19 MiB, t=2) takes {} on this machine. A tenant's first signing key is made on its first use, not by the create: each spread tenant's first token, which waits for it, is timed apart ({CREATE_CONCURRENCY} at a time).",
            ms(self.hash_us)
        );
        let _ = writeln!(
            md,
            "- Starting: SIGTERM, then {STARTS} starts on the same database, the medians reported; ready is the first 200 of `/readyz` after the spawn, idle RSS is `VmRSS` {} s later.",
            SETTLE.as_secs()
        );
        let _ = writeln!(
            md,
            "- Tokens: `wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}`, each tenant's `/t/{{slug}}/oauth2/token` with its one application's secret, in this order on one server: the root's `/oauth2/token` (reference), one tenant, spread round-robin over the tenants, spread again, one tenant again; spread / one is the ratio of the sums. RS256 on the server holding every tenant; EdDSA on a second install holding only the tenants spread over, where the signature no longer hides the rest of a grant.\n"
        );
        let _ = writeln!(
            md,
            "| backend | tenants created | per request: mean / p50 / p99 | by the clock, a tenant |\n|---|---|---:|---:|"
        );
        for p in &self.points {
            for c in &p.creations {
                let _ = writeln!(
                    md,
                    "| {} | {} to {} | {} / {} / {} | {} |",
                    p.backend,
                    c.from + 1,
                    c.to,
                    ms(c.mean_us),
                    ms(c.p50_us),
                    ms(c.p99_us),
                    ms(c.per_tenant_wall_us()),
                );
            }
        }
        let _ = writeln!(
            md,
            "\n| backend | tenants | ready after (median of {STARTS}) | idle RSS |\n|---|---:|---:|---:|"
        );
        for p in &self.points {
            for s in &p.starts {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.1} MiB |",
                    p.backend,
                    s.tenants,
                    ms(s.ready.as_secs_f64() * 1e6),
                    s.idle_rss_kib as f64 / 1024.0
                );
            }
        }
        let _ = writeln!(
            md,
            "\n| backend | install | a tenant's first token (makes its key): mean / p99 | token req/s, root | one tenant | spread | spread / one | one tenant / root | RSS after |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for p in &self.points {
            for t in &p.tokens {
                let _ = writeln!(
                    md,
                    "| {} | {}, {} tenants | {} / {} | {:.0} | {:.0}, {:.0} | {:.0}, {:.0} ({} tenants) | {:.3} | {:.3} | {:.1} MiB |",
                    p.backend,
                    t.alg,
                    t.tenants,
                    ms(t.first_token.0),
                    ms(t.first_token.1),
                    t.root.rps,
                    t.one[0].rps,
                    t.one[1].rps,
                    t.many[0].rps,
                    t.many[1].rps,
                    t.spread,
                    t.ratio(),
                    t.one_vs_root(),
                    t.rss_after_load_kib as f64 / 1024.0
                );
            }
        }
        let _ = writeln!(md, "\n| target | figure | |\n|---|---|---|");
        for p in &self.points {
            for t in &p.tokens {
                let r = t.ratio();
                let _ = writeln!(
                    md,
                    "| token spread over {} tenants ≥ {SPREAD_TARGET} of one tenant's ({}, {}) | {r:.3} | {} |",
                    t.spread,
                    p.backend,
                    t.alg,
                    met(r >= SPREAD_TARGET)
                );
            }
            if let Some(kib) = p.kib_per_tenant() {
                let _ = writeln!(
                    md,
                    "| idle RSS grows well under 100 KiB a tenant ({}) | {kib:.2} KiB | {} |",
                    p.backend,
                    met(kib < 100.0)
                );
            }
            if let Some(r) = p.start_ratio() {
                let last = p.starts.last().map_or(0, |s| s.tenants);
                let _ = writeln!(
                    md,
                    "| start not slowed by the tenant count ({}) | {last} tenants / 1: {r:.2} | |",
                    p.backend
                );
            }
            let worst = p.creations.iter().map(|c| c.p99_us).fold(0.0, f64::max);
            let _ = writeln!(
                md,
                "| creating a tenant well under a second ({}) | p99 {} | {} |",
                p.backend,
                ms(worst),
                met(worst < 1e6)
            );
        }
        md
    }
}

impl Tenants {
    /// Prints the figures; a full run also writes them to `BENCHMARKS.md`.
    pub(super) fn publish(&self, machine: &Machine) -> Result<(), String> {
        let text = self.markdown(machine);
        println!("\n{text}");
        if !self.quick {
            let path = crate::openapi::workspace_root().join("BENCHMARKS.md");
            write_generated(&path, &text)?;
            println!("wrote the tenants' figures to {}", path.display());
        }
        Ok(())
    }
}

/// Replaces the tenants' generated part of the file, keeping the rest
/// (the main suite's part included).
pub(super) fn write_generated(path: &Path, generated: &str) -> Result<(), String> {
    let current = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let block = format!("{MARK_BEGIN}\n\n{generated}\n{MARK_END}");
    let text = match (current.find(MARK_BEGIN), current.find(MARK_END)) {
        (Some(b), Some(e)) if e > b => format!("{}{block}{}", &current[..b], &current[e + MARK_END.len()..]),
        _ => format!("{}\n\n## Tenants\n\n{block}\n", current.trim_end()),
    };
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}
