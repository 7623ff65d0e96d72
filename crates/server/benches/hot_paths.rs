//! Micro-benchmarks of the token service's hot paths:
//! `cargo bench -p casebook-server --bench hot_paths`.
//!
//! - the client secret check as the token endpoint makes it (one keyed HMAC
//!   of the presented secret, a constant-time compare with each stored one);
//! - signing an access token with the current key, for each algorithm;
//! - verifying one: signature and claims against the cached verifying key
//!   (what a token costs the first time it is seen), for each algorithm, and the whole check
//!   when the verified token is cached (every later request carrying it);
//! - an `allowed_sources` check, and a grant counted against a quota far
//!   from its limit (both in memory).
//!
//! The SDK's cached-token path is the SDK's own bench:
//! `cargo bench -p casebook-sdk --bench token_cache`.
//!
//! The end-to-end figures come from `cargo xtask bench`.

use casebook_domain::application::{ApplicationFacts, ApplicationForm};
use casebook_domain::user::{Password, UserFacts, UserForm};
use casebook_domain::{AccountKind, ClientId, ClientSecret, SigningAlgorithm};
use casebook_server::client_auth::{SecretVerdict, check_secret};
use casebook_server::config::{Backend, Config};
use casebook_server::crypto::{MasterKey, random_bytes, random_token};
use casebook_server::db::Db;
use casebook_server::http::auth::verify_access_token;
use casebook_server::keys::{self, AccessClaims, KeyRing};
use casebook_server::metrics::Metrics;
use casebook_server::state::AppState;
use casebook_server::store::{self, ActorRef, Author};
use criterion::{Criterion, criterion_group, criterion_main};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const ISSUER: &str = "http://127.0.0.1:8080";

/// Polls a future that must not wait (a cache hit) to completion, with no
/// runtime in the measurement.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the cached path waited"),
    }
}

struct Fixture {
    state: AppState,
    token: String,
    claims: AccessClaims,
    client_id: String,
    secret: ClientSecret,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A scratch directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A real key ring and one registered application, on a scratch SQLite file.
async fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("casebook-hot-paths-{}", &random_token()[..10]));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let url = format!("sqlite://{}/bench.db", dir.display());
    let master = MasterKey::from_bytes(random_bytes());
    let db = Db::connect(&url, Backend::Sqlite).await.expect("database");
    store::seed_roles(&store::Scope::root(db.clone())).await.expect("roles");
    let keys = KeyRing::load(
        store::Scope::root(db.clone()),
        master.clone(),
        SigningAlgorithm::default(),
    )
    .await
    .expect("keys");
    let config = Config {
        public_url: ISSUER.to_owned(),
        cache_ttl: Duration::from_secs(3600),
        ..Config::local(url.clone(), master.clone())
    };
    let metrics = Metrics::new();
    let jwks = casebook_server::jwks_fetch::JwksFetcher::new(&config.jwks_fetch, Default::default(), &metrics)
        .expect("jwks fetcher");
    let state = AppState::new(
        db.clone(),
        config,
        keys,
        metrics,
        jwks,
        casebook_domain::ACCESS_TOKEN_LIFETIME_SECS,
    );
    let form = ApplicationForm::new("Bench partner", "bench@partner.example.com").roles(["engage-supervisor"]);
    let facts = ApplicationFacts {
        existing_roles: ["engage-supervisor".to_owned()].into(),
        email_holder: None,
        auth_method: None,
        allow_private_jwks_uri: false,
    };
    let app = form.validate(&facts).expect("valid registration");
    // The grant rule holds here too: the application is registered by an
    // administrator. The password hash is never checked by the benchmark.
    let administrator = UserForm::new(
        "bench-admin@agency.example.org",
        "Bench",
        Password::new("a long enough bench password"),
    )
    .roles(["administrator"])
    .validate(&UserFacts {
        existing_roles: ["administrator".to_owned()].into(),
        email_holder: None,
        current: None,
    })
    .expect("valid administrator");
    let administrator = store::create_user(
        &store::Scope::root(db.clone()),
        None,
        &administrator,
        store::FirstPassword::Hash("unused"),
    )
    .await
    .expect("administrator");
    let author = Author {
        actor: ActorRef {
            kind: AccountKind::User,
            id: administrator.id,
            name: administrator.name,
        },
        token_scope: None,
    };
    let client_id = ClientId::from_random(random_bytes());
    let secret = ClientSecret::from_random(random_bytes());
    store::create_application(
        &store::Scope::root(db.clone()),
        &master,
        &Default::default(),
        ISSUER,
        &author,
        &app,
        &client_id,
        &secret,
    )
    .await
    .expect("application");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = AccessClaims {
        generation: 0,
        iss: ISSUER.into(),
        sub: client_id.as_str().into(),
        aud: ISSUER.into(),
        exp: now + 3600,
        iat: now,
        jti: random_token(),
        client_id: client_id.as_str().into(),
        scope: "engage:create engage:edit engage:view".into(),
        cnf: None,
    };
    let token = state.keys().root().sign(&claims).expect("signed");
    // The first check goes to storage and fills the cache.
    verify_access_token(&state, state.root_tenant(), &token)
        .await
        .expect("the token verifies");
    Fixture {
        state,
        token,
        claims,
        client_id: client_id.as_str().to_owned(),
        secret,
        _dir: tempdir::Dir(dir),
    }
}

