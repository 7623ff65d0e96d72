//! Usage at a glance under load: the token grant with usage counting on
//! beside the same grant on an install started with
//! `CASEBOOK_USAGE_COUNTING=false`, in one run; and the usage answer for an
//! application with 30 days of counts, every hour and every counter.

use super::Bench;
use super::load::{Load, Script, Side};
use super::server::{Backend, Database, Server, block_on};
use super::setup::{register, sign_in, token_form};
use casebook_server::crypto::MasterKey;

#[derive(Debug, Clone, Copy)]
pub(super) struct UsagePoint {
    pub(super) off: Load,
    pub(super) on: Load,
    pub(super) answer: Load,
}

impl UsagePoint {
    pub(super) fn on_vs_off(&self) -> f64 {
        self.on.rps / self.off.rps
    }
}

/// The floor: counting keeps nearly all of the grant's rate.
pub(super) const ON_VS_OFF_TARGET: f64 = 0.95;

const HOUR_MICROS: i64 = 3_600_000_000;
const COUNTERS: [&str; 7] = [
    "issued",
    "invalid_secret",
    "expired_secret",
    "source_not_allowed",
    "quota_exceeded",
    "assertion_refused",
    "api_refused",
];

/// 30 days of hourly counts of every counter for the application of `client_id`.
fn prefill(url: &str, client_id: &str) -> Result<String, String> {
    let (url, client_id) = (url.to_owned(), client_id.to_owned());
    block_on(async move {
        let db = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await?;
        let (tenant, id): (String, String) =
            sqlx::query_as("SELECT tenant_id, id FROM applications WHERE client_id = $1")
                .bind(&client_id)
                .fetch_one(&db)
                .await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        let this_hour = now / HOUR_MICROS * HOUR_MICROS;
        for day in 0..30 {
            let mut tx = db.begin().await?;
            for hour in 0..24 {
                let at = this_hour - (day * 24 + hour) * HOUR_MICROS;
                for (n, counter) in COUNTERS.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO usage_counts (tenant_id, application_id, hour, counter, n) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&tenant)
                    .bind(&id)
                    .bind(at)
                    .bind(*counter)
                    .bind(1 + n as i64)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        }
        Ok::<_, sqlx::Error>(id)
    })
}

impl Bench {
    /// A fresh install with `CASEBOOK_USAGE_COUNTING` as given, an
    /// application, and the token form it sends.
    fn install(&self, counting: bool) -> Result<(Database, Server, String, Script), String> {
        let master_key = MasterKey::generate_base64();
        let database = Database::create(&Backend::Sqlite, if counting { "usage-on" } else { "usage-off" })?;
        let setting = [("CASEBOOK_USAGE_COUNTING", counting.to_string())];
        let server = Server::start_with(&self.binary, &database, &master_key, &setting)?;
        let session = sign_in(&server)?;
        let (client_id, secret) = register(&server, &session, 1)?;
        let forms = database
            .dir
            .file("token-forms.txt", &format!("{}\n", token_form(&client_id, &secret)))?;
        Ok((database, server, session, Script::Token { forms }))
    }

    pub(super) fn usage(&self) -> Result<UsagePoint, String> {
        println!("\n== Usage at a glance (SQLite) ==");
        let (off_database, off_server, _, off_script) = self.install(false)?;
        let (database, server, session, on_script) = self.install(true)?;
        let (off, on) = self.alternate(
            &off_database.dir,
            &Side {
                server: &off_server,
                path: "/oauth2/token",
                script: &off_script,
                label: "POST /oauth2/token, counting off",
            },
            &Side {
                server: &server,
                path: "/oauth2/token",
                script: &on_script,
                label: "POST /oauth2/token, counting on",
            },
        )?;
        drop(off_server);
        println!("  ratio on/off {:.3} (target ≥ {ON_VS_OFF_TARGET})", on.rps / off.rps);
        let (client_id, _) = register(&server, &session, 2)?;
        let id = prefill(&database.url, &client_id)?;
        let since = std::time::SystemTime::now() - std::time::Duration::from_secs(29 * 24 * 3600);
        let since = casebook_domain::Timestamp::from_unix_secs(
            since
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        )
        .to_rfc3339();
        let answer = self.measure(
            &database.dir,
            &server,
            &format!("/admin/v1/external-applications/{id}/usage?since={since}"),
            &Script::Get { bearer: Some(session) },
            "GET …/usage, 30 days of counts",
        )?;
        Ok(UsagePoint { off, on, answer })
    }
}
