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
    /// can look. The contract allows 5 s ("Caches and replicas").
    pub cache_ttl: std::time::Duration,
    /// Where notifications to applications' addresses go.
    pub mailer: crate::notify::Mailer,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// The algorithm of the first signing key (and of a key the server has to
    /// make because none is left); rotations choose their own.
    pub token_signing_alg: casebook_domain::SigningAlgorithm,
    /// `CASEBOOK_DPOP_NONCE`: every DPoP proof must carry a nonce this
    /// install minted (RFC 9449 §8, §9).
    pub dpop_nonce: bool,
    /// `CASEBOOK_GATEWAY_POLICY`, compiled: the routes `/authz/check`
    /// judges. Unset, `/authz/check` is 404.
    pub gateway_policy: Option<std::sync::Arc<casebook_domain::gateway::Policy>>,
    /// How `jwks_uri` key sets are fetched.
    pub jwks_fetch: JwksFetchConfig,
    /// `CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS`: let a webhook's URL reach
    /// loopback, private and other non-public addresses, as
    /// `jwks_fetch.allow_private` does for a `jwks_uri`. Webhooks trust
    /// `jwks_fetch.extra_ca_file` too.
    pub allow_private_webhook_urls: bool,
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
    /// `CASEBOOK_USAGE_COUNTING`: count each application's tokens and
    /// refusals for usage at a glance. On unless turned off.
    pub usage_counting: bool,
}

/// How long `serve` trusts a cached view: within the contract's 5 s
/// ("Caches and replicas"), with room for a poll that comes late.
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Config {
    /// A service on a loopback port of the system's choosing, on
    /// `database_url`, with every other setting as `serve` has it unset (no
    /// first administrator named, notifications logged, no proxy trusted,
    /// RS256, no TLS): what tests, benches and tools start from, changing
    /// only what they are about.
    pub fn local(database_url: impl Into<String>, master_key: MasterKey) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            public_url: String::new(),
            master_key,
            admin_email: None,
            admin_password: None,
            cache_ttl: CACHE_TTL,
            mailer: crate::notify::Mailer::Log,
            trusted_proxies: Default::default(),
            token_signing_alg: Default::default(),
            dpop_nonce: false,
            gateway_policy: None,
            jwks_fetch: Default::default(),
            allow_private_webhook_urls: false,
            secret_policy: Default::default(),
            secret_scanning: None,
            metrics_addr: None,
            tls: None,
            migrations: Default::default(),
            usage_counting: true,
        }
    }
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

/// `CASEBOOK_USAGE_COUNTING`: `true` (or unset) or `false`.
pub fn usage_counting(value: Option<&str>) -> Result<bool, String> {
    match value.map(str::trim) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!("CASEBOOK_USAGE_COUNTING must be true or false, not {other:?}")),
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
    #[error(
        "CASEBOOK_MASTER_KEY is required with PostgreSQL (or CASEBOOK_MASTER_KEY_FILE): every replica must share it"
    )]
    MasterKeyRequired,
    #[error("CASEBOOK_MASTER_KEY and CASEBOOK_MASTER_KEY_FILE are both set: set one of them")]
    MasterKeyTwice,
    #[error("CASEBOOK_PREVIOUS_MASTER_KEYS and CASEBOOK_PREVIOUS_MASTER_KEYS_FILE are both set: set one of them")]
    PreviousKeysTwice,
    #[error(
        "the master key file {path} does not hold a key: it must hold 32 bytes in standard base64 (44 characters), like `openssl rand -base64 32` writes"
    )]
    MasterKeyFileMalformed { path: PathBuf },
    #[error("{source_name}: {entry} is not a key: each must be 32 bytes in standard base64 (44 characters)")]
    PreviousKeyMalformed { source_name: String, entry: String },
    #[error(
        "no master key: CASEBOOK_MASTER_KEY and CASEBOOK_MASTER_KEY_FILE are unset and there is no key file at {path}"
    )]
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

