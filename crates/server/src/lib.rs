//! The Casebook external applications service.
//!
//! Entry points: [`serve`] runs the service until a shutdown signal;
//! [`start`] starts it on a bound listener and hands back its address (what
//! tests use); [`http::openapi`] builds the API document without a database.

pub mod build_info {
    //! What this binary is: its version, and the commit it was built from
    //! when built from a git checkout (empty otherwise).
    pub const VERSION: &str = env!("CARGO_PKG_VERSION");
    pub const COMMIT: &str = env!("CASEBOOK_COMMIT");
    /// `0.2.0 (commit 1a2b3c4d5e6f)`, or the version alone.
    pub const LONG_VERSION: &str = env!("CASEBOOK_LONG_VERSION");
}
pub mod check;
pub mod client_addr;
pub mod client_auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod dpop;
pub mod error;
pub mod extract;
pub mod gateway_policy;
mod housekeeping;
pub mod http;
pub mod idempotency_writer;
pub mod jti_ledger;
pub mod jwks_fetch;
pub mod keys;
pub mod master_keys;
pub mod metrics;
pub mod notify;
pub mod passkeys;
pub mod password;
pub mod process_metrics;
pub mod quota;
pub mod request_context;
pub mod secret_scanning;
pub mod secret_use;
pub mod serving;
pub mod sources;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod tls;
pub mod totp;
pub mod usage;
pub mod views;
pub mod webhooks;

use crate::config::{Backend, Config, ConfigError};
use crate::db::{Db, DbError};
use crate::keys::{KeyError, KeyRing};
use crate::state::AppState;
use casebook_domain::user::Password;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

pub use http::openapi;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error(transparent)]
    MasterKeys(#[from] master_keys::MasterKeysError),
    #[error("could not listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("first administrator: {0}")]
    Admin(String),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("could not watch for SIGHUP, which reloads the TLS certificate: {0}")]
    Signal(std::io::Error),
}

/// A service started on a socket.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    /// Where `CASEBOOK_METRICS_ADDR` bound, when set.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    pub task: tokio::task::JoinHandle<()>,
}

/// Options only tests change.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub token_lifetime_secs: i64,
    /// Whether the background task delivers notifications; tests that drive
    /// delivery themselves turn it off.
    pub deliver_notifications: bool,
    /// How long an idle keep-alive connection stays open; shorter in a test
    /// than the contract's 60 s ("Connections") so that the test need not wait a minute.
    pub keep_alive_idle: Duration,
    /// The connection cap; tiny in a test that fills it.
    pub max_connections: usize,
    /// The wall clock; a test passes a [`clock::ManualClock`] and moves it
    /// instead of sleeping.
    pub clock: clock::SharedClock,
    /// The bounds of `jwks_uri` fetches: the contract's ("Limits"), or shorter in a test that
    /// would otherwise wait them out.
    pub jwks_fetch: jwks_fetch::Limits,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            token_lifetime_secs: casebook_domain::ACCESS_TOKEN_LIFETIME_SECS,
            deliver_notifications: true,
            keep_alive_idle: serving::KEEP_ALIVE_IDLE,
            max_connections: serving::MAX_CONNECTIONS,
            clock: std::sync::Arc::new(clock::SystemClock),
            jwks_fetch: jwks_fetch::Limits::default(),
        }
    }
}

impl TestOptions {
    fn limits(&self) -> serving::Limits {
        serving::Limits {
            idle: self.keep_alive_idle,
            max_connections: self.max_connections,
            ..serving::Limits::default()
        }
    }
}

