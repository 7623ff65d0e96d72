//! `casebook check`: what `serve` would read, looked at without serving.
//!
//! Every setting is parsed by the code `serve` uses, the database is opened
//! as it is (never created, migrated or changed), its migrations are
//! compared with this binary's, and the master key is tried on every stored
//! signing key. Each finding is one line; any `error` makes the exit status 1.

use crate::config::{self, Backend, LogFormat};
use crate::db::{Db, MigrationStatus, newest_known};
use casebook_domain::SigningAlgorithm;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The flags and variables of `serve`, as given: unparsed, so that each one
/// that does not parse is a finding rather than the end of the run.
#[derive(Clone, Default)]
pub struct Settings {
    pub addr: String,
    pub database_url: String,
    pub public_url: Option<String>,
    pub token_signing_alg: String,
    pub allow_private_jwks_uri: String,
    pub extra_ca_file: Option<PathBuf>,
    /// `CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS`.
    pub allow_private_webhook_urls: Option<String>,
    /// `CASEBOOK_MASTER_KEY`, `CASEBOOK_MASTER_KEY_FILE`,
    /// `CASEBOOK_PREVIOUS_MASTER_KEYS` and `CASEBOOK_PREVIOUS_MASTER_KEYS_FILE`.
    pub master_keys: config::MasterKeySettings,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub trusted_proxies: Option<String>,
    pub log_format: Option<String>,
    pub log_filter: Option<String>,
    pub secret_max_age_days: Option<String>,
    pub secret_scanning_keys: Option<PathBuf>,
    /// `CASEBOOK_GATEWAY_POLICY`.
    pub gateway_policy: Option<PathBuf>,
    /// `CASEBOOK_DPOP_NONCE`.
    pub dpop_nonce: Option<String>,
    /// `CASEBOOK_USAGE_COUNTING`.
    pub usage_counting: Option<String>,
    pub metrics_addr: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `serve --no-migrate`.
    pub no_migrate: bool,
    /// `CASEBOOK_MIGRATE`.
    pub migrate: Option<String>,
}

impl fmt::Debug for Settings {
    /// Neither the master key nor the admin password prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("addr", &self.addr)
            .field("database_url", &config::redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok(String),
    Error(String),
}

impl Finding {
    pub fn is_error(&self) -> bool {
        matches!(self, Self::Error(_))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok(text) => write!(f, "ok: {text}"),
            Self::Error(text) => write!(f, "error: {text}"),
        }
    }
}

/// How long reaching the database may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every finding, in the order an operator would fix them.
pub async fn check(settings: &Settings) -> Vec<Finding> {
    let mut findings = configuration(settings);
    let backend = Backend::of_url(&settings.database_url);
    if backend.is_none() {
        findings.push(Finding::Error(
            config::ConfigError::DatabaseUrl(config::redact_url(&settings.database_url)).to_string(),
        ));
    }
    let master_key = match config::existing_master_key(&settings.master_keys, &settings.database_url) {
        Ok(key) => Some(key),
        Err(config::ConfigError::DatabaseUrl(_)) => None,
        Err(e) => {
            findings.push(Finding::Error(e.to_string()));
            None
        }
    };
    let Some(backend) = backend else {
        return findings;
    };
    let Some(db) = open(&settings.database_url, backend, &mut findings).await else {
        return findings;
    };
    let applies = config::migration_policy(settings.no_migrate, settings.migrate.as_deref())
        .map_or(true, |policy| policy == crate::db::MigrationPolicy::Apply);
    let migrated = match db.migration_status().await {
        Ok(status) => {
            let clean = status.pending.is_empty() && status.failed.is_empty() && status.modified.is_empty();
            let oldest_reader = db.oldest_reader().await.ok().flatten();
            findings.extend(migrations(&status, oldest_reader, newest_known(backend), applies));
            clean
        }
        Err(e) => {
            findings.push(Finding::Error(format!("could not read the applied migrations: {e}")));
            false
        }
    };
    // The keys' table is as this binary knows it only once migrated.
    if let (true, Some(master_key)) = (migrated, master_key) {
        findings.extend(sealed_values(&db, &master_key).await);
    }
    db.close().await;
    findings
}

