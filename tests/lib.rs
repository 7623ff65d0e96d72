//! Test harness: the real server on a free port with a fresh database, on
//! SQLite or PostgreSQL, and request helpers. Every integration test runs on
//! both backends from the same code (see [`both_backends!`]).

use casebook_server::clock::ManualClock;
use casebook_server::config::{Backend, Config};
use casebook_server::crypto::MasterKey;
use casebook_server::{Running, TestOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use casebook_server;

pub const ADMIN_EMAIL: &str = "root@agency.org";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// The password of every user a test creates.
pub const USER_PASSWORD: &str = "a long enough password";
pub const APPS: &str = "/admin/v1/external-applications";

/// Where PostgreSQL runs for tests; `CASEBOOK_TEST_PG` overrides it.
pub fn pg_admin_url() -> String {
    std::env::var("CASEBOOK_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A fresh database for one test, removed when the test ends.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    pg_name: Option<String>,
    dir: Option<std::path::PathBuf>,
}

impl TestDatabase {
    /// `None` when PostgreSQL is unreachable outside CI (the test is then
    /// skipped, loudly); under `CI=true` an unreachable PostgreSQL fails.
    pub async fn create(backend: Backend) -> Option<Self> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("casebook-test-{id}"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                Some(Self {
                    url: format!("sqlite://{}/casebook.db", dir.display()),
                    backend,
                    pg_name: None,
                    dir: Some(dir),
                })
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = pg_admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) if !in_ci() => {
                        eprintln!(
                            "\n*** SKIPPING a PostgreSQL test: cannot reach {admin}: {e} (under CI=true this fails) ***\n"
                        );
                        return None;
                    }
                    Err(e) => panic!("PostgreSQL at {admin} is required under CI: {e}"),
                };
                let name = format!("casebook_test_{id}");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
                Some(Self {
                    url: format!("{base}/{name}"),
                    backend,
                    pg_name: Some(name),
                    dir: None,
                })
            }
        }
    }
}

