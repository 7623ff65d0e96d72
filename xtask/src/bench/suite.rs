//! The steps of a run: the main suite on one backend, the revoking step,
//! and the scale points.

use super::Bench;
use super::client::{FORM, JSON, expect, request_bytes};
use super::load::{Load, Script};
use super::prefill::prefill;
use super::report::{Revoking, Scale, ScalePoint, Suite};
use super::revoker::{Revoker, revoke_one};
use super::server::{Backend, Database, Server, TempDir, block_on};
use super::setup::{get_token, register, register_with, sign_in, token_form};
use super::{REVOKES_PER_SEC, WRK_CONNECTIONS, WRK_THREADS};
use casebook_server::crypto::{MasterKey, random_token};
use std::time::{Duration, Instant};

impl Bench {
    pub(super) fn suite(&self, backend: Backend) -> Result<Suite, String> {
        println!("\n== {} ==", backend.label());
        let master_key = MasterKey::generate_base64();
        let database = Database::create(&backend, "main")?;
        let server = Server::start(&self.binary, &database, &master_key)?;
        let dir = &database.dir;
        let addr = server.addr;
        let session = sign_in(&server)?;
        let (client_id, secret) = register(&server, &session, 1)?;
        // Registered with the first so that setup, not the measurement, pays
        // for what a registration changes.
        let (revoker_id, revoker_secret) = register(&server, &session, 2)?;
        let token = get_token(addr, &client_id, &secret)?;
        for n in 0..5 {
            let case = serde_json::json!({"title": format!("Benchmark case {n}"), "description": "Created for the load benchmark"})
                .to_string();
            expect(
                addr,
                "POST",
                "/api/v1/engage/cases",
                Some(&token),
                Some((JSON, &case)),
                201,
            )?;
        }
        let forms = dir.file("token-forms.txt", &format!("{}\n", token_form(&client_id, &secret)))?;
        let token_script = Script::Token { forms };
        let bearer = Script::Get {
            bearer: Some(token.clone()),
        };

        println!(
            "closed loop: wrk, {WRK_THREADS} threads, {WRK_CONNECTIONS} connections, {} s each after {} s warm-up",
            self.plan.phase.as_secs(),
            self.plan.warmup.as_secs()
        );
        let healthz = self.measure(dir, &server, "/healthz", &Script::Get { bearer: None }, "GET /healthz")?;
        let token_load = self.measure(dir, &server, "/oauth2/token", &token_script, "POST /oauth2/token")?;
        let limited = self.limited(dir, &server, &session)?;
        let me = self.measure(dir, &server, "/api/v1/me", &bearer, "GET /api/v1/me")?;
        let cases = self.measure(
            dir,
            &server,
            "/api/v1/engage/cases",
            &bearer,
            "GET /api/v1/engage/cases",
        )?;
        let revoking = self.while_revoking(dir, &server, (&revoker_id, &revoker_secret), &token_script, &bearer)?;
        let ratio_token = token_load.rps / healthz.rps;
        let ratio_me = me.rps / healthz.rps;
        let prefix = match backend {
            Backend::Sqlite => "",
            Backend::Postgres(_) => "postgres ",
        };
        println!("{prefix}ratio token/healthz: {ratio_token:.3}");
        if let Some(limited) = &limited {
            println!(
                "{prefix}ratio token with allowed_sources and a quota / token: {:.3}",
                limited.rps / token_load.rps
            );
        }
        println!("{prefix}ratio me/healthz: {ratio_me:.3}");
        println!(
            "{prefix}ratio token/healthz while revoking: {:.3}",
            revoking.token.rps / healthz.rps
        );
        println!(
            "{prefix}ratio me/healthz while revoking: {:.3}",
            revoking.me.rps / healthz.rps
        );

        let half = token_load.rps / 2.0;
        let request = request_bytes(
            addr,
            "POST",
            "/oauth2/token",
            None,
            Some((FORM, &token_form(&client_id, &secret))),
        );
        let half_load = self.open_loop(dir, &server, &request, half, self.plan.phase)?;
        println!(
            "  token at half of saturation: {:.0} req/s due, {:.0} served, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            half_load.rate,
            half_load.achieved,
            half_load.p50_us / 1000.0,
            half_load.p99_us / 1000.0,
            half_load.max_us / 1000.0
        );
        let (peak_before_kib, _) = server.memory_kib()?;

        let started = Instant::now();
        let limit = self.plan.rss_tokens;
        let mut sent = 0;
        while sent < limit {
            let remaining = limit - sent;
            // Bounded: three times what the measured rate needs.
            let bound = Duration::from_secs_f64((remaining as f64 / token_load.rps.max(100.0) * 3.0 + 5.0).min(600.0));
            let load = self.wrk_run(dir, &server, "/oauth2/token", &token_script, bound, Some(remaining))?;
            sent += load.requests.max(1);
        }
        let (peak_kib, rss_kib) = server.memory_kib()?;
        println!(
            "  after {sent} token requests ({:.0} s): RSS {:.1} MiB; peak RSS of the run {:.1} MiB (before them {:.1} MiB)",
            started.elapsed().as_secs_f64(),
            rss_kib as f64 / 1024.0,
            peak_kib as f64 / 1024.0,
            peak_before_kib as f64 / 1024.0
        );
        Ok(Suite {
            backend: backend.label(),
            healthz,
            token: token_load,
            limited,
            me,
            cases,
            revoking,
            half: half_load,
            tokens_sent: sent,
            rss_after_kib: rss_kib,
            peak_kib,
        })
    }

