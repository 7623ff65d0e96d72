//! `casebook`: the service binary.

use casebook_domain::SigningAlgorithm;
use casebook_server::config::{self, Backend, Config, LogFormat};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

mod key_commands;
mod tenant_commands;
mod upgrade_commands;

#[derive(Debug, Parser)]
#[command(
    name = "casebook",
    version = casebook_server::build_info::LONG_VERSION,
    about = "Casebook external applications: OAuth 2.0 client credentials for partner software"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// sqlite://PATH or postgres://…
    #[arg(long, env = "CASEBOOK_DATABASE_URL", default_value = "sqlite://casebook.db")]
    database_url: String,
}

#[derive(Debug, clap::Args)]
struct JwksFetchArgs {
    /// Let a jwks_uri reach loopback, private and other non-public
    /// addresses (an internal key host); off, such a URL is refused.
    #[arg(long, env = "CASEBOOK_ALLOW_PRIVATE_JWKS_URI", default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    allow_private_jwks_uri: bool,
    /// A PEM bundle of CA certificates trusted beside the platform's roots
    /// when fetching a jwks_uri and by the SMTP relay's TLS.
    #[arg(long, env = "CASEBOOK_EXTRA_CA_FILE", value_name = "PEM_FILE")]
    extra_ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        /// Listen address.
        #[arg(long, env = "CASEBOOK_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[command(flatten)]
        database: DatabaseArgs,
        /// The issuer, and the Callback URL shown for every application
        /// [default: http://<addr>, or https://<addr> with --tls-cert].
        #[arg(long, env = "CASEBOOK_PUBLIC_URL")]
        public_url: Option<String>,
        /// RS256, ES256 or EdDSA: the algorithm of the first signing key, and
        /// of a key the server makes because none is left.
        #[arg(long, env = "CASEBOOK_TOKEN_SIGNING_ALG", default_value_t = SigningAlgorithm::Rs256, value_name = "ALG")]
        token_signing_alg: SigningAlgorithm,
        /// Demand the server's own nonce in every DPoP proof (RFC 9449 §8, §9).
        #[arg(long, env = "CASEBOOK_DPOP_NONCE", default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
        dpop_nonce: bool,
        /// A TOML file of forward auth's routes; unset, /authz/check is 404.
        #[arg(long, env = "CASEBOOK_GATEWAY_POLICY", value_name = "TOML_FILE")]
        gateway_policy: Option<std::path::PathBuf>,
        #[command(flatten)]
        jwks_fetch: JwksFetchArgs,
        /// Let a webhook's URL reach loopback, private and other non-public
        /// addresses (a receiver inside the network); off, such a URL is refused.
        #[arg(long, env = "CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS", default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
        allow_private_webhook_urls: bool,
        /// The longest any client secret works after it was issued, in days
        /// (1 to 3650); also the expiry of a secret added without one.
        #[arg(long, env = "CASEBOOK_SECRET_MAX_AGE_DAYS", value_name = "DAYS")]
        secret_max_age_days: Option<u32>,
        /// GitHub's secret-scanning public keys document (a JSON file), to
        /// take leak reports at /secret-scanning/github.
        #[arg(long, env = "CASEBOOK_SECRET_SCANNING_KEYS", value_name = "JSON_FILE")]
        secret_scanning_keys: Option<std::path::PathBuf>,
        /// Serve /metrics on this address only, instead of the main listener.
        #[arg(long, env = "CASEBOOK_METRICS_ADDR", value_name = "ADDR")]
        metrics_addr: Option<SocketAddr>,
        /// A PEM certificate chain, leaf first: serve HTTPS with it and
        /// --tls-key, reread both on SIGHUP.
        #[arg(long, env = "CASEBOOK_TLS_CERT", value_name = "PEM_FILE")]
        tls_cert: Option<std::path::PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "CASEBOOK_TLS_KEY", value_name = "PEM_FILE")]
        tls_key: Option<std::path::PathBuf>,
        /// Refuse to start while migrations are pending instead of applying
        /// them (run `casebook migrate` as a step of its own); so does
        /// CASEBOOK_MIGRATE=false.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending migrations and exit (SQLite: after a copy beside the
    /// database, <database>.pre-<version>). Where neither the SQLite
    /// database nor its key file exists, both are created, as `serve` would.
    Migrate {
        /// List the pending migrations and change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage the master key that seals secrets and signing keys.
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// Copy a SQLite database while the server runs: a consistent copy,
    /// created 0600. The master key is not in it: keep the key file (or
    /// CASEBOOK_MASTER_KEY) with the copy. PostgreSQL: use pg_dump.
    Backup {
        /// The new file; an existing one is never overwritten.
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Check what `serve` would start with: settings, database, migrations,
    /// master key. One line per finding; exit status 1 on any error.
    /// Creates and changes nothing.
    Check(CheckArgs),
    /// Manage the tenants: the agencies this install serves, each at
    /// <public URL>/t/<slug>.
    Tenants {
        #[command(subcommand)]
        command: tenant_commands::TenantsCommand,
    },
}

/// `serve`'s flags and variables, read as text so that each one that does
/// not parse is reported with the rest instead of stopping the run.
#[derive(Debug, clap::Args)]
struct CheckArgs {
    #[arg(long, env = "CASEBOOK_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    #[command(flatten)]
    database: DatabaseArgs,
    #[arg(long, env = "CASEBOOK_PUBLIC_URL")]
    public_url: Option<String>,
    #[arg(
        long,
        env = "CASEBOOK_TOKEN_SIGNING_ALG",
        default_value = "RS256",
        value_name = "ALG"
    )]
    token_signing_alg: String,
    #[arg(
        long,
        env = "CASEBOOK_ALLOW_PRIVATE_JWKS_URI",
        default_value = "false",
        value_name = "BOOL"
    )]
    allow_private_jwks_uri: String,
    #[arg(long, env = "CASEBOOK_EXTRA_CA_FILE", value_name = "PEM_FILE")]
    extra_ca_file: Option<std::path::PathBuf>,
    #[arg(long, env = "CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS", value_name = "BOOL")]
    allow_private_webhook_urls: Option<String>,
    #[arg(long, env = "CASEBOOK_SECRET_MAX_AGE_DAYS", value_name = "DAYS")]
    secret_max_age_days: Option<String>,
    #[arg(long, env = "CASEBOOK_SECRET_SCANNING_KEYS", value_name = "JSON_FILE")]
    secret_scanning_keys: Option<std::path::PathBuf>,
    #[arg(long, env = "CASEBOOK_GATEWAY_POLICY", value_name = "TOML_FILE")]
    gateway_policy: Option<std::path::PathBuf>,
    #[arg(long, env = "CASEBOOK_DPOP_NONCE", value_name = "BOOL")]
    dpop_nonce: Option<String>,
    #[arg(long, env = "CASEBOOK_METRICS_ADDR", value_name = "ADDR")]
    metrics_addr: Option<String>,
    #[arg(long, env = "CASEBOOK_TLS_CERT", value_name = "PEM_FILE")]
    tls_cert: Option<std::path::PathBuf>,
    #[arg(long, env = "CASEBOOK_TLS_KEY", value_name = "PEM_FILE")]
    tls_key: Option<std::path::PathBuf>,
    #[arg(long)]
    no_migrate: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new signing key current. The old key keeps verifying, and stays
    /// in the JWKS, until every token it signed has expired.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The tenant whose key to rotate.
        #[arg(long, value_name = "SLUG", default_value = casebook_domain::tenant::ROOT, conflicts_with = "all_tenants")]
        tenant: String,
        /// Rotate every tenant's key, one after another.
        #[arg(long)]
        all_tenants: bool,
        /// Publish the new key now but sign with it only after this many
        /// seconds, so that verifiers caching the JWKS (max-age 300) hold it
        /// before its first token. 0 switches at once (a compromised key).
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        notice: u64,
        /// RS256, ES256 or EdDSA [default: CASEBOOK_TOKEN_SIGNING_ALG, else RS256].
        /// A new algorithm is a rotation like any other: tokens signed with
        /// the old key keep verifying until they expire.
        #[arg(long, value_name = "ALG")]
        alg: Option<SigningAlgorithm>,
        #[arg(long, env = "CASEBOOK_TOKEN_SIGNING_ALG", hide = true)]
        token_signing_alg: Option<SigningAlgorithm>,
    },
}