/// Where the master keys come from: `CASEBOOK_MASTER_KEY` or
/// `CASEBOOK_MASTER_KEY_FILE` (the current key), and
/// `CASEBOOK_PREVIOUS_MASTER_KEYS` or `CASEBOOK_PREVIOUS_MASTER_KEYS_FILE`
/// (keys that may still open values). Unset, SQLite's default key file
/// beside the database is the current key.
#[derive(Clone, Default)]
pub struct MasterKeySettings {
    pub key: Option<String>,
    pub key_file: Option<PathBuf>,
    pub previous: Option<String>,
    pub previous_file: Option<PathBuf>,
}

impl std::fmt::Debug for MasterKeySettings {
    /// Key files are named; keys never print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeySettings")
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .field("key_file", &self.key_file)
            .field("previous", &self.previous.as_ref().map(|_| "[redacted]"))
            .field("previous_file", &self.previous_file)
            .finish()
    }
}

impl MasterKeySettings {
    /// The four variables, through `get` (the environment, empty as unset).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            key: get("CASEBOOK_MASTER_KEY").filter(|v| !v.trim().is_empty()),
            key_file: get("CASEBOOK_MASTER_KEY_FILE")
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from),
            previous: get("CASEBOOK_PREVIOUS_MASTER_KEYS").filter(|v| !v.trim().is_empty()),
            previous_file: get("CASEBOOK_PREVIOUS_MASTER_KEYS_FILE")
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from),
        }
    }

    /// Only the current key given in the variable, as tests and older
    /// callers give it.
    pub fn key(value: &str) -> Self {
        Self {
            key: Some(value.to_owned()),
            ..Self::default()
        }
    }

    /// Whether the current key is given (by the variable or a file), so
    /// that SQLite's default key file plays no part.
    pub fn names_current_key(&self) -> bool {
        self.key.is_some() || self.key_file.is_some()
    }

    /// Where the current key was taken from, for messages (never the key).
    pub fn describe_current(&self, database_url: &str) -> String {
        match (&self.key, &self.key_file) {
            (Some(_), _) => "CASEBOOK_MASTER_KEY".to_owned(),
            (None, Some(file)) => file.display().to_string(),
            (None, None) => master_key_file(database_url).display().to_string(),
        }
    }

    /// The current key when the variable or `CASEBOOK_MASTER_KEY_FILE` gives it.
    fn given_current(&self) -> Result<Option<[u8; 32]>, ConfigError> {
        match (&self.key, &self.key_file) {
            (Some(_), Some(_)) => Err(ConfigError::MasterKeyTwice),
            (Some(value), None) => Ok(Some(crate::crypto::parse_key(value)?)),
            (None, Some(path)) => read_key_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The previous keys, in the order given.
    fn previous_keys(&self) -> Result<Vec<[u8; 32]>, ConfigError> {
        match (&self.previous, &self.previous_file) {
            (Some(_), Some(_)) => Err(ConfigError::PreviousKeysTwice),
            (Some(list), None) => list
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .enumerate()
                .map(|(at, entry)| {
                    crate::crypto::parse_key(entry).map_err(|_| ConfigError::PreviousKeyMalformed {
                        source_name: "CASEBOOK_PREVIOUS_MASTER_KEYS".to_owned(),
                        entry: format!("entry {}", at + 1),
                    })
                })
                .collect(),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::MasterKeyFile {
                    path: path.clone(),
                    source,
                })?;
                text.lines()
                    .enumerate()
                    .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
                    .map(|(at, line)| {
                        crate::crypto::parse_key(line).map_err(|_| ConfigError::PreviousKeyMalformed {
                            source_name: format!("CASEBOOK_PREVIOUS_MASTER_KEYS_FILE {}", path.display()),
                            entry: format!("line {}", at + 1),
                        })
                    })
                    .collect()
            }
            (None, None) => Ok(Vec::new()),
        }
    }
}

/// A key file's key; an error names the file, never what it holds.
fn read_key_file(path: &std::path::Path) -> Result<[u8; 32], ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::MasterKeyFile {
        path: path.to_owned(),
        source,
    })?;
    crate::crypto::parse_key(&text).map_err(|_| ConfigError::MasterKeyFileMalformed { path: path.to_owned() })
}

