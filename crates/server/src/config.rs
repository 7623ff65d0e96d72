//! Settings of `casebook serve`, from flags and the environment.

use crate::crypto::MasterKey;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::db::{Backend, sqlite_path};

/// Everything the service needs to start. Built by the CLI, or by tests.
#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub database_url: String,
    /// The issuer and the Callback URL shown for every application, without a trailing slash.
    pub public_url: String,
    pub master_key: MasterKey,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    /// How long a cached view of an application or token is trusted before
    /// storage is asked again: the bound on how stale another replica's change
    /// can look. SPEC allows 5 s.
    pub cache_ttl: std::time::Duration,
    /// Where notifications to applications' addresses go.
    pub mailer: crate::notify::Mailer,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// The algorithm of the first signing key (and of a key the server has to
    /// make because none is left); rotations choose their own.
    pub token_signing_alg: casebook_domain::SigningAlgorithm,
    /// How `jwks_uri` key sets are fetched.
    pub jwks_fetch: JwksFetchConfig,
    /// `CASEBOOK_SECRET_MAX_AGE_DAYS`: the longest a client secret works.
    pub secret_policy: casebook_domain::secret_lifecycle::SecretPolicy,
    /// `CASEBOOK_SECRET_SCANNING_KEYS`: who may report leaked secrets.
    /// Unset, `/secret-scanning/github` is 404.
    pub secret_scanning: Option<crate::secret_scanning::ScanningKeys>,
    /// `CASEBOOK_METRICS_ADDR`: where `/metrics` is served instead of the
    /// main listener. Unset, the main listener serves it.
    pub metrics_addr: Option<SocketAddr>,
    /// `CASEBOOK_TLS_CERT` and `CASEBOOK_TLS_KEY`: the main listener serves
    /// HTTPS with them, reread on SIGHUP. Unset, plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
    /// `CASEBOOK_MIGRATE` (`serve --no-migrate`): apply pending migrations
    /// at start, or refuse to start while any is pending.
    pub migrations: crate::db::MigrationPolicy,
}