impl TestDatabase {
    /// A SQLite database in `dir` (a test's own filesystem, say), removed
    /// with the directory's contents afterwards.
    pub fn sqlite_in(dir: &std::path::Path) -> Self {
        Self {
            url: format!("sqlite://{}/casebook.db", dir.display()),
            backend: Backend::Sqlite,
            pg_name: None,
            dir: None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            // Drop runs inside the test's runtime; use a thread with its own.
            let admin = pg_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    use sqlx::Connection;
                    let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

/// A running server and an HTTP client pointed at it. A clone is the same
/// server (see [`TestApp::at_tenant`]); it stops when the last goes.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where every helper's path is appended: the root's URL, or a tenant's.
    pub base_url: String,
    pub http: reqwest::Client,
    pub running: Arc<Running>,
    pub master_key: String,
    /// Shared by every replica started from this app; removed with the last.
    pub db: Arc<TestDatabase>,
    /// The server's wall clock, when the test asked to move it.
    pub clock: Option<ManualClock>,
}

/// Settings a test may change before the server starts.
#[derive(Debug, Clone)]
pub struct Spawn {
    pub options: TestOptions,
    pub cache_ttl: Duration,
    pub master_key: Option<String>,
    /// `CASEBOOK_PREVIOUS_MASTER_KEYS`: keys that may still open values.
    pub previous_master_keys: Vec<String>,
    /// Set by [`Spawn::with_manual_clock`].
    pub clock: Option<ManualClock>,
    /// `CASEBOOK_TOKEN_SIGNING_ALG`: the first key's algorithm.
    pub signing_alg: casebook_domain::SigningAlgorithm,
    /// `CASEBOOK_ALLOW_PRIVATE_JWKS_URI` and `CASEBOOK_EXTRA_CA_FILE`.
    pub jwks_fetch: casebook_server::config::JwksFetchConfig,
    /// `CASEBOOK_SECRET_MAX_AGE_DAYS`.
    pub secret_policy: casebook_domain::secret_lifecycle::SecretPolicy,
    /// `CASEBOOK_SECRET_SCANNING_KEYS`, read.
    pub secret_scanning: Option<casebook_server::secret_scanning::ScanningKeys>,
    /// `CASEBOOK_TRUSTED_PROXIES`.
    pub trusted_proxies: casebook_server::client_addr::TrustedProxies,
    /// The host of `CASEBOOK_PUBLIC_URL` (the port is the server's); the
    /// listening address when unset. Passkeys need a domain name.
    pub public_host: Option<String>,
    /// `CASEBOOK_DPOP_NONCE`.
    pub dpop_nonce: bool,
    /// `CASEBOOK_GATEWAY_POLICY`, as the policy file's text.
    pub gateway_policy: Option<String>,
    /// `CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS`.
    pub allow_private_webhook_urls: bool,
}

impl Default for Spawn {
    fn default() -> Self {
        Self {
            options: TestOptions::default(),
            cache_ttl: Duration::from_secs(2),
            master_key: None,
            previous_master_keys: Vec::new(),
            clock: None,
            signing_alg: Default::default(),
            jwks_fetch: Default::default(),
            secret_policy: Default::default(),
            secret_scanning: None,
            trusted_proxies: Default::default(),
            public_host: None,
            dpop_nonce: false,
            gateway_policy: None,
            allow_private_webhook_urls: false,
        }
    }
}

impl Spawn {
    /// A server whose wall clock moves only by [`TestApp::advance_clock`].
    /// A server whose first signing key is of `alg`.
    pub fn with_signing_alg(alg: casebook_domain::SigningAlgorithm) -> Self {
        Self {
            signing_alg: alg,
            ..Self::default()
        }
    }

    /// A server that trusts the CA in `ca_file` for `jwks_uri` fetches, as an
    /// install with an internal PKI would; `allow_private` is
    /// `CASEBOOK_ALLOW_PRIVATE_JWKS_URI`, which a key host on loopback needs.
    pub fn trusting_ca(ca_file: &std::path::Path, allow_private: bool) -> Self {
        Self {
            jwks_fetch: casebook_server::config::JwksFetchConfig {
                allow_private,
                extra_ca_file: Some(ca_file.to_owned()),
            },
            ..Self::default()
        }
    }

    /// A server behind the reverse proxies `list` names (`CASEBOOK_TRUSTED_PROXIES`).
    pub fn behind_proxies(list: &str) -> Self {
        Self {
            trusted_proxies: casebook_server::client_addr::TrustedProxies::parse(list).expect("a list of CIDRs"),
            ..Self::default()
        }
    }

    /// A server whose public URL names `localhost`, as passkeys need.
    pub fn at_localhost() -> Self {
        Self {
            public_host: Some("localhost".into()),
            ..Self::default()
        }
    }

    pub fn with_manual_clock() -> Self {
        let clock = ManualClock::starting_now();
        let mut spawn = Self::default();
        spawn.options.clock = std::sync::Arc::new(clock.clone());
        spawn.clock = Some(clock);
        spawn
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, Spawn::default()).await
    }

    pub async fn spawn_with(backend: Backend, spawn: Spawn) -> Option<Self> {
        let db = TestDatabase::create(backend).await?;
        Some(Self::spawn_on(db, spawn).await)
    }

    /// Starts a server on an existing database (a restart).
    pub async fn spawn_on(db: TestDatabase, spawn: Spawn) -> Self {
        let (config, master_key) = Self::config_for(&db.url, &spawn);
        Self::launch(config, spawn.options, master_key, Arc::new(db), spawn.clock).await
    }

    /// Another server on this one's database with `spawn`'s settings (its
    /// own master keys, say), as a replica restarted with new settings would
    /// be: the install's issuer, on its own port.
    pub async fn beside(&self, spawn: Spawn) -> Self {
        let (config, master_key) = Self::config_for(&self.db.url, &spawn);
        let config = Config {
            public_url: self.running.state.config().public_url.clone(),
            ..config
        };
        Self::launch(config, spawn.options, master_key, self.db.clone(), spawn.clock).await
    }

    /// A server's settings on the database at `url`, and its master key as given.
    fn config_for(url: &str, spawn: &Spawn) -> (Config, String) {
        let master_key = spawn.master_key.clone().unwrap_or_else(MasterKey::generate_base64);
        let previous = spawn
            .previous_master_keys
            .iter()
            .map(|key| casebook_server::crypto::parse_key(key).expect("a previous key"));
        let master = MasterKey::from_base64(&master_key)
            .expect("key")
            .with_previous(previous);
        let config = Config {
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.into()),
            cache_ttl: spawn.cache_ttl,
            trusted_proxies: spawn.trusted_proxies.clone(),
            token_signing_alg: spawn.signing_alg,
            dpop_nonce: spawn.dpop_nonce,
            gateway_policy: spawn.gateway_policy.as_deref().map(|text| {
                std::sync::Arc::new(casebook_server::gateway_policy::parse(text).expect("a gateway policy"))
            }),
            jwks_fetch: spawn.jwks_fetch.clone(),
            allow_private_webhook_urls: spawn.allow_private_webhook_urls,
            secret_policy: spawn.secret_policy,
            secret_scanning: spawn.secret_scanning.clone(),
            ..Config::local(url, master)
        };
        // The issuer must be known before binding; reserve a port first.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        let addr = probe.local_addr().expect("addr");
        drop(probe);
        let config = Config {
            addr,
            public_url: match &spawn.public_host {
                Some(host) => format!("http://{host}:{}", addr.port()),
                None => format!("http://{addr}"),
            },
            ..config
        };
        (config, master_key)
    }