/// Opens the database, applies migrations, seeds roles and the first admin,
/// loads keys.
pub async fn prepare(mut config: Config, options: TestOptions) -> Result<AppState, StartError> {
    let backend =
        Backend::of_url(&config.database_url).ok_or_else(|| ConfigError::DatabaseUrl(config.database_url.clone()))?;
    let db = Db::open(&config.database_url, backend, config.migrations)
        .await?
        .with_clock(options.clock.clone());
    // Only a new install (no accounts yet) gets the seeded catalog: roles an
    // admin removed later must not come back on a restart.
    let root = store::Scope::root(db.clone());
    if store::count_users(&root).await? == 0 {
        store::seed_roles(&root).await?;
    }
    ensure_first_admin(&root, &config).await?;
    // Before anything checks a secret: the MAC key every replica shares,
    // whichever master key is current.
    config.master_key = master_keys::load_secret_mac_key(&db, config.master_key).await?;
    let keys = KeyRing::load(
        store::Scope::root(db.clone()),
        config.master_key.clone(),
        config.token_signing_alg,
    )
    .await?;
    let metrics = metrics::Metrics::new();
    let jwks = jwks_fetch::JwksFetcher::new(&config.jwks_fetch, options.jwks_fetch.clone(), &metrics)?;
    Ok(AppState::new(
        db,
        config,
        keys,
        metrics,
        jwks,
        options.token_lifetime_secs,
    ))
}

async fn ensure_first_admin(root: &store::Scope, config: &Config) -> Result<(), StartError> {
    if store::count_users(root).await? > 0 {
        return Ok(());
    }
    let email = config
        .admin_email
        .clone()
        .unwrap_or_else(|| casebook_domain::email::DEFAULT_ADMIN_EMAIL.to_owned());
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.clone(), false),
        None => (crypto::random_token()[..24].to_owned(), true),
    };
    let user = casebook_domain::user::NewUser::first_administrator(&email, Password::new(password.clone()))
        .map_err(|e| StartError::Admin(e.to_string()))?;
    let hash = password::hash_password(Password::new(password.clone()))
        .await
        .map_err(|e| StartError::Admin(e.to_string()))?;
    match store::create_user(root, None, &user, store::FirstPassword::Hash(&hash)).await {
        Ok(_) => {}
        // Another replica created it first.
        Err(store::StoreError::Refused(_)) => return Ok(()),
        Err(e) => return Err(StartError::Admin(e.to_string())),
    }
    if generated {
        eprintln!(
            "\n  First start: created administrator {}\n  password: {password}\n  (shown once; sign in with POST /admin/v1/sessions and change it)\n",
            user.email()
        );
    } else {
        tracing::info!(email = %user.email(), "created the first administrator");
    }
    Ok(())
}

/// Binds and serves in the background; returns once the socket is listening.
pub async fn start(config: Config, options: TestOptions) -> Result<Running, StartError> {
    let addr = config.addr;
    let tls = load_tls(&config)?;
    let listener = bind(addr).await?;
    let metrics_listener = bind_metrics(&config).await?;
    let limits = options.limits();
    let state = prepare(config, options.clone()).await?;
    let addr = local_addr(&listener, addr)?;
    let metrics_addr = match &metrics_listener {
        Some((listener, wanted)) => Some(local_addr(listener, *wanted)?),
        None => None,
    };
    housekeeping::spawn(state.clone(), options.deliver_notifications);
    webhooks::spawn(state.clone());
    state::replica_sync::spawn_generation_poll(state.clone());
    state.quotas().start();
    if let Some((listener, _)) = metrics_listener {
        spawn_metrics_listener(listener, state.clone());
    }
    let app = http::router(state.clone());
    let acceptor = tls.map(|(_, acceptor)| acceptor);
    let task = tokio::spawn(serving::serve(listener, app, limits, acceptor, std::future::pending()));
    Ok(Running {
        addr,
        metrics_addr,
        state,
        task,
    })
}

/// The certificate and the acceptor that presents it, when TLS is set.
fn load_tls(
    config: &Config,
) -> Result<Option<(std::sync::Arc<tls::ReloadableCert>, tokio_rustls::TlsAcceptor)>, StartError> {
    let Some(files) = &config.tls else {
        return Ok(None);
    };
    let cert = std::sync::Arc::new(tls::ReloadableCert::load(files.clone())?);
    let acceptor = tls::acceptor(cert.clone())?;
    Ok(Some((cert, acceptor)))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

fn local_addr(listener: &TcpListener, wanted: SocketAddr) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr: wanted, source })
}

/// Binds `CASEBOOK_METRICS_ADDR` when it is set, refusing the main listen
/// address, which would leave one of the two listeners unbound.
async fn bind_metrics(config: &Config) -> Result<Option<(TcpListener, SocketAddr)>, StartError> {
    let Some(addr) = config.metrics_addr else {
        return Ok(None);
    };
    if config::same_listener(addr, config.addr) {
        return Err(ConfigError::MetricsAddrIsListenAddr(addr).into());
    }
    Ok(Some((bind(addr).await?, addr)))
}