fn configuration(settings: &Settings) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut error = |text: String| findings.push(Finding::Error(text));
    let addr = settings.addr.trim().parse::<SocketAddr>();
    if addr.is_err() {
        error(format!(
            "CASEBOOK_ADDR (--addr) {:?} is not a listen address like 127.0.0.1:8080",
            settings.addr
        ));
    }
    if let Some(metrics) = &settings.metrics_addr {
        match metrics.trim().parse::<SocketAddr>() {
            Err(_) => error(format!(
                "CASEBOOK_METRICS_ADDR (--metrics-addr) {metrics:?} is not a listen address like 127.0.0.1:9090"
            )),
            Ok(metrics) => {
                if let Ok(addr) = &addr
                    && config::same_listener(metrics, *addr)
                {
                    error(config::ConfigError::MetricsAddrIsListenAddr(metrics).to_string());
                }
            }
        }
    }
    if let Err(e) = settings.token_signing_alg.parse::<SigningAlgorithm>() {
        error(format!("CASEBOOK_TOKEN_SIGNING_ALG (--token-signing-alg): {e}"));
    }
    let allow_private = match settings.allow_private_jwks_uri.trim() {
        "true" => Some(true),
        "false" => Some(false),
        other => {
            error(format!(
                "CASEBOOK_ALLOW_PRIVATE_JWKS_URI (--allow-private-jwks-uri) must be true or false, not {other:?}"
            ));
            None
        }
    };
    let fetch = config::JwksFetchConfig {
        allow_private: allow_private.unwrap_or(false),
        extra_ca_file: settings.extra_ca_file.clone(),
    };
    let metrics = crate::metrics::Metrics::new();
    if let Err(e) = crate::jwks_fetch::JwksFetcher::new(&fetch, Default::default(), &metrics) {
        error(e.to_string());
    }
    if let Err(e) = crate::client_addr::TrustedProxies::parse(settings.trusted_proxies.as_deref().unwrap_or_default()) {
        error(e.to_string());
    }
    // A bundle that does not read is the finding above; the relay's URL is
    // judged on its own here rather than reported twice.
    let smtp_roots = (settings.extra_ca_file.as_deref())
        .and_then(|path| crate::notify::read_ca_file(path).ok())
        .unwrap_or_default();
    if let Err(e) =
        crate::notify::Mailer::from_url(settings.smtp_url.as_deref(), settings.smtp_from.as_deref(), &smtp_roots)
    {
        error(e);
    }
    if let Some(days) = &settings.secret_max_age_days {
        let policy = days
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("CASEBOOK_SECRET_MAX_AGE_DAYS {days:?} is not a whole number of days"))
            .and_then(|d| casebook_domain::secret_lifecycle::SecretPolicy::from_max_age_days(Some(d)));
        if let Err(e) = policy {
            error(e);
        }
    }
    if let Some(path) = &settings.secret_scanning_keys
        && let Err(e) = crate::secret_scanning::ScanningKeys::load(path)
    {
        error(e);
    }
    if let Some(path) = &settings.gateway_policy
        && let Err(e) = crate::gateway_policy::load(path)
    {
        error(e);
    }
    if let Some(value) = settings.allow_private_webhook_urls.as_deref()
        && !matches!(value.trim(), "true" | "false")
    {
        error(format!(
            "CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS (--allow-private-webhook-urls) must be true or false, not {value:?}"
        ));
    }
    if let Some(value) = settings.dpop_nonce.as_deref()
        && !matches!(value.trim(), "true" | "false")
    {
        error(format!(
            "CASEBOOK_DPOP_NONCE (--dpop-nonce) must be true or false, not {value:?}"
        ));
    }
    if let Err(e) = config::usage_counting(settings.usage_counting.as_deref()) {
        error(e);
    }
    if let Err(e) = LogFormat::parse(settings.log_format.as_deref()) {
        error(e.to_string());
    }
    if let Err(e) = config::migration_policy(settings.no_migrate, settings.migrate.as_deref()) {
        error(e.to_string());
    }
    if let Some(filter) = &settings.log_filter
        && tracing_subscriber::EnvFilter::try_new(filter).is_err()
    {
        error(format!(
            "CASEBOOK_LOG {filter:?} is not a log filter (like info,sqlx=warn); serve would use the default instead"
        ));
    }
    if settings.admin_email.is_some() || settings.admin_password.is_some() {
        let email = settings
            .admin_email
            .as_deref()
            .unwrap_or(casebook_domain::email::DEFAULT_ADMIN_EMAIL);
        // A stand-in when the password is generated: only the address is in question.
        let password = settings
            .admin_password
            .clone()
            .unwrap_or_else(|| "a generated password stands in here".to_owned());
        let password = casebook_domain::user::Password::new(password);
        if let Err(e) = casebook_domain::user::NewUser::first_administrator(email, password) {
            error(format!(
                "CASEBOOK_ADMIN_EMAIL / CASEBOOK_ADMIN_PASSWORD would not make a first administrator: {e}"
            ));
        }
    }
    let tls = match crate::tls::TlsFiles::pair(settings.tls_cert.clone(), settings.tls_key.clone()) {
        Ok(tls) => tls,
        Err(e) => {
            error(e.to_string());
            None
        }
    };
    let tls_loads = match &tls {
        Some(files) => match crate::tls::load(files) {
            Ok(_) => Some(files.cert.display().to_string()),
            Err(e) => {
                error(e.to_string());
                None
            }
        },
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = match (&settings.public_url, &addr) {
        (Some(url), _) => Some(url.trim().trim_end_matches('/').to_owned()),
        (None, Ok(addr)) => Some(format!("{scheme}://{addr}")),
        (None, Err(_)) => None,
    };
    if let Some(url) = public_url {
        match public_url_problem(&url) {
            Some(problem) => error(format!("CASEBOOK_PUBLIC_URL (--public-url) {url:?}: {problem}")),
            None => findings.push(Finding::Ok(format!("public URL {url} (the issuer)"))),
        }
    }
    if let Some(cert) = tls_loads {
        findings.push(Finding::Ok(format!(
            "HTTPS with the certificate in {cert} and its key (SIGHUP rereads them)"
        )));
    }
    if !findings.iter().any(Finding::is_error) {
        findings.push(Finding::Ok("settings parse".into()));
    }
    findings
}