    /// Another server of the same install, as a second `casebook serve`
    /// would be: this one's database, master key, issuer and settings, its
    /// own caches and key ring, on its own port, with the default options
    /// but the same wall clock.
    pub async fn replica(&self) -> Self {
        let config = Config {
            addr: "127.0.0.1:0".parse().expect("addr"),
            ..self.running.state.config().clone()
        };
        let options = TestOptions {
            clock: self.running.state.clock().clone(),
            ..TestOptions::default()
        };
        Self::launch(
            config,
            options,
            self.master_key.clone(),
            self.db.clone(),
            self.clock.clone(),
        )
        .await
    }

    async fn launch(
        config: Config,
        options: TestOptions,
        master_key: String,
        db: Arc<TestDatabase>,
        clock: Option<ManualClock>,
    ) -> Self {
        let running = casebook_server::start(config, options).await.expect("server starts");
        Self {
            addr: running.addr,
            // This server's own port, under the public URL's host: the
            // name it gives itself in issuers, links and, for passkeys, its
            // relying party (a replica shares the first one's public URL).
            base_url: match url::Url::parse(&running.state.config().public_url) {
                Ok(public) if public.domain().is_some() => {
                    format!(
                        "http://{}:{}",
                        public.domain().unwrap_or("localhost"),
                        running.addr.port()
                    )
                }
                _ => format!("http://{}", running.addr),
            },
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            running: Arc::new(running),
            master_key,
            db,
            clock,
        }
    }

    /// A client of this server whose connections come from `local`, a
    /// loopback address other than 127.0.0.1 (Linux routes all of
    /// 127.0.0.0/8 to the loopback interface).
    pub fn client_from(&self, local: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(local.parse::<std::net::IpAddr>().expect("an address"))
            .build()
            .expect("client")
    }