/// Connections to the metrics listener at most: scrapers, not clients.
const METRICS_CONNECTIONS: usize = 32;

/// Serves `/metrics` alone on its own listener, with the main listener's
/// bounds on slow clients, until the process ends.
fn spawn_metrics_listener(listener: TcpListener, state: AppState) -> tokio::task::JoinHandle<()> {
    let limits = serving::Limits {
        max_connections: METRICS_CONNECTIONS,
        ..serving::Limits::default()
    };
    let app = http::ops::metrics_router(state);
    tokio::spawn(serving::serve(listener, app, limits, None, std::future::pending()))
}

/// Runs until SIGINT or SIGTERM, then stops accepting and gives requests in
/// flight [`serving::SHUTDOWN_GRACE`] before it returns.
/// With JSON logs the listening banner is only the log event, so that
/// stderr stays one JSON object a line.
pub async fn serve(config: Config, log_format: config::LogFormat) -> Result<(), StartError> {
    let addr = config.addr;
    let public_url = config.public_url.clone();
    let tls = load_tls(&config)?;
    let listener = bind(addr).await?;
    let metrics_listener = bind_metrics(&config).await?;
    let state = prepare(config, TestOptions::default()).await?;
    housekeeping::spawn(state.clone(), TestOptions::default().deliver_notifications);
    webhooks::spawn(state.clone());
    state::replica_sync::spawn_generation_poll(state.clone());
    state.quotas().start();
    let bound = local_addr(&listener, addr)?;
    #[cfg(unix)]
    if let Some((cert, _)) = &tls {
        tls::reload_on_sighup(cert.clone()).map_err(StartError::Signal)?;
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let metrics = match metrics_listener {
        Some((metrics_listener, wanted)) => {
            let metrics_bound = local_addr(&metrics_listener, wanted)?;
            tracing::info!(%metrics_bound, "metrics served apart, at /metrics");
            Some((metrics_bound, spawn_metrics_listener(metrics_listener, state.clone())))
        }
        None => None,
    };
    tracing::info!(%bound, %public_url, tls = tls.is_some(), "casebook listening");
    if log_format == config::LogFormat::Text {
        let metrics_line = match &metrics {
            Some((metrics_bound, _)) => {
                format!("\n  metrics: http://{metrics_bound}/metrics (not on the main listener)")
            }
            None => String::new(),
        };
        let banner = format!(
            "casebook listening on {scheme}://{bound} (issuer and Callback URL: {public_url})\n  admin console: {public_url}/admin\n  API reference: {public_url}/docs{metrics_line}"
        );
        eprintln!("{banner}");
    }
    let app = http::router(state.clone());
    let acceptor = tls.map(|(_, acceptor)| acceptor);
    let draining = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // Not ready first, still serving: a balancer checking /readyz stops
        // sending requests here before any connection closes, so none sent
        // on a reused connection meets one closing under it.
        draining.start_draining();
        tracing::info!(
            drain_ms = DRAIN.as_millis() as u64,
            "stopping: /readyz answers 503 while balancers move traffic away"
        );
        tokio::time::sleep(DRAIN).await;
    };
    serving::serve(listener, app, TestOptions::default().limits(), acceptor, shutdown).await;
    // Scrapes stop with the service; nothing on that listener is in flight
    // that matters.
    if let Some((_, task)) = metrics {
        task.abort();
    }
    // The grants counted since the last flush, so the other replicas (and
    // this one, restarted) still count them.
    state.quotas().stop().await;
    // A request cut off at the end of the grace period may have left a
    // pooled connection mid-query, which `close` would wait for.
    if tokio::time::timeout(Duration::from_secs(2), state.db().close())
        .await
        .is_err()
    {
        tracing::warn!("database connections still in use at exit");
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long a stopping server answers `/readyz` 503 while it still serves:
/// longer than the balancer takes to mark it down (deploy/haproxy.cfg: two
/// failed checks 250 ms apart, after at most 500 ms), short enough that the
/// drain and the 10 s grace end within systemd's `TimeoutStopSec=15s`.
const DRAIN: Duration = Duration::from_millis(1500);

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