/// Settings of outgoing JWKS fetches.
#[derive(Debug, Clone, Default)]
pub struct JwksFetchConfig {
    /// `CASEBOOK_ALLOW_PRIVATE_JWKS_URI`: let a `jwks_uri` reach loopback,
    /// private and other non-public addresses. Off, both an address written
    /// in the URL and every address a name resolves to must be public, which
    /// keeps registrants from aiming the server at its own network.
    pub allow_private: bool,
    /// `CASEBOOK_EXTRA_CA_FILE`: a PEM bundle of CA certificates trusted for
    /// outgoing HTTPS beside the platform's roots (an internal PKI).
    pub extra_ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    /// The admin password and a database URL's credentials never print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("database_url", &redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "[redacted]"))
            .field("cache_ttl", &self.cache_ttl)
            .field("mailer", &self.mailer)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("token_signing_alg", &self.token_signing_alg)
            .field("jwks_fetch", &self.jwks_fetch)
            .field("metrics_addr", &self.metrics_addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:redacted@host/db`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// `CASEBOOK_LOG_FORMAT`: how log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one readable line an event.
    #[default]
    Text,
    /// For log pipelines: one JSON object a line, fields at the top level.
    Json,
}

impl LogFormat {
    /// The variable's value; unset or empty is the default.
    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(str::trim) {
            None | Some("") | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(ConfigError::LogFormat(other.chars().take(32).collect())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("CASEBOOK_LOG_FORMAT must be `text` or `json`, not {0:?}")]
    LogFormat(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    DatabaseUrl(String),
    #[error(transparent)]
    MasterKey(#[from] crate::crypto::MasterKeyError),
    #[error("CASEBOOK_MASTER_KEY is required with PostgreSQL: every replica must share it")]
    MasterKeyRequired,
    #[error("no master key: CASEBOOK_MASTER_KEY is unset and there is no key file at {path}")]
    MasterKeyMissing { path: PathBuf },
    #[error("could not use the master key file {path}: {source}")]
    MasterKeyFile { path: PathBuf, source: std::io::Error },
    #[error(
        "the database {database} exists but its key file {key} does not: restore the key file from the backup taken with the database (or set CASEBOOK_MASTER_KEY to the key); nothing was created"
    )]
    KeyFileMissing { database: PathBuf, key: PathBuf },
    #[error(
        "the key file {key} exists but its database {database} does not: restore the database from its backup, or remove the key file to start a new install; nothing was created"
    )]
    DatabaseMissing { database: PathBuf, key: PathBuf },
    #[error("CASEBOOK_MIGRATE must be true or false, not {0:?}")]
    Migrate(String),
    #[error("CASEBOOK_EXTRA_CA_FILE {path}: {reason}")]
    ExtraCaFile { path: PathBuf, reason: String },
    #[error("could not set up the HTTPS client for jwks_uri fetches: {0}")]
    JwksClient(String),
    #[error(
        "CASEBOOK_METRICS_ADDR (--metrics-addr) {0} is the listen address (CASEBOOK_ADDR) too: give metrics a port of their own, or unset it to serve /metrics on the main listener"
    )]
    MetricsAddrIsListenAddr(SocketAddr),
}

/// Whether two listen addresses would take the same socket: the same port on
/// the same address, or on all addresses for either. Port 0 (any free port)
/// never collides.
pub fn same_listener(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0 && a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// SPEC: the key comes from `CASEBOOK_MASTER_KEY`; with SQLite and no variable,
/// it is generated once into a `0600` file beside the database and reused.
pub fn resolve_master_key(env_value: Option<&str>, database_url: &str) -> Result<MasterKey, ConfigError> {
    if let Some(value) = env_value.filter(|v| !v.trim().is_empty()) {
        return Ok(MasterKey::from_base64(value)?);
    }
    match Backend::of_url(database_url) {
        Some(Backend::Postgres) => Err(ConfigError::MasterKeyRequired),
        Some(Backend::Sqlite) => {
            let key = master_key_file(database_url);
            // A new install is made only where neither half exists: one half
            // alone is a lost file to restore, never a reason to start anew
            // (a new key beside old data opens nothing; a new database beside
            // an old key locks every partner out).
            if let Some(database) = sqlite_path(database_url) {
                match (database.exists(), key.exists()) {
                    (true, false) => return Err(ConfigError::KeyFileMissing { database, key }),
                    (false, true) => return Err(ConfigError::DatabaseMissing { database, key }),
                    _ => {}
                }
            }
            load_or_create_key_file(&key)
        }
        None => Err(ConfigError::DatabaseUrl(database_url.to_owned())),
    }
}

/// `serve --no-migrate` and `CASEBOOK_MIGRATE`: either one turning it off
/// turns it off.
pub fn migration_policy(no_migrate: bool, env_value: Option<&str>) -> Result<crate::db::MigrationPolicy, ConfigError> {
    use crate::db::MigrationPolicy;
    let from_env = match env_value.map(str::trim) {
        None | Some("") | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => return Err(ConfigError::Migrate(other.chars().take(32).collect())),
    };
    Ok(if no_migrate || !from_env {
        MigrationPolicy::RefusePending
    } else {
        MigrationPolicy::Apply
    })
}

/// The master key as [`resolve_master_key`] would find it, without ever
/// generating one: what `casebook check` and `casebook backup` read.
pub fn existing_master_key(env_value: Option<&str>, database_url: &str) -> Result<MasterKey, ConfigError> {
    if let Some(value) = env_value.filter(|v| !v.trim().is_empty()) {
        return Ok(MasterKey::from_base64(value)?);
    }
    match Backend::of_url(database_url) {
        Some(Backend::Postgres) => Err(ConfigError::MasterKeyRequired),
        Some(Backend::Sqlite) => {
            let path = master_key_file(database_url);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(MasterKey::from_base64(&text)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConfigError::MasterKeyMissing { path }),
                Err(source) => Err(ConfigError::MasterKeyFile { path, source }),
            }
        }
        None => Err(ConfigError::DatabaseUrl(database_url.to_owned())),
    }
}

/// `<database>.master.key`, where a SQLite install keeps its key when
/// `CASEBOOK_MASTER_KEY` is unset.
pub fn master_key_file(database_url: &str) -> PathBuf {
    let db = sqlite_path(database_url).unwrap_or_else(|| PathBuf::from("casebook.db"));
    let mut file = db.into_os_string();
    file.push(".master.key");
    PathBuf::from(file)
}

fn load_or_create_key_file(path: &std::path::Path) -> Result<MasterKey, ConfigError> {
    use std::io::Write;
    let err = |source| ConfigError::MasterKeyFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(MasterKey::from_base64(&text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            let key = MasterKey::generate_base64();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut f) => {
                    f.write_all(key.as_bytes()).map_err(err)?;
                    f.sync_all().map_err(err)?;
                    tracing::info!(path = %path.display(), "generated a master key; back it up with the database");
                    Ok(MasterKey::from_base64(&key)?)
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Ok(MasterKey::from_base64(&std::fs::read_to_string(path).map_err(err)?)?)
                }
                Err(e) => Err(err(e)),
            }
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_install_is_made_only_where_neither_half_exists() {
        let dir = std::env::temp_dir().join(format!("cbkey-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/c.db", dir.display());
        let (db, key) = (dir.join("c.db"), dir.join("c.db.master.key"));
        std::fs::write(&db, b"").unwrap();
        assert!(matches!(
            resolve_master_key(None, &url),
            Err(ConfigError::KeyFileMissing { .. })
        ));
        assert!(!key.exists(), "no key made beside a database that had one");
        std::fs::remove_file(&db).unwrap();
        resolve_master_key(None, &url).expect("a new install: the key is made");
        assert!(key.exists());
        let refused = resolve_master_key(None, &url).unwrap_err();
        assert!(matches!(refused, ConfigError::DatabaseMissing { .. }), "{refused}");
        assert!(refused.to_string().contains("nothing was created"));
        // The variable stands in for the file.
        std::fs::remove_file(&key).unwrap();
        std::fs::write(&db, b"").unwrap();
        assert!(resolve_master_key(Some(&MasterKey::generate_base64()), &url).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn migrating_on_start_is_off_when_either_setting_says_so() {
        use crate::db::MigrationPolicy::{Apply, RefusePending};
        assert_eq!(migration_policy(false, None).unwrap(), Apply);
        assert_eq!(migration_policy(false, Some("true")).unwrap(), Apply);
        assert_eq!(migration_policy(false, Some("false")).unwrap(), RefusePending);
        assert_eq!(migration_policy(true, Some("true")).unwrap(), RefusePending);
        assert!(migration_policy(false, Some("maybe")).is_err());
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/cb"),
            "postgres://app:redacted@db:5432/cb"
        );
        assert_eq!(redact_url("sqlite://casebook.db"), "sqlite://casebook.db");
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://casebook.db"), Some(PathBuf::from("casebook.db")));
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[test]
    fn the_key_file_is_created_once_with_0600() {
        let dir = std::env::temp_dir().join(format!("cbkey-{}", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}/c.db", dir.display());
        let a = resolve_master_key(None, &url).unwrap();
        // What `serve` makes next, so that the pair stands together.
        std::fs::write(dir.join("c.db"), b"").unwrap();
        let b = resolve_master_key(None, &url).unwrap();
        let sealed = a.seal(b"x", "c");
        assert_eq!(b.open(&sealed, "c").unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("c.db.master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn listeners_collide_on_one_port_of_one_address_or_of_all() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        for (a, b, same) in [
            ("127.0.0.1:8080", "127.0.0.1:8080", true),
            ("0.0.0.0:8080", "127.0.0.1:8080", true),
            ("127.0.0.1:9090", "[::]:9090", true),
            ("127.0.0.1:9090", "127.0.0.1:8080", false),
            ("127.0.0.2:8080", "127.0.0.1:8080", false),
            ("127.0.0.1:0", "127.0.0.1:0", false),
        ] {
            assert_eq!(same_listener(addr(a), addr(b)), same, "{a} {b}");
        }
    }

    #[test]
    fn postgres_requires_a_key() {
        assert!(matches!(
            resolve_master_key(None, "postgres://localhost/x"),
            Err(ConfigError::MasterKeyRequired)
        ));
    }
}
