//! Two real `casebook serve` processes on one PostgreSQL database are one
//! install (SPEC): a token from one is accepted by the other, and a change
//! made through one holds on both within 5 seconds.
//!
//! PostgreSQL comes from `CASEBOOK_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test creates a database of
//! its own and drops it. Unreachable PostgreSQL skips these tests loudly,
//! except under `CI=true`, where it fails them.

use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN_EMAIL: &str = "root@agency.org";
const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// SPEC's bound on how long a change may take to reach every replica.
const PROPAGATION: Duration = Duration::from_secs(5);

fn pg_admin_url() -> String {
    std::env::var("CASEBOOK_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn free_addr() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr")
}

/// Two replicas and their database; dropping it stops both and removes the database.
struct Cluster {
    replicas: Vec<Replica>,
    database_url: String,
    master_key: String,
    db_name: String,
    log_dir: PathBuf,
    http: reqwest::Client,
}

struct Replica {
    base_url: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for replica in &mut self.replicas {
            let _ = replica.child.kill();
            let _ = replica.child.wait();
        }
        if std::thread::panicking() {
            for replica in &self.replicas {
                let log = std::fs::read_to_string(&replica.log).unwrap_or_default();
                eprintln!("--- log of the replica at {} ---\n{log}", replica.base_url);
            }
        }
        let _ = std::fs::remove_dir_all(&self.log_dir);
        let (admin, name) = (pg_admin_url(), self.db_name.clone());
        // Drop runs inside the test's runtime; use a thread with its own.
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

impl Cluster {
    /// A fresh database and two replicas serving it; `None` when PostgreSQL is
    /// unreachable outside CI.
    async fn start() -> Option<Self> {
        use sqlx::Connection;
        let admin = pg_admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) if !in_ci() => {
                eprintln!(
                    "\n*** SKIPPING a replica test: cannot reach PostgreSQL at {admin}: {e} (under CI=true this fails) ***\n"
                );
                return None;
            }
            Err(e) => panic!("PostgreSQL at {admin} is required under CI: {e}"),
        };
        let id = uuid::Uuid::now_v7().simple().to_string();
        let db_name = format!("casebook_replicas_{id}");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
        let log_dir = std::env::temp_dir().join(format!("casebook-replicas-{id}"));
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let mut cluster = Self {
            replicas: Vec::new(),
            database_url: format!("{base}/{db_name}"),
            master_key: casebook_server::crypto::MasterKey::generate_base64(),
            db_name,
            log_dir,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        };
        // One install, one issuer: the address a load balancer would publish.
        let public_url = format!("http://{}", free_addr());
        // The first replica migrates and creates the administrator; the second joins.
        for n in 0..2 {
            cluster.spawn_replica(n, &public_url);
            cluster.wait_healthy(n).await;
        }
        Some(cluster)
    }

    fn spawn_replica(&mut self, n: usize, public_url: &str) {
        let addr = free_addr();
        let log = self.log_dir.join(format!("replica-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_casebook"))
            .arg("serve")
            .env("CASEBOOK_ADDR", addr.to_string())
            .env("CASEBOOK_DATABASE_URL", &self.database_url)
            .env("CASEBOOK_PUBLIC_URL", public_url)
            .env("CASEBOOK_MASTER_KEY", &self.master_key)
            .env("CASEBOOK_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CASEBOOK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CASEBOOK_LOG", "warn")
            .env_remove("CASEBOOK_SMTP_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn casebook serve");
        self.replicas.push(Replica {
            base_url: format!("http://{addr}"),
            child,
            log,
        });
    }

    async fn wait_healthy(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(self.url(n, "/healthz")).send().await
                && r.status() == 200
            {
                return;
            }
            if let Ok(Some(status)) = self.replicas[n].child.try_wait() {
                panic!("replica {n} exited with {status} before it was healthy");
            }
            assert!(Instant::now() < deadline, "replica {n} did not become healthy in 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, n: usize, path: &str) -> String {
        format!("{}{path}", self.replicas[n].base_url)
    }

    async fn admin_session(&self, n: usize) -> String {
        let r = self
            .http
            .post(self.url(n, "/admin/v1/sessions"))
            .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201, "sign in");
        r.json::<Value>().await.expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Registers an application through replica `n`; returns `(id, client_id, secret)`.
    async fn register(&self, n: usize, admin: &str, name: &str) -> (String, String, String) {
        let r = self
            .http
            .post(self.url(n, "/admin/v1/external-applications"))
            .bearer_auth(admin)
            .json(
                &json!({"name": name, "email": format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-")),
                          "roles": ["engage-worker"]}),
            )
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201, "register");
        let app: Value = r.json().await.expect("json");
        let id = app["id"].as_str().expect("id").to_owned();
        let r = self
            .http
            .post(self.url(n, &format!("/admin/v1/external-applications/{id}/client-secret/reveal")))
            .bearer_auth(admin)
            .json(&json!({"password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "reveal");
        let secret = r.json::<Value>().await.expect("json")["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        (id, app["client_id"].as_str().expect("client_id").to_owned(), secret)
    }

    async fn token_status(&self, n: usize, client_id: &str, secret: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(n, "/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .expect("send");
        (r.status().as_u16(), r.json().await.expect("json"))
    }

    async fn token(&self, n: usize, client_id: &str, secret: &str) -> String {
        let (status, body) = self.token_status(n, client_id, secret).await;
        assert_eq!(status, 200, "token from replica {n}: {body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    async fn me_status(&self, n: usize, token: &str) -> u16 {
        self.http
            .get(self.url(n, "/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    }
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().expect("header");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("b64"),
    )
    .expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_one_replica_is_accepted_by_the_other() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.admin_session(0).await;
    let (_, client_id, secret) = cluster.register(0, &admin, "Replica Partner").await;
    let from_0 = cluster.token(0, &client_id, &secret).await;
    let from_1 = cluster.token(1, &client_id, &secret).await;
    for (issued_by, token) in [(0, &from_0), (1, &from_1)] {
        for n in 0..2 {
            assert_eq!(
                cluster.me_status(n, token).await,
                200,
                "token of replica {issued_by} at replica {n}"
            );
        }
    }
    // An admin session from one replica works on the other too.
    let r = cluster
        .http
        .get(cluster.url(1, "/admin/v1/external-applications"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_disabled_through_one_replica_is_refused_by_both_within_five_seconds() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.admin_session(0).await;
    let (id, client_id, secret) = cluster.register(0, &admin, "Disabled Partner").await;
    let token = cluster.token(1, &client_id, &secret).await;
    // Both replicas have the token and the client cached as valid.
    for n in 0..2 {
        assert_eq!(cluster.me_status(n, &token).await, 200, "replica {n} before");
        assert_eq!(
            cluster.token_status(n, &client_id, &secret).await.0,
            200,
            "replica {n} before"
        );
    }
    let r = cluster
        .http
        .patch(cluster.url(0, &format!("/admin/v1/external-applications/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "disable through replica 0");
    let disabled_at = Instant::now();
    // The replica that made the change refuses at once.
    assert_eq!(cluster.me_status(0, &token).await, 401, "replica 0 at once");
    for n in 0..2 {
        within_propagation(&format!("a disable, at replica {n}"), disabled_at, || async {
            let me = cluster.me_status(n, &token).await;
            let (grant, body) = cluster.token_status(n, &client_id, &secret).await;
            match (me, grant) {
                (401, 401) => {
                    assert_eq!(body["error"], "invalid_client");
                    true
                }
                (200 | 401, 200 | 401) => false,
                other => panic!("replica {n} answered {other:?}"),
            }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_with_the_cli_reaches_both_replicas() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.admin_session(0).await;
    let (_, client_id, secret) = cluster.register(0, &admin, "Rotation Partner").await;
    let old = cluster.token(0, &client_id, &secret).await;
    let output = Command::new(env!("CARGO_BIN_EXE_casebook"))
        .args(["keys", "rotate"])
        .env("CASEBOOK_DATABASE_URL", &cluster.database_url)
        .env("CASEBOOK_MASTER_KEY", &cluster.master_key)
        .env("CASEBOOK_LOG", "warn")
        .output()
        .expect("run casebook keys rotate");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let rotated_at = Instant::now();
    // Each replica signs with the new key within 5 s (plus a poll's slack).
    let mut fresh = Vec::new();
    for n in 0..2 {
        loop {
            let token = cluster.token(n, &client_id, &secret).await;
            if kid_of(&token) != kid_of(&old) {
                fresh.push(token);
                break;
            }
            assert!(
                rotated_at.elapsed() < PROPAGATION + Duration::from_secs(2),
                "replica {n} still signs with the retired key"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert_eq!(kid_of(&fresh[0]), kid_of(&fresh[1]), "one current key for the install");
    for n in 0..2 {
        for token in [&old, &fresh[0], &fresh[1]] {
            assert_eq!(cluster.me_status(n, token).await, 200, "replica {n}");
        }
        let jwks: Value = cluster
            .http
            .get(cluster.url(n, "/.well-known/jwks.json"))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        assert!(
            kids.contains(&kid_of(&old).as_str()) && kids.contains(&kid_of(&fresh[0]).as_str()),
            "replica {n}: {kids:?}"
        );
    }
}

/// Polls `settled` every 100 ms until it holds, failing once SPEC's 5 s
/// have passed since the change was made.
async fn within_propagation<F, Fut>(what: &str, since: Instant, mut settled: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while !settled().await {
        assert!(since.elapsed() < PROPAGATION, "{what}: not seen after {PROPAGATION:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_rotation_and_role_changes_through_one_replica_hold_on_the_other() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.admin_session(0).await;
    let (id, client_id, secret) = cluster.register(0, &admin, "Changing Partner").await;
    let token = cluster.token(1, &client_id, &secret).await;
    // Replica 1 has the token and the client cached as valid.
    assert_eq!(cluster.me_status(1, &token).await, 200);
    assert_eq!(cluster.token_status(1, &client_id, &secret).await.0, 200);

    // A token revoked through replica 0.
    let r = cluster
        .http
        .post(cluster.url(0, "/oauth2/revoke"))
        .form(&[
            ("token", token.as_str()),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "revoke");
    within_propagation("a revocation", Instant::now(), || async {
        cluster.me_status(1, &token).await == 401
    })
    .await;

    // A role given a new permission through replica 0: new tokens from
    // replica 1 carry it.
    let r = cluster
        .http
        .patch(cluster.url(0, "/admin/v1/roles/engage-worker"))
        .bearer_auth(&admin)
        .json(&json!({"permissions": ["engage:view", "engage:create", "intake:view"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "role change");
    within_propagation("a role change", Instant::now(), || async {
        let (status, body) = cluster.token_status(1, &client_id, &secret).await;
        assert_eq!(status, 200, "{body}");
        body["scope"]
            .as_str()
            .is_some_and(|s| s.split(' ').any(|p| p == "intake:view"))
    })
    .await;

    // A secret rotated through replica 0 with no grace period.
    let r = cluster
        .http
        .post(cluster.url(0, &format!("/admin/v1/external-applications/{id}/client-secret/rotate")))
        .bearer_auth(&admin)
        .json(&json!({"password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "rotate");
    let new_secret = r.json::<Value>().await.expect("json")["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    within_propagation("a rotation", Instant::now(), || async {
        cluster.token_status(1, &client_id, &secret).await.0 == 401
    })
    .await;
    assert_eq!(cluster.token_status(1, &client_id, &new_secret).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_taken_away_through_one_replica_stops_live_tokens_on_both() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.admin_session(0).await;
    let (id, client_id, secret) = cluster.register(0, &admin, "Downgraded Partner").await;
    let token = cluster.token(1, &client_id, &secret).await;
    let create_status = |n: usize| {
        let token = token.clone();
        let cluster = &cluster;
        async move {
            cluster
                .http
                .post(cluster.url(n, "/api/v1/engage/cases"))
                .bearer_auth(&token)
                .json(&json!({"title": "Referral"}))
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        }
    };
    for n in 0..2 {
        assert_eq!(create_status(n).await, 201, "replica {n} before the change");
    }
    // engage-worker is the application's only role; Auditor grants no create.
    let r = cluster
        .http
        .patch(cluster.url(0, &format!("/admin/v1/external-applications/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"roles": ["auditor"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "role change");
    let changed_at = Instant::now();
    for n in [1, 0] {
        within_propagation(&format!("a downgrade, at replica {n}"), changed_at, || async {
            create_status(n).await == 403
        })
        .await;
    }
}
