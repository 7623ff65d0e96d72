//! `casebook`: the service binary.

use casebook_domain::SigningAlgorithm;
use casebook_server::config::{self, Backend, Config};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "casebook",
    version,
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
    /// when fetching a jwks_uri.
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
        /// The issuer, and the Callback URL shown for every application [default: http://<addr>].
        #[arg(long, env = "CASEBOOK_PUBLIC_URL")]
        public_url: Option<String>,
        /// RS256, ES256 or EdDSA: the algorithm of the first signing key, and
        /// of a key the server makes because none is left.
        #[arg(long, env = "CASEBOOK_TOKEN_SIGNING_ALG", default_value_t = SigningAlgorithm::Rs256, value_name = "ALG")]
        token_signing_alg: SigningAlgorithm,
        #[command(flatten)]
        jwks_fetch: JwksFetchArgs,
        /// The longest any client secret works after it was issued, in days
        /// (1 to 3650); also the expiry of a secret added without one.
        #[arg(long, env = "CASEBOOK_SECRET_MAX_AGE_DAYS", value_name = "DAYS")]
        secret_max_age_days: Option<u32>,
        /// GitHub's secret-scanning public keys document (a JSON file), to
        /// take leak reports at /secret-scanning/github.
        #[arg(long, env = "CASEBOOK_SECRET_SCANNING_KEYS", value_name = "JSON_FILE")]
        secret_scanning_keys: Option<std::path::PathBuf>,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new signing key current. The old key keeps verifying, and stays
    /// in the JWKS, until every token it signed has expired.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
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

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CASEBOOK_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("casebook: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(Cli::parse()));
    // Dropping a runtime waits for every blocking task without limit; SPEC
    // bounds how long a stopping server may take.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("casebook: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            addr,
            database,
            public_url,
            token_signing_alg,
            jwks_fetch,
            secret_max_age_days,
            secret_scanning_keys,
        } => {
            let master_key = config::resolve_master_key(env("CASEBOOK_MASTER_KEY").as_deref(), &database.database_url)
                .map_err(|e| e.to_string())?;
            let public_url = public_url
                .unwrap_or_else(|| format!("http://{addr}"))
                .trim_end_matches('/')
                .to_owned();
            let config = Config {
                addr,
                database_url: database.database_url,
                public_url,
                master_key,
                admin_email: env("CASEBOOK_ADMIN_EMAIL"),
                admin_password: env("CASEBOOK_ADMIN_PASSWORD"),
                cache_ttl: std::time::Duration::from_secs(2),
                mailer: casebook_server::notify::Mailer::from_url(
                    env("CASEBOOK_SMTP_URL").as_deref(),
                    env("CASEBOOK_SMTP_FROM").as_deref(),
                )?,
                trusted_proxies: casebook_server::client_addr::TrustedProxies::parse(
                    &env("CASEBOOK_TRUSTED_PROXIES").unwrap_or_default(),
                )
                .map_err(|e| e.to_string())?,
                token_signing_alg,
                jwks_fetch: config::JwksFetchConfig {
                    allow_private: jwks_fetch.allow_private_jwks_uri,
                    extra_ca_file: jwks_fetch.extra_ca_file,
                },
                secret_policy: casebook_domain::secret_lifecycle::SecretPolicy::from_max_age_days(secret_max_age_days)?,
                secret_scanning: secret_scanning_keys
                    .as_deref()
                    .map(casebook_server::secret_scanning::ScanningKeys::load)
                    .transpose()?,
            };
            casebook_server::serve(config).await.map_err(|e| e.to_string())
        }
        Command::Keys {
            command:
                KeysCommand::Rotate {
                    database,
                    notice,
                    alg,
                    token_signing_alg,
                },
        } => {
            let alg = alg.or(token_signing_alg).unwrap_or_default();
            let url = database.database_url;
            let backend = Backend::of_url(&url).ok_or_else(|| format!("unsupported database URL {url:?}"))?;
            let master_key =
                config::resolve_master_key(env("CASEBOOK_MASTER_KEY").as_deref(), &url).map_err(|e| e.to_string())?;
            let db = casebook_server::db::Db::connect(&url, backend)
                .await
                .map_err(|e| e.to_string())?;
            // Loading first creates the initial key on a new database, so there is something to retire.
            casebook_server::keys::KeyRing::load(db.clone(), master_key.clone(), alg)
                .await
                .map_err(|e| e.to_string())?;
            let kid = casebook_server::keys::rotate_with_notice(
                &db,
                &master_key,
                alg,
                std::time::Duration::from_secs(notice),
            )
            .await
            .map_err(|e| e.to_string())?;
            if notice == 0 {
                println!("new {alg} signing key {kid} is current; running servers pick it up within 5 seconds");
            } else {
                println!(
                    "new {alg} signing key {kid} is published now and signs from {notice} s on; running servers switch within 5 seconds of that"
                );
            }
            Ok(())
        }
    }
}
