//! Two servers on one PostgreSQL database are one install (the contract's "Caches and replicas"): a token
//! from one is accepted by the other, and a change made through one holds on
//! both within 5 seconds.
//!
//! Each replica is a server of its own ([`TestApp::replica`]): its own
//! caches, key ring, revoked set and generation poll, sharing only the
//! database and the master key, as two `casebook serve` processes do.
//! PostgreSQL only, where replicas run (the contract, "Caches and replicas"); an unreachable PostgreSQL skips
//! these tests loudly, except under `CI=true`, where it fails them.

use casebook_tests::casebook_server::config::Backend;
use casebook_tests::casebook_server::crypto::MasterKey;
use casebook_tests::casebook_server::{db::Db, keys};
use casebook_tests::{ADMIN_PASSWORD, TestApp, id_of, kid_of};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The contract's bound ("Caches and replicas") on how long a change may take to reach every replica.
const PROPAGATION: Duration = Duration::from_secs(5);

/// Two replicas and their database.
struct Cluster {
    replicas: [TestApp; 2],
}

impl Cluster {
    /// A fresh database and two replicas serving it; `None` when PostgreSQL is
    /// unreachable outside CI.
    async fn start() -> Option<Self> {
        // The first replica migrates and creates the administrator; the second joins.
        let first = TestApp::spawn(Backend::Postgres).await?;
        let second = first.replica().await;
        Some(Self {
            replicas: [first, second],
        })
    }

    fn at(&self, n: usize) -> &TestApp {
        &self.replicas[n]
    }

    /// Registers an application through replica `n`; returns `(id, client_id, secret)`.
    async fn register(&self, n: usize, admin: &str, name: &str) -> (String, String, String) {
        let (app, client_id, secret) = self.at(n).partner(admin, name, &["engage-worker"]).await;
        (id_of(&app), client_id, secret)
    }

    async fn token_status(&self, n: usize, client_id: &str, secret: &str) -> (u16, Value) {
        let r = self.at(n).token_response(client_id, secret, None).await;
        (r.status().as_u16(), r.json().await.expect("json"))
    }

    async fn token(&self, n: usize, client_id: &str, secret: &str) -> String {
        let (status, body) = self.token_status(n, client_id, secret).await;
        assert_eq!(status, 200, "token from replica {n}: {body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    async fn me_status(&self, n: usize, token: &str) -> u16 {
        self.at(n).get("/api/v1/me", token).await.status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_one_replica_is_accepted_by_the_other() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.at(0).admin_token().await;
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
    let r = cluster.at(1).get("/admin/v1/external-applications", &admin).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_disabled_through_one_replica_is_refused_by_both_within_five_seconds() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.at(0).admin_token().await;
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
        .at(0)
        .patch_json(
            &format!("/admin/v1/external-applications/{id}"),
            &admin,
            &json!({"enabled": false}),
        )
        .await;
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
async fn a_key_rotated_outside_the_replicas_reaches_both() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.at(0).admin_token().await;
    let (_, client_id, secret) = cluster.register(0, &admin, "Rotation Partner").await;
    let old = cluster.token(0, &client_id, &secret).await;
    // What `casebook keys rotate` does, on a connection of its own: neither
    // replica's key ring hears of the new key but through the database.
    let (url, master) = (&cluster.at(0).db.url, &cluster.at(0).master_key);
    let master = MasterKey::from_base64(master).expect("master key");
    let db = Db::connect(url, Backend::Postgres).await.expect("connect");
    keys::KeyRing::load(
        casebook_tests::casebook_server::store::Scope::root(db.clone()),
        master.clone(),
        Default::default(),
    )
    .await
    .expect("load keys");
    keys::rotate(
        &casebook_tests::casebook_server::store::Scope::root(db.clone()),
        &master,
        Default::default(),
    )
    .await
    .expect("rotate");
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
        let jwks = cluster.at(n).public_json("/.well-known/jwks.json").await;
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

/// Polls `settled` every 100 ms until it holds, failing once the contract's 5 s ("Caches and replicas")
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
    let admin = cluster.at(0).admin_token().await;
    let (id, client_id, secret) = cluster.register(0, &admin, "Changing Partner").await;
    let token = cluster.token(1, &client_id, &secret).await;
    // Replica 1 has the token and the client cached as valid.
    assert_eq!(cluster.me_status(1, &token).await, 200);
    assert_eq!(cluster.token_status(1, &client_id, &secret).await.0, 200);

    // A token revoked through replica 0.
    let r = cluster
        .at(0)
        .http
        .post(cluster.at(0).url("/oauth2/revoke"))
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
        .at(0)
        .patch_json(
            "/admin/v1/roles/engage-worker",
            &admin,
            &json!({"permissions": ["engage:view", "engage:create", "intake:view"]}),
        )
        .await;
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
        .at(0)
        .post_json(
            &format!("/admin/v1/external-applications/{id}/client-secret/rotate"),
            &admin,
            &json!({"password": ADMIN_PASSWORD}),
        )
        .await;
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
    let admin = cluster.at(0).admin_token().await;
    let (id, client_id, secret) = cluster.register(0, &admin, "Downgraded Partner").await;
    let token = cluster.token(1, &client_id, &secret).await;
    let create_status = |n: usize| {
        let token = token.clone();
        let cluster = &cluster;
        async move {
            cluster
                .at(n)
                .post_json("/api/v1/engage/cases", &token, &json!({"title": "Referral"}))
                .await
                .status()
                .as_u16()
        }
    };
    for n in 0..2 {
        assert_eq!(create_status(n).await, 201, "replica {n} before the change");
    }
    // engage-worker is the application's only role; Auditor grants no create.
    let r = cluster
        .at(0)
        .patch_json(
            &format!("/admin/v1/external-applications/{id}"),
            &admin,
            &json!({"roles": ["auditor"]}),
        )
        .await;
    assert_eq!(r.status(), 200, "role change");
    let changed_at = Instant::now();
    for n in [1, 0] {
        within_propagation(&format!("a downgrade, at replica {n}"), changed_at, || async {
            create_status(n).await == 403
        })
        .await;
    }
}