fn hot_paths(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let f = runtime.block_on(fixture());

    // The registered application's record, as the token endpoint reads it
    // (from its cache), and its secret presented.
    let record = runtime
        .block_on(store::client_record(f.state.db(), &f.client_id))
        .expect("database")
        .expect("the application");
    let policy = &f.state.config().secret_policy;
    let at = f.state.now();
    assert!(matches!(
        check_secret(f.state.master(), policy, &record, &f.secret, at),
        SecretVerdict::Accepted { .. }
    ));
    c.bench_function("client secret check (one HMAC-SHA256, constant-time compares)", |b| {
        b.iter(|| check_secret(f.state.master(), policy, &record, black_box(&f.secret), at))
    });

    let now = f.claims.iat;
    for alg in SigningAlgorithm::ALL {
        // A rotation makes the ring sign with `alg`, as `keys rotate --alg` would.
        let state = &f.state;
        runtime.block_on(async {
            keys::rotate(&store::Scope::root(state.db().clone()), state.master(), alg)
                .await
                .expect("rotate");
            state.keys().root().refresh().await.expect("refresh");
        });
        assert_eq!(state.keys().root().current_alg(), alg);
        c.bench_function(&format!("token signing ({alg} JWT, RFC 9068 claims)"), |b| {
            b.iter(|| state.keys().root().sign(black_box(&f.claims)))
        });
        let token = state.keys().root().sign(&f.claims).expect("signed");
        c.bench_function(
            &format!("token verification ({alg}: signature and claims, cached key)"),
            |b| b.iter(|| state.keys().root().verify(black_box(&token), ISSUER, now)),
        );
    }

    c.bench_function("access token check, verified token cached", |b| {
        b.iter(|| {
            ready(verify_access_token(
                &f.state,
                f.state.root_tenant(),
                black_box(&f.token),
            ))
            .expect("valid")
        })
    });

    // Where from: the address of the last of 50 networks, the worst a list can cost.
    let networks: Vec<String> = (0..50).map(|i| format!("10.{i}.0.0/16")).collect();
    let sources = casebook_domain::sources::AllowedSources::parse(&networks).expect("50 networks");
    let address: std::net::IpAddr = "10.49.1.2".parse().expect("address");
    c.bench_function("allowed_sources check (50 networks, the last matching)", |b| {
        b.iter(|| black_box(&sources).contains(black_box(address)))
    });

    // How many: a grant far from the quota, counted and taken back in
    // memory (the first grant read the shared count once, before this).
    let quota = casebook_domain::quota::TokenQuota::parse(1_000_000).expect("quota");
    let quotas = f.state.quotas();
    let grant = runtime
        .block_on(quotas.admit(&f.client_id, quota, now))
        .expect("first grant");
    if let casebook_server::quota::Verdict::Granted(grant) = grant {
        quotas.release(grant);
    }
    c.bench_function("token quota, a grant far from the limit (in memory)", |b| {
        b.iter(
            || match ready(quotas.admit(black_box(&f.client_id), quota, now)).expect("admitted") {
                casebook_server::quota::Verdict::Granted(grant) => quotas.release(grant),
                casebook_server::quota::Verdict::Refused { .. } => panic!("far from the quota"),
            },
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = hot_paths
}
criterion_main!(benches);