    /// The token step again for a client with `allowed_sources` (holding
    /// the load generator's 127.0.0.1) and a quota too large to reach, so
    /// every grant is checked against both and none is refused: what the
    /// two rules cost a grant. `None` for a `--binary` without them.
    pub(super) fn limited(&self, dir: &TempDir, server: &Server, session: &str) -> Result<Option<Load>, String> {
        let extra = serde_json::json!({
            "allowed_sources": ["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"],
            "token_quota_per_hour": 1_000_000,
        });
        let (client_id, secret) = match register_with(server, session, 3, extra) {
            Ok(credentials) => credentials,
            Err(e) if e.contains("unknown_field") => {
                println!("  (this binary has no allowed_sources or token_quota_per_hour: that step is skipped)");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let forms = dir.file(
            "token-forms-limited.txt",
            &format!("{}\n", token_form(&client_id, &secret)),
        )?;
        let script = Script::Token { forms };
        let label = "POST /oauth2/token, allowed_sources + quota";
        self.measure(dir, server, "/oauth2/token", &script, label).map(Some)
    }

    /// The token and `me` steps again, as closed loops of the first client,
    /// while the second revokes its own tokens for the whole step.
    pub(super) fn while_revoking(
        &self,
        dir: &TempDir,
        server: &Server,
        (revoker_id, revoker_secret): (&str, &str),
        token_script: &Script,
        bearer: &Script,
    ) -> Result<Revoking, String> {
        let addr = server.addr;
        // Once first, in plain sight: the revocation is real for this build.
        let revoked = revoke_one(addr, revoker_id, revoker_secret)?;
        expect(addr, "GET", "/api/v1/me", Some(&revoked), None, 401)
            .map_err(|e| format!("a revoked token still works: {e}"))?;
        let step = (self.plan.warmup + self.plan.phase) * 2;
        // Bounded whatever happens to this thread: the four wrk runs plus
        // slack for starting them and for the gaps between them.
        let revoker = Revoker::start(addr, revoker_id, revoker_secret, step + Duration::from_secs(30))?;
        println!("while one client obtains and revokes a token {REVOKES_PER_SEC} times a second:");
        let token = self.measure(
            dir,
            server,
            "/oauth2/token",
            token_script,
            "POST /oauth2/token while revoking",
        )?;
        let me = self.measure(dir, server, "/api/v1/me", bearer, "GET /api/v1/me while revoking")?;
        let counts = revoker.finish()?;
        let rate = counts.done as f64 / counts.secs.max(1e-9);
        println!(
            "  revoking client: {} tokens revoked in {:.1} s ({rate:.1}/s), {} slots skipped",
            counts.done, counts.secs, counts.skipped
        );
        // Cut short or far below the schedule, the step did not measure what
        // it says.
        if counts.ended_early {
            return Err("the revoking client reached its bound before the step ended".into());
        }
        if rate < f64::from(REVOKES_PER_SEC) * 0.8 {
            return Err(format!(
                "the revoking client managed {rate:.1} revocations a second, not {REVOKES_PER_SEC}"
            ));
        }
        Ok(Revoking { token, me, counts })
    }

    /// Token throughput and the list page, with few applications and with many.
    pub(super) fn scale(&self) -> Result<Scale, String> {
        println!("\n== scale (SQLite) ==");
        let few = self.scale_one(10, 10)?;
        let many = self.scale_one(self.plan.scale_apps, self.plan.spread_clients)?;
        Ok(Scale { few, many })
    }

    pub(super) fn scale_one(&self, apps: usize, spread: usize) -> Result<ScalePoint, String> {
        let master_key = MasterKey::generate_base64();
        let master = MasterKey::from_base64(&master_key).map_err(|e| e.to_string())?;
        let database = Database::create(&Backend::Sqlite, &format!("apps{apps}"))?;
        let password = random_token();
        // The binary under test lays out the schema and seeds the roles and
        // the first admin, as on any new install; the applications go in
        // while it is stopped, and it starts again on them.
        drop(Server::launch(&self.binary, &database, &master_key, password.clone())?);
        let started = Instant::now();
        let clients = block_on(prefill(&database.url, &master, apps, spread))?;
        let fill_secs = started.elapsed().as_secs_f64();
        println!("  {apps} applications inserted in {fill_secs:.1} s");
        let server = Server::launch(&self.binary, &database, &master_key, password)?;
        let dir = &database.dir;
        let addr = server.addr;

        let forms: String = clients
            .iter()
            .map(|(id, secret)| token_form(id, secret) + "\n")
            .collect();
        let hot = dir.file(
            "forms-hot.txt",
            &forms.lines().take(10).map(|l| format!("{l}\n")).collect::<String>(),
        )?;
        let spread_file = dir.file("forms-spread.txt", &forms)?;
        let label = format!("POST /oauth2/token, {apps} apps, 10 clients");
        let token_hot = self.measure(dir, &server, "/oauth2/token", &Script::Token { forms: hot }, &label)?;
        let token_spread = if spread > 10 {
            let label = format!("POST /oauth2/token, {apps} apps, {spread} clients");
            Some(self.measure(
                dir,
                &server,
                "/oauth2/token",
                &Script::Token { forms: spread_file },
                &label,
            )?)
        } else {
            None
        };
        let session = sign_in(&server)?;
        let path = "/admin/v1/external-applications?limit=50";
        let page = expect(addr, "GET", path, Some(&session), None, 200)?;
        let items = page["items"].as_array().map_or(0, Vec::len);
        if items != apps.min(50) {
            return Err(format!("the list page has {items} items, expected {}", apps.min(50)));
        }
        let request = request_bytes(addr, "GET", path, Some(&session), None);
        let list = self.open_loop(dir, &server, &request, f64::from(self.plan.list_rate), self.plan.phase)?;
        println!(
            "  list page (limit=50) at {} req/s: p50 {:.2} ms, p99 {:.2} ms",
            self.plan.list_rate,
            list.p50_us / 1000.0,
            list.p99_us / 1000.0
        );
        Ok(ScalePoint {
            apps,
            spread,
            token_hot,
            token_spread,
            list,
        })
    }
}