    /// One counter of `/metrics`, by its full name; 0 when absent.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("metrics");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Moves the server's wall clock forward: time-dependent rules (expiry,
    /// grace periods, key activation) see the future without a test waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.clock
            .as_ref()
            .expect("advance_clock needs a server spawned with Spawn::with_manual_clock()")
            .advance(by);
    }

    /// The same server, seen from the tenant `slug`'s base URL: every helper
    /// (sign-in, admin calls, tokens) then talks to that tenant.
    pub fn at_tenant(&self, slug: &str) -> TestApp {
        TestApp {
            base_url: format!("{}/t/{slug}", self.root_url()),
            ..self.clone()
        }
    }

    /// Creates the tenant `slug` through this (the root's) admin API, its
    /// first Administrator `admin_email` with [`ADMIN_PASSWORD`]; returns
    /// the tenant's view, that Administrator's session and the create's
    /// answer.
    pub async fn create_tenant(&self, root_admin: &str, slug: &str, admin_email: &str) -> (TestApp, String, Value) {
        let created = expect(
            self.post_json(
                "/admin/v1/tenants",
                root_admin,
                &json!({"slug": slug, "name": format!("Agency {slug}"), "admin_email": admin_email, "admin_password": ADMIN_PASSWORD}),
            )
            .await,
            201,
        )
        .await;
        let at = self.at_tenant(slug);
        let admin = at.sign_in(admin_email, ADMIN_PASSWORD).await;
        (at, admin, created)
    }

    /// The root tenant's base URL, whichever tenant this view is of.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Signs in and returns the session token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let r = self
            .http
            .post(self.url("/admin/v1/sessions"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201, "sign in as {email}");
        r.json::<Value>().await.expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// The Rust SDK's client, signed in as the first administrator.
    pub async fn sdk_admin(&self) -> casebook_sdk::Client {
        casebook_sdk::Client::builder(&self.base_url)
            .build()
            .expect("client")
            .sign_in(ADMIN_EMAIL, &casebook_sdk::Password::new(ADMIN_PASSWORD))
            .await
            .expect("sign in")
    }

    pub async fn admin_token(&self) -> String {
        self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("send")
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("send")
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("send")
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("send")
    }

    /// A DELETE with a JSON body (removing a second factor takes a password).
    pub async fn delete_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("send")
    }

    /// A GET without credentials; returns the JSON body.
    pub async fn public_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }

    /// Creates a role; asserts 201 and returns its JSON view.
    pub async fn create_role(&self, admin: &str, name: &str, permissions: &[&str]) -> Value {
        let r = self
            .post_json(
                "/admin/v1/roles",
                admin,
                &json!({"name": name, "permissions": permissions}),
            )
            .await;
        expect(r, 201).await
    }

    /// Creates a user with [`USER_PASSWORD`]; asserts 201 and returns its JSON view.
    pub async fn create_user(&self, admin: &str, email: &str, name: &str, roles: &[&str]) -> Value {
        let r = self
            .post_json(
                "/admin/v1/users",
                admin,
                &json!({"email": email, "name": name, "password": USER_PASSWORD, "roles": roles}),
            )
            .await;
        expect(r, 201).await
    }

    /// Registers an application with the given roles; returns its JSON view.
    pub async fn register(&self, admin: &str, name: &str, email: &str, roles: &[&str]) -> Value {
        let r = self
            .post_json(
                "/admin/v1/external-applications",
                admin,
                &json!({"name": name, "email": email, "roles": roles}),
            )
            .await;
        assert_eq!(r.status(), 201, "register {name}");
        r.json().await.expect("json")
    }

    /// Reveals an application's secret with the admin's password.
    pub async fn reveal(&self, admin: &str, app_id: &str) -> String {
        let r = self
            .post_json(
                &format!("/admin/v1/external-applications/{app_id}/client-secret/reveal"),
                admin,
                &json!({"password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(r.status(), 200, "reveal");
        r.json::<Value>().await.expect("json")["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned()
    }

    /// Client credentials grant with body authentication, as Casebook's
    /// knowledge-base snippet does it. Returns the raw response.
    pub async fn token_response(&self, client_id: &str, secret: &str, scope: Option<&str>) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.http
            .post(self.url("/oauth2/token"))
            .form(&form)
            .send()
            .await
            .expect("send")
    }

    pub async fn access_token(&self, client_id: &str, secret: &str) -> String {
        let r = self.token_response(client_id, secret, None).await;
        assert_eq!(r.status(), 200, "token");
        r.json::<Value>().await.expect("json")["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Registers an application with `roles`, reveals its secret and returns
    /// `(application view, client_id, secret)`.
    pub async fn partner(&self, admin: &str, name: &str, roles: &[&str]) -> (Value, String, String) {
        let email = format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-"));
        let app = self.register(admin, name, &email, roles).await;
        let id = app["id"].as_str().expect("id").to_owned();
        let client_id = app["client_id"].as_str().expect("client_id").to_owned();
        let secret = self.reveal(admin, &id).await;
        (app, client_id, secret)
    }
}

// ------------------------------------------------------------------ answers

/// Asserts the status and returns the JSON body (`Null` when empty).
pub async fn expect(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let text = r.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// A header's value as text; empty when absent or not text.
pub fn header(r: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Asserts an RFC 9457 problem with this status and returns it.
pub async fn problem(r: reqwest::Response, status: u16) -> Value {
    let content_type = header(&r, reqwest::header::CONTENT_TYPE);
    let body = expect(r, status).await;
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    body
}

/// The `(field, code)` pairs of a 422, each checked to carry a message.
pub fn field_codes(problem: &Value) -> BTreeSet<(String, String)> {
    ordered_field_codes(problem).into_iter().collect()
}

/// The same, in the order the problem lists them (the form's).
pub fn ordered_field_codes(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
            (
                e["field"].as_str().expect("field").to_owned(),
                e["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

/// Expected `(field, code)` pairs, to compare with [`field_codes`].
pub fn pairs(expected: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    expected.iter().map(|&(f, c)| (f.to_owned(), c.to_owned())).collect()
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// One base64url part of a JWT, as JSON: 0 the header, 1 the claims.
pub fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(index).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The signing key a JWT names.
pub fn kid_of(token: &str) -> String {
    jwt_part(token, 0)["kid"].as_str().expect("kid").to_owned()
}

/// The access token check a partner would write with `jsonwebtoken`: see
/// [`verify_jwt_with_jsonwebtoken`]; audience the issuer, `exp` required.
pub async fn verify_with_jsonwebtoken(app: &TestApp, token: &str) -> jsonwebtoken::errors::Result<Value> {
    let issuer = app.public_json("/.well-known/oauth-authorization-server").await["issuer"]
        .as_str()
        .expect("issuer")
        .to_owned();
    verify_jwt_with_jsonwebtoken(app, token, &issuer, &["exp", "iss", "aud", "sub"]).await
}

/// A JWT of this install checked as an outside verifier would: the key the
/// token's `kid` names in the published JWKS, with the algorithm that key is
/// published for (never the one the token's header claims), the issuer and
/// `audience` pinned, `required` claims present.
pub async fn verify_jwt_with_jsonwebtoken(
    app: &TestApp,
    token: &str,
    audience: &str,
    required: &[&str],
) -> jsonwebtoken::errors::Result<Value> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
    let metadata = app.public_json("/.well-known/oauth-authorization-server").await;
    let issuer = metadata["issuer"].as_str().expect("issuer").to_owned();
    let raw: Value = app
        .http
        .get(metadata["jwks_uri"].as_str().expect("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let jwks: JwkSet = serde_json::from_value(raw.clone()).expect("a JWKS jsonwebtoken can read");
    let kid = jsonwebtoken::decode_header(token)?.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("the token's key is published");
    let published = raw["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .and_then(|k| k["alg"].as_str())
        .expect("the key names its algorithm");
    let algorithm: Algorithm = published.parse().expect("an algorithm jsonwebtoken knows");
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[&issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(required);
    validation.validate_exp = required.contains(&"exp");
    Ok(jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims)
}

/// Runs an async test body on SQLite and on PostgreSQL:
/// `both_backends!(name, |app: TestApp| async move { … });`, or with the
/// server started from a [`Spawn`]:
/// `both_backends!(name, spawn = Spawn { … }, |app: TestApp| async move { … });`
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        $crate::both_backends!($name, spawn = $crate::Spawn::default(), $body);
    };
    ($name:ident, spawn = $spawn:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::TestApp::spawn_with($crate::casebook_server::config::Backend::Sqlite, $spawn)
                    .await
                    .expect("sqlite");
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) =
                    $crate::TestApp::spawn_with($crate::casebook_server::config::Backend::Postgres, $spawn).await
                {
                    ($body)(app).await;
                }
            }
        }
    };
}

/// The `casebook` binary built beside this test binary, to run as an
/// operator would. `cargo test --workspace` builds it (the server's own tests
/// need it); under CI it must be there, elsewhere a test without it skips.
pub fn casebook_binary() -> Option<std::path::PathBuf> {
    built("casebook", "`cargo test --workspace`")
}

/// An example of the Rust SDK, as `cargo test --workspace` builds it
/// (`target/<profile>/examples/<name>`).
pub fn sdk_example(name: &str) -> Option<std::path::PathBuf> {
    built(&format!("examples/{name}"), "`cargo test --workspace`")
}

/// A binary of this build beside the test's own profile directory; missing
/// is a failure in CI and a skip, said loudly, in a narrow local run.
fn built(relative: &str, builder: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/<test binary> → target/<profile>/<relative>
    let binary = exe.parent()?.parent()?.join(relative);
    if binary.is_file() {
        return Some(binary);
    }
    assert!(!in_ci(), "{} is missing: run {builder}", binary.display());
    eprintln!(
        "\n*** SKIPPING: nothing at {}; {builder} builds it ***\n",
        binary.display()
    );
    None
}

/// `binary` as an operator would run it, with none of the `CASEBOOK_*`
/// variables of the environment the tests run in: each test sets its own.
pub fn casebook_command(binary: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(binary);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CASEBOOK_") {
            command.env_remove(name);
        }
    }
    command.stdin(std::process::Stdio::null());
    command
}

impl TestDatabase {
    /// The SQLite file this database is, or will be.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        casebook_server::config::sqlite_path(&self.url)
    }
}

/// A free port on 127.0.0.1, for a server told its address up front.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

/// `casebook serve` in a process of its own, as an operator runs it, its
/// stderr in a file; killed when dropped.
#[derive(Debug)]
pub struct ServeProcess {
    child: std::process::Child,
    pub addr: SocketAddr,
    stderr: std::path::PathBuf,
    // Dropped last: the database outlives the server.
    _db: TestDatabase,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- casebook serve ---\n{}", self.stderr());
        }
    }
}

impl ServeProcess {
    /// Serves `db` on a free port with a new master key, the test
    /// administrator and `env` on top; returns once it says it listens.
    pub async fn start(binary: &std::path::Path, db: TestDatabase, env: &[(&str, String)]) -> Self {
        let addr = free_addr();
        let stderr = std::env::temp_dir().join(format!("casebook-serve-{}.err", uuid::Uuid::now_v7().simple()));
        let mut command = casebook_command(binary);
        command
            .arg("serve")
            .env("CASEBOOK_ADDR", addr.to_string())
            .env("CASEBOOK_DATABASE_URL", &db.url)
            .env("CASEBOOK_MASTER_KEY", MasterKey::generate_base64())
            .env("CASEBOOK_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CASEBOOK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("spawn casebook serve");
        let mut served = Self {
            child,
            addr,
            stderr,
            _db: db,
        };
        served.wait_for_log("casebook listening", 0).await;
        served
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until the server has written `needle` more than `seen` times;
    /// fails if it exits or takes a minute.
    pub async fn wait_for_log(&mut self, needle: &str, seen: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.stderr().matches(needle).count() <= seen {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("casebook serve exited ({status}) before writing {needle:?}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "casebook serve did not write {needle:?} within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