#[derive(Debug, Subcommand)]
enum MasterKeyCommand {
    /// Seal every stored client secret, signing key and the client-secret
    /// MAC key under the current master key (CASEBOOK_MASTER_KEY or
    /// CASEBOOK_MASTER_KEY_FILE), opening them with it or with
    /// CASEBOOK_PREVIOUS_MASTER_KEYS(_FILE). Runs while servers serve (start
    /// them with the new key current and the old one previous first), in
    /// batches, and can be run again: what is under the current key already
    /// is left alone. Afterwards the previous keys can be dropped.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Rows re-sealed per transaction.
        #[arg(long, default_value_t = casebook_server::master_keys::DEFAULT_BATCH, value_name = "ROWS")]
        batch_size: usize,
    },
}

fn master_key_settings() -> config::MasterKeySettings {
    config::MasterKeySettings::from_env(env)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("casebook: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = match cli.command {
        Command::Check(args) => {
            // The report is the output; logs would only interleave with it.
            init_logs(LogFormat::Text, "warn,sqlx=off", None);
            let clean = runtime.block_on(check(args));
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            return if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
        command => command,
    };
    let format = match LogFormat::parse(env("CASEBOOK_LOG_FORMAT").as_deref()) {
        Ok(format) => format,
        Err(e) => {
            eprintln!("casebook: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Built here, outside the runtime: the exporter's client has a thread
    // and a runtime of its own.
    let traces = if casebook_server::telemetry::requested(env) {
        match casebook_server::telemetry::Traces::from_env() {
            Ok(traces) => Some(traces),
            Err(message) => {
                eprintln!("casebook: {message}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    init_logs(format, "info,sqlx=warn", traces.as_ref());
    let result = runtime.block_on(run(command, format));
    if let Some(traces) = traces {
        traces.shutdown();
    }
    // Dropping a runtime waits for every blocking task without limit; the contract ("Connections")
    // bounds how long a stopping server may take.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let message = failure.message();
            match format {
                LogFormat::Text => eprintln!("casebook: {message}"),
                LogFormat::Json => tracing::error!(error = %message, "casebook stopped"),
            }
            failure.exit_code()
        }
    }
}

/// Why a command stopped short. The exit status tells a script which: 2
/// when the command line names what is not so (as clap's own refusals), 1
/// for anything else.
#[derive(Debug)]
enum Failure {
    Usage(String),
    Run(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Self::Usage(message) | Self::Run(message) => message,
        }
    }

    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::from(2),
            Self::Run(_) => ExitCode::FAILURE,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::Run(message)
    }
}

/// Log lines go to stderr, filtered by `CASEBOOK_LOG`, as text or as one
/// JSON object a line with the event's fields at the top level; spans go
/// to OpenTelemetry as well when `traces` is given.
fn init_logs(format: LogFormat, default_filter: &str, traces: Option<&casebook_server::telemetry::Traces>) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASEBOOK_LOG").unwrap_or_else(|_| default_filter.into());
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.boxed(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces.map(|traces| traces.layer()))
        .init();
}

async fn check(args: CheckArgs) -> bool {
    let settings = casebook_server::check::Settings {
        addr: args.addr,
        database_url: args.database.database_url,
        public_url: args.public_url,
        token_signing_alg: args.token_signing_alg,
        allow_private_jwks_uri: args.allow_private_jwks_uri,
        extra_ca_file: args.extra_ca_file,
        allow_private_webhook_urls: args.allow_private_webhook_urls,
        master_keys: master_key_settings(),
        admin_email: env("CASEBOOK_ADMIN_EMAIL"),
        admin_password: env("CASEBOOK_ADMIN_PASSWORD"),
        smtp_url: env("CASEBOOK_SMTP_URL"),
        smtp_from: env("CASEBOOK_SMTP_FROM"),
        trusted_proxies: env("CASEBOOK_TRUSTED_PROXIES"),
        log_format: env("CASEBOOK_LOG_FORMAT"),
        log_filter: env("CASEBOOK_LOG"),
        secret_max_age_days: args.secret_max_age_days,
        secret_scanning_keys: args.secret_scanning_keys,
        gateway_policy: args.gateway_policy,
        dpop_nonce: args.dpop_nonce,
        usage_counting: env("CASEBOOK_USAGE_COUNTING"),
        metrics_addr: args.metrics_addr,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        no_migrate: args.no_migrate,
        migrate: env("CASEBOOK_MIGRATE"),
    };
    let findings = casebook_server::check::check(&settings).await;
    for finding in &findings {
        println!("{finding}");
    }
    !findings.iter().any(|f| f.is_error())
}

async fn backup(to: &std::path::Path, database_url: &str, format: LogFormat) -> Result<(), String> {
    let shown = config::redact_url(database_url);
    let from = to.display().to_string();
    if Backend::of_url(database_url) == Some(Backend::Sqlite) {
        match format {
            LogFormat::Text => eprintln!("casebook backup: copying {shown} to {from}"),
            LogFormat::Json => tracing::info!(database = %shown, to = %from, "backup started"),
        }
    }
    let copied = casebook_server::db::backup::backup(database_url, to)
        .await
        .map_err(|e| format!("backup: {e}"))?;
    let file = config::master_key_file(database_url);
    let settings = master_key_settings();
    let key = if settings.names_current_key() {
        settings.describe_current(database_url)
    } else if file.is_file() {
        file.display().to_string()
    } else {
        "the master key the server runs with".to_owned()
    };
    let took = if copied.elapsed < std::time::Duration::from_secs(1) {
        format!("{} ms", copied.elapsed.as_millis())
    } else {
        format!("{:.1} s", copied.elapsed.as_secs_f64())
    };
    match format {
        LogFormat::Text => eprintln!(
            "casebook backup: done: {from}, {} in {took}; the master key is not in it: keep {key} with it",
            human_size(copied.bytes)
        ),
        LogFormat::Json => tracing::info!(
            to = %from,
            bytes = copied.bytes,
            elapsed_ms = copied.elapsed.as_millis() as u64,
            master_key = %key,
            "backup done; the master key is not in it"
        ),
    }
    Ok(())
}

/// `casebook keys rotate`: the key of the tenant named, or of every tenant
/// (`None`), with a line each and a summary.
fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    }
}

async fn run(command: Command, format: LogFormat) -> Result<(), Failure> {
    match command {
        Command::Serve {
            addr,
            database,
            public_url,
            token_signing_alg,
            dpop_nonce,
            gateway_policy,
            jwks_fetch,
            allow_private_webhook_urls,
            secret_max_age_days,
            secret_scanning_keys,
            metrics_addr,
            tls_cert,
            tls_key,
            no_migrate,
        } => {
            let tls = casebook_server::tls::TlsFiles::pair(tls_cert, tls_key).map_err(|e| e.to_string())?;
            let migrations =
                config::migration_policy(no_migrate, env("CASEBOOK_MIGRATE").as_deref()).map_err(|e| e.to_string())?;
            let master_key = config::resolve_master_key(&master_key_settings(), &database.database_url)
                .map_err(|e| e.to_string())?;
            let public_url = public_url
                .unwrap_or_else(|| {
                    let scheme = if tls.is_some() { "https" } else { "http" };
                    format!("{scheme}://{addr}")
                })
                .trim_end_matches('/')
                .to_owned();
            // The relay's certificate may chain to the same internal PKI as a jwks_uri's.
            let smtp_roots = jwks_fetch
                .extra_ca_file
                .as_deref()
                .map(casebook_server::notify::read_ca_file)
                .transpose()?
                .unwrap_or_default();
            let config = Config {
                addr,
                database_url: database.database_url,
                public_url,
                master_key,
                admin_email: env("CASEBOOK_ADMIN_EMAIL"),
                admin_password: env("CASEBOOK_ADMIN_PASSWORD"),
                cache_ttl: config::CACHE_TTL,
                mailer: casebook_server::notify::Mailer::from_url(
                    env("CASEBOOK_SMTP_URL").as_deref(),
                    env("CASEBOOK_SMTP_FROM").as_deref(),
                    &smtp_roots,
                )?,
                trusted_proxies: casebook_server::client_addr::TrustedProxies::parse(
                    &env("CASEBOOK_TRUSTED_PROXIES").unwrap_or_default(),
                )
                .map_err(|e| e.to_string())?,
                token_signing_alg,
                dpop_nonce,
                gateway_policy: gateway_policy
                    .as_deref()
                    .map(casebook_server::gateway_policy::load)
                    .transpose()?
                    .map(std::sync::Arc::new),
                jwks_fetch: config::JwksFetchConfig {
                    allow_private: jwks_fetch.allow_private_jwks_uri,
                    extra_ca_file: jwks_fetch.extra_ca_file,
                },
                allow_private_webhook_urls,
                secret_policy: casebook_domain::secret_lifecycle::SecretPolicy::from_max_age_days(secret_max_age_days)?,
                secret_scanning: secret_scanning_keys
                    .as_deref()
                    .map(casebook_server::secret_scanning::ScanningKeys::load)
                    .transpose()?,
                metrics_addr,
                tls,
                migrations,
                usage_counting: config::usage_counting(env("CASEBOOK_USAGE_COUNTING").as_deref())?,
            };
            casebook_server::serve(config, format)
                .await
                .map_err(|e| Failure::Run(e.to_string()))
        }
        Command::Keys {
            command:
                KeysCommand::Rotate {
                    database,
                    tenant,
                    all_tenants,
                    notice,
                    alg,
                    token_signing_alg,
                },
        } => {
            let alg = alg.or(token_signing_alg).unwrap_or_default();
            let which = if all_tenants { None } else { Some(tenant.as_str()) };
            key_commands::rotate_keys(&database.database_url, which, alg, notice).await
        }
        Command::MasterKey {
            command: MasterKeyCommand::Rotate { database, batch_size },
        } => upgrade_commands::rotate_master_key(&database.database_url, batch_size)
            .await
            .map_err(Failure::from),
        Command::Backup { to, database } => backup(&to, &database.database_url, format).await.map_err(Failure::from),
        Command::Migrate { dry_run, database } => upgrade_commands::migrate(&database.database_url, dry_run)
            .await
            .map_err(Failure::from),
        Command::Tenants { command } => tenant_commands::run(command).await,
        // `main` runs it before logging starts, so that a bad log setting
        // is one of its findings; the same report either way.
        Command::Check(args) => {
            if check(args).await {
                Ok(())
            } else {
                Err(Failure::Run("check found errors".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `check` must read what `serve` reads, or it would vouch for settings
    /// `serve` never sees.
    #[test]
    fn check_takes_every_flag_and_variable_of_serve() {
        let cli = Cli::command();
        let arguments = |name: &str| {
            let mut args: Vec<(Option<String>, Option<String>)> = cli
                .find_subcommand(name)
                .expect(name)
                .get_arguments()
                .filter(|a| a.get_id() != "help")
                .map(|a| {
                    (
                        a.get_long().map(str::to_owned),
                        a.get_env().map(|e| e.to_string_lossy().into_owned()),
                    )
                })
                .collect();
            args.sort();
            args
        };
        assert_eq!(arguments("check"), arguments("serve"));
    }
}