/// The contract ("Running the service"): the key comes from `CASEBOOK_MASTER_KEY` or
/// `CASEBOOK_MASTER_KEY_FILE`; with SQLite and neither, it is generated once
/// into a `0600` file beside the database and reused. Previous keys are
/// added to it.
pub fn resolve_master_key(settings: &MasterKeySettings, database_url: &str) -> Result<MasterKey, ConfigError> {
    master_key_with(settings, database_url, |database_url| {
        let key = master_key_file(database_url);
        // A new install is made only where neither half exists: one half
        // alone is a lost file to restore, never a reason to start anew (a
        // new key beside old data opens nothing; a new database beside an
        // old key locks every partner out).
        if let Some(database) = sqlite_path(database_url) {
            match (database.exists(), key.exists()) {
                (true, false) => return Err(ConfigError::KeyFileMissing { database, key }),
                (false, true) => return Err(ConfigError::DatabaseMissing { database, key }),
                _ => {}
            }
        }
        load_or_create_key_file(&key)
    })
}

/// The configured key and previous keys, with `sqlite_default` deciding
/// the current key of a SQLite install that names none.
fn master_key_with(
    settings: &MasterKeySettings,
    database_url: &str,
    sqlite_default: impl FnOnce(&str) -> Result<[u8; 32], ConfigError>,
) -> Result<MasterKey, ConfigError> {
    let previous = settings.previous_keys()?;
    let current = match settings.given_current()? {
        Some(bytes) => bytes,
        None => match Backend::of_url(database_url) {
            Some(Backend::Postgres) => return Err(ConfigError::MasterKeyRequired),
            Some(Backend::Sqlite) => sqlite_default(database_url)?,
            None => return Err(ConfigError::DatabaseUrl(database_url.to_owned())),
        },
    };
    Ok(MasterKey::from_bytes(current).with_previous(previous))
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
pub fn existing_master_key(settings: &MasterKeySettings, database_url: &str) -> Result<MasterKey, ConfigError> {
    master_key_with(settings, database_url, |database_url| {
        let path = master_key_file(database_url);
        if !path.exists() {
            return Err(ConfigError::MasterKeyMissing { path });
        }
        read_key_file(&path)
    })
}

/// `<database>.master.key`, where a SQLite install keeps its key when
/// `CASEBOOK_MASTER_KEY` is unset.
pub fn master_key_file(database_url: &str) -> PathBuf {
    let db = sqlite_path(database_url).unwrap_or_else(|| PathBuf::from("casebook.db"));
    let mut file = db.into_os_string();
    file.push(".master.key");
    PathBuf::from(file)
}

fn load_or_create_key_file(path: &std::path::Path) -> Result<[u8; 32], ConfigError> {
    use std::io::Write;
    let err = |source| ConfigError::MasterKeyFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(_) => read_key_file(path),
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
                    Ok(crate::crypto::parse_key(&key)?)
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
                Err(e) => Err(err(e)),
            }
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> MasterKeySettings {
        MasterKeySettings::default()
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cbkey-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_key_file_stands_in_for_the_variable_and_the_default_file() {
        let dir = temp_dir();
        let url = format!("sqlite://{}/c.db", dir.display());
        // A database without its default key file: irrelevant once a key file is named.
        std::fs::write(dir.join("c.db"), b"").unwrap();
        let (old, new) = (MasterKey::generate_base64(), MasterKey::generate_base64());
        std::fs::write(dir.join("new.key"), format!("{new}\n")).unwrap();
        std::fs::write(dir.join("old.keys"), format!("# retired in May\n{old}\n\n")).unwrap();
        let settings = MasterKeySettings {
            key_file: Some(dir.join("new.key")),
            previous_file: Some(dir.join("old.keys")),
            ..none()
        };
        let keys = resolve_master_key(&settings, &url).expect("the named files");
        assert_eq!(keys.key_id(), MasterKey::from_base64(&new).unwrap().key_id());
        assert_eq!(keys.previous_count(), 1);
        let sealed = MasterKey::from_base64(&old).unwrap().seal(b"x", "c");
        assert_eq!(keys.open(&sealed, "c").unwrap(), b"x");
        assert!(!dir.join("c.db.master.key").exists(), "no default key file made");
        assert!(existing_master_key(&settings, &url).is_ok());
        // The variable's list, with room around the commas.
        let listed = MasterKeySettings {
            key: Some(new.clone()),
            previous: Some(format!(" {old} , {} ,", MasterKey::generate_base64())),
            ..none()
        };
        assert_eq!(resolve_master_key(&listed, &url).unwrap().previous_count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_settings_that_do_not_hold_are_errors_naming_where_never_what() {
        let dir = temp_dir();
        let url = format!("sqlite://{}/c.db", dir.display());
        let key = MasterKey::generate_base64();
        std::fs::write(dir.join("good.key"), &key).unwrap();
        let both = MasterKeySettings {
            key: Some(key.clone()),
            key_file: Some(dir.join("good.key")),
            ..none()
        };
        let e = resolve_master_key(&both, &url).unwrap_err().to_string();
        assert!(
            e.contains("CASEBOOK_MASTER_KEY and CASEBOOK_MASTER_KEY_FILE are both set"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        // 31 bytes: base64 that decodes, to the wrong size.
        let short = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 31]);
        for (name, content) in [
            ("short.key", short.as_str()),
            ("bad.key", "not base64 at all, hunter2!"),
        ] {
            std::fs::write(dir.join(name), content).unwrap();
            let settings = MasterKeySettings {
                key_file: Some(dir.join(name)),
                ..none()
            };
            let e = resolve_master_key(&settings, &url).unwrap_err().to_string();
            assert!(e.contains(&dir.join(name).display().to_string()), "{e}");
            assert!(!e.contains(content) && !e.contains("hunter2"), "{e}");
        }
        let missing = MasterKeySettings {
            key_file: Some(dir.join("absent.key")),
            ..none()
        };
        assert!(
            resolve_master_key(&missing, &url)
                .unwrap_err()
                .to_string()
                .contains("absent.key")
        );
        let previous = MasterKeySettings {
            key: Some(key.clone()),
            previous: Some(format!("{key},{short}")),
            ..none()
        };
        let e = resolve_master_key(&previous, &url).unwrap_err().to_string();
        assert!(e.contains("CASEBOOK_PREVIOUS_MASTER_KEYS: entry 2"), "{e}");
        assert!(!e.contains(&short) && !e.contains(&key), "{e}");
        std::fs::write(dir.join("prev.keys"), format!("{key}\nsecret-looking junk\n")).unwrap();
        let in_file = MasterKeySettings {
            key: Some(key.clone()),
            previous_file: Some(dir.join("prev.keys")),
            ..none()
        };
        let e = resolve_master_key(&in_file, &url).unwrap_err().to_string();
        assert!(e.contains("prev.keys: line 2"), "{e}");
        assert!(!e.contains("junk"), "{e}");
        let twice = MasterKeySettings {
            previous: Some(key.clone()),
            ..in_file
        };
        assert!(matches!(
            resolve_master_key(&twice, &url),
            Err(ConfigError::PreviousKeysTwice)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_sqlite_install_is_made_only_where_neither_half_exists() {
        let dir = std::env::temp_dir().join(format!("cbkey-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/c.db", dir.display());
        let (db, key) = (dir.join("c.db"), dir.join("c.db.master.key"));
        std::fs::write(&db, b"").unwrap();
        assert!(matches!(
            resolve_master_key(&none(), &url),
            Err(ConfigError::KeyFileMissing { .. })
        ));
        assert!(!key.exists(), "no key made beside a database that had one");
        std::fs::remove_file(&db).unwrap();
        resolve_master_key(&none(), &url).expect("a new install: the key is made");
        assert!(key.exists());
        let refused = resolve_master_key(&none(), &url).unwrap_err();
        assert!(matches!(refused, ConfigError::DatabaseMissing { .. }), "{refused}");
        assert!(refused.to_string().contains("nothing was created"));
        // The variable stands in for the file.
        std::fs::remove_file(&key).unwrap();
        std::fs::write(&db, b"").unwrap();
        assert!(resolve_master_key(&MasterKeySettings::key(&MasterKey::generate_base64()), &url).is_ok());
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
        let a = resolve_master_key(&none(), &url).unwrap();
        // What `serve` makes next, so that the pair stands together.
        std::fs::write(dir.join("c.db"), b"").unwrap();
        let b = resolve_master_key(&none(), &url).unwrap();
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
            resolve_master_key(&none(), "postgres://localhost/x"),
            Err(ConfigError::MasterKeyRequired)
        ));
    }
}