/// What is wrong with an issuer URL, if anything. Plain HTTP is for this
/// machine only: anywhere else, secrets and tokens would cross the network
/// in clear, and RFC 8414 requires an `https` issuer.
pub fn public_url_problem(url: &str) -> Option<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Some("not an absolute URL like https://casebook.example.org".into());
    };
    let Some(host) = parsed.host() else {
        return Some("names no host".into());
    };
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Some("an issuer has no query or fragment (RFC 8414 §2)".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some("an issuer carries no credentials".into());
    }
    let loopback = match host {
        url::Host::Domain(name) => {
            name.eq_ignore_ascii_case("localhost") || name.to_ascii_lowercase().ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match parsed.scheme() {
        "https" => None,
        "http" if loopback => None,
        "http" => Some(
            "plain http on a host other than this machine's loopback: clients would send secrets and tokens in clear; \
             use https (a TLS-terminating proxy in front is fine)"
                .into(),
        ),
        other => Some(format!("the scheme must be https, not {other}")),
    }
}

async fn open(url: &str, backend: Backend, findings: &mut Vec<Finding>) -> Option<Db> {
    let shown = config::redact_url(url);
    if backend == Backend::Sqlite {
        use std::str::FromStr;
        let file = config::sqlite_path(url)
            .and_then(|_| sqlx::sqlite::SqliteConnectOptions::from_str(url).ok())
            .map(|options| options.get_filename().to_owned());
        let Some(file) = file else {
            findings.push(Finding::Error(format!(
                "CASEBOOK_DATABASE_URL {shown:?} names no database file"
            )));
            return None;
        };
        if !file.is_file() {
            findings.push(Finding::Error(format!(
                "there is no database at {}: `casebook serve` creates it on first start",
                file.display()
            )));
            return None;
        }
    }
    match tokio::time::timeout(CONNECT_TIMEOUT, Db::open_as_is(url, backend)).await {
        Ok(Ok(db)) => match db.ping().await {
            Ok(()) => {
                findings.push(Finding::Ok(format!("database {shown} reachable")));
                Some(db)
            }
            Err(e) => {
                findings.push(Finding::Error(format!("database {shown} does not answer: {e}")));
                None
            }
        },
        Ok(Err(e)) => {
            findings.push(Finding::Error(format!("database {shown} unreachable: {e}")));
            None
        }
        Err(_) => {
            findings.push(Finding::Error(format!(
                "database {shown} unreachable: no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            )));
            None
        }
    }
}

fn versions(list: &[i64]) -> String {
    list.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

fn migrations(status: &MigrationStatus, oldest_reader: Option<i64>, knows: i64, applies: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    let too_new = oldest_reader.filter(|needs| *needs > knows);
    if let Some(needs) = too_new {
        findings.push(Finding::Error(format!(
            "the database's schema needs a release that knows migration {needs}; this binary (casebook {}) knows migrations up to {knows}: run that release",
            crate::build_info::LONG_VERSION
        )));
    }
    if !status.failed.is_empty() {
        findings.push(Finding::Error(format!(
            "migrations {} started but did not finish: restore the database from a backup",
            versions(&status.failed)
        )));
    }
    if !status.modified.is_empty() {
        findings.push(Finding::Error(format!(
            "migrations {} were applied from other text than this binary carries: `casebook serve` refuses to start on it",
            versions(&status.modified)
        )));
    }
    if !status.pending.is_empty() {
        let what = if status.applied.is_empty() && status.unknown.is_empty() {
            "the database has no schema yet"
        } else {
            "the database is behind this binary"
        };
        let then = if applies {
            "`casebook serve` applies them at start (or run `casebook migrate`)"
        } else {
            "migrating on start is off: run `casebook migrate` before `casebook serve`"
        };
        findings.push(Finding::Error(format!(
            "{what}: {} migrations pending ({}); {then}",
            status.pending.len(),
            versions(&status.pending)
        )));
    }
    if findings.is_empty() && status.unknown.is_empty() {
        findings.push(Finding::Ok(format!(
            "migrations: all {} applied, none unknown",
            status.applied.len()
        )));
    } else if findings.is_empty() {
        findings.push(Finding::Ok(format!(
            "migrations: all {} applied, and {} of a newer release ({}) whose schema this binary still serves",
            status.applied.len(),
            status.unknown.len(),
            versions(&status.unknown)
        )));
    }
    findings
}

/// Whether the configured master keys open every sealed value: one error
/// naming what they do not open, or the signing keys' line and a line on
/// what a rotation has left to do.
async fn sealed_values(db: &Db, master_key: &crate::crypto::MasterKey) -> Vec<Finding> {
    let signing = signing_keys(db, master_key).await;
    let survey = match crate::master_keys::survey(db, master_key).await {
        Ok(survey) => survey,
        Err(e) => {
            return vec![
                signing,
                Finding::Error(format!("could not read the sealed values: {e}")),
            ];
        }
    };
    let mut unopened = Vec::new();
    if let Finding::Error(text) = &signing {
        // Its own wording names the keys; the rest joins it on one line.
        unopened.push(text.clone());
    }
    if !survey.client_secrets.unopened.is_empty() {
        unopened.push(format!(
            "{} of {} client secrets ({})",
            survey.client_secrets.unopened.len(),
            survey.client_secrets.total,
            survey
                .client_secrets
                .unopened
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !survey.mac_key.unopened.is_empty() {
        unopened.push("the client-secret MAC key".into());
    }
    for (tally, what) in [
        (&survey.totp_secrets, "TOTP secrets"),
        (&survey.outbox_links, "unsent password links"),
        (&survey.webhook_secrets, "webhook secrets"),
    ] {
        if !tally.unopened.is_empty() {
            unopened.push(format!("{} of {} {what}", tally.unopened.len(), tally.total));
        }
    }
    if !unopened.is_empty() {
        let which = if master_key.previous_count() == 0 {
            "the master key"
        } else {
            "no configured master key (current or previous)"
        };
        let first = unopened.remove(0);
        let text = if matches!(signing, Finding::Error(_)) {
            if unopened.is_empty() {
                first
            } else {
                format!("{first}; {which} does not open {} either", unopened.join(" or "))
            }
        } else {
            let all = std::iter::once(first).chain(unopened).collect::<Vec<_>>().join(" or ");
            format!(
                "{which} does not open {all}: set CASEBOOK_MASTER_KEY (or CASEBOOK_MASTER_KEY_FILE) to the key that \
                 sealed them, or name it in CASEBOOK_PREVIOUS_MASTER_KEYS"
            )
        };
        return vec![Finding::Error(text)];
    }
    let mut line = format!(
        "sealed values: all {} open; {} under the current master key (id {})",
        survey.total(),
        survey.total() - survey.pending(),
        master_key.key_id()
    );
    let previous = survey.previous();
    let legacy = survey.pending() - previous;
    if previous > 0 {
        line.push_str(&format!(", {previous} still sealed under a previous key"));
    }
    if legacy > 0 {
        line.push_str(&format!(", {legacy} in the format before 0.2.0, which names no key"));
    }
    if previous + legacy > 0 {
        line.push_str("; `casebook master-key rotate` seals them under the current key");
    } else if master_key.previous_count() > 0 {
        line.push_str(&format!(
            "; the {} previous key(s) open nothing any more: drop CASEBOOK_PREVIOUS_MASTER_KEYS",
            master_key.previous_count()
        ));
    }
    vec![signing, Finding::Ok(line)]
}

async fn signing_keys(db: &Db, master_key: &crate::crypto::MasterKey) -> Finding {
    match crate::keys::unopened_keys(db, master_key).await {
        Ok((0, _)) => Finding::Ok("no signing key yet: `casebook serve` makes the first with this master key".into()),
        Ok((1, unopened)) if unopened.is_empty() => Finding::Ok("the master key opens the stored signing key".into()),
        Ok((stored, unopened)) if unopened.is_empty() => {
            Finding::Ok(format!("the master key opens all {stored} stored signing keys"))
        }
        Ok((stored, unopened)) => Finding::Error(format!(
            "the master key does not open {} of {stored} stored signing keys ({}): it is not the key this database \
             was sealed with; set CASEBOOK_MASTER_KEY (or the key file) to that one",
            unopened.len(),
            unopened.join(", ")
        )),
        Err(e) => Finding::Error(format!("could not read the signing keys: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, ok: bool) {
        assert_eq!(
            public_url_problem(url).is_none(),
            ok,
            "{url}: {:?}",
            public_url_problem(url)
        );
    }

    #[test]
    fn a_public_url_is_https_unless_it_stays_on_this_machine() {
        check("https://casebook.example.org", true);
        check("https://casebook.example.org/base", true);
        check("http://127.0.0.1:8080", true);
        check("http://[::1]:8080", true);
        check("http://localhost:8080", true);
        check("http://casebook.localhost", true);
        check("http://casebook.example.org", false);
        check("http://10.0.0.5:8080", false);
        check("http://0.0.0.0:8080", false);
        check("ftp://casebook.example.org", false);
        check("https://casebook.example.org/?x=1", false);
        check("https://user:pw@casebook.example.org", false);
        check("casebook.example.org", false);
    }

    fn settings() -> Settings {
        Settings {
            addr: "127.0.0.1:8080".into(),
            database_url: "sqlite://casebook.db".into(),
            token_signing_alg: "RS256".into(),
            allow_private_jwks_uri: "false".into(),
            ..Settings::default()
        }
    }

    fn errors(settings: &Settings) -> Vec<String> {
        configuration(settings)
            .into_iter()
            .filter_map(|f| match f {
                Finding::Error(text) => Some(text),
                Finding::Ok(_) => None,
            })
            .collect()
    }

    #[test]
    fn clean_settings_are_one_ok_line_each() {
        assert_eq!(errors(&settings()), Vec::<String>::new());
        let lines: Vec<String> = configuration(&settings()).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "ok: public URL http://127.0.0.1:8080 (the issuer)",
                "ok: settings parse"
            ]
        );
    }

    #[test]
    fn every_setting_that_does_not_parse_is_named() {
        let broken = Settings {
            addr: "everywhere".into(),
            token_signing_alg: "HS256".into(),
            allow_private_jwks_uri: "yes".into(),
            extra_ca_file: Some("/nonexistent/ca.pem".into()),
            trusted_proxies: Some("proxy.internal".into()),
            smtp_url: Some("http://mail".into()),
            log_format: Some("xml".into()),
            log_filter: Some("info,=[".into()),
            admin_email: Some("not-an-address".into()),
            secret_max_age_days: Some("0".into()),
            secret_scanning_keys: Some("/nonexistent/keys.json".into()),
            gateway_policy: Some("/nonexistent/policy.toml".into()),
            dpop_nonce: Some("yes".into()),
            usage_counting: Some("sometimes".into()),
            allow_private_webhook_urls: Some("maybe".into()),
            metrics_addr: Some("metrics.internal".into()),
            ..settings()
        };
        let found = errors(&broken);
        for name in [
            "CASEBOOK_ADDR",
            "CASEBOOK_TOKEN_SIGNING_ALG",
            "CASEBOOK_ALLOW_PRIVATE_JWKS_URI",
            "CASEBOOK_EXTRA_CA_FILE",
            "CASEBOOK_TRUSTED_PROXIES",
            "CASEBOOK_SMTP_URL",
            "CASEBOOK_LOG_FORMAT",
            "CASEBOOK_LOG ",
            "CASEBOOK_ADMIN_EMAIL",
            "CASEBOOK_SECRET_MAX_AGE_DAYS",
            "CASEBOOK_SECRET_SCANNING_KEYS",
            "CASEBOOK_GATEWAY_POLICY",
            "CASEBOOK_DPOP_NONCE",
            "CASEBOOK_USAGE_COUNTING",
            "CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS",
            "CASEBOOK_METRICS_ADDR",
        ] {
            assert_eq!(
                found.iter().filter(|line| line.starts_with(name)).count(),
                1,
                "{name} in {found:#?}"
            );
        }
        // No listen address, so no default public URL to judge either.
        assert_eq!(found.len(), 16, "{found:#?}");
    }

    #[test]
    fn metrics_on_the_main_listen_address_is_one_error() {
        let clash = Settings {
            metrics_addr: Some("0.0.0.0:8080".into()),
            ..settings()
        };
        let found = errors(&clash);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("CASEBOOK_METRICS_ADDR"), "{found:?}");
        let apart = Settings {
            metrics_addr: Some("127.0.0.1:9090".into()),
            ..settings()
        };
        assert_eq!(errors(&apart), Vec::<String>::new());
    }

    #[test]
    fn a_tls_pair_is_loaded_and_a_bad_one_is_one_error() {
        let dir = std::env::temp_dir().join(format!("casebook-check-tls-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let write_pair = |name: &str| {
            let key = rcgen::KeyPair::generate().expect("key");
            let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
                .expect("params")
                .self_signed(&key)
                .expect("certificate");
            let files = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
            std::fs::write(&files.0, cert.pem()).expect("write");
            std::fs::write(&files.1, key.serialize_pem()).expect("write");
            files
        };
        let (cert, key) = write_pair("one");
        let (_, other_key) = write_pair("two");
        let with = |cert: Option<&PathBuf>, key: Option<&PathBuf>| Settings {
            tls_cert: cert.cloned(),
            tls_key: key.cloned(),
            ..settings()
        };
        let good: Vec<String> = configuration(&with(Some(&cert), Some(&key)))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(!good.iter().any(|line| line.starts_with("error")), "{good:?}");
        assert!(
            good.contains(&"ok: public URL https://127.0.0.1:8080 (the issuer)".to_owned()),
            "TLS makes the default issuer https: {good:?}"
        );
        for (settings, needle) in [
            (with(Some(&cert), None), "CASEBOOK_TLS_CERT"),
            (with(None, Some(&key)), "CASEBOOK_TLS_KEY"),
            (with(Some(&cert), Some(&other_key)), "CASEBOOK_TLS_KEY"),
        ] {
            let found = errors(&settings);
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(found[0].starts_with(needle), "{found:?}");
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_weak_first_administrator_password_is_reported_without_itself() {
        let weak = Settings {
            admin_password: Some("hunter2".into()),
            ..settings()
        };
        let found = errors(&weak);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].contains("hunter2"), "{found:?}");
    }
}
