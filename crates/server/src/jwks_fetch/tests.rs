//! The cache's decisions, as a plain function of what it holds and the time.

use super::*;
use serde_json::json;

fn set(kids: &[&str]) -> ClientKeySet {
    let keys: Vec<_> = kids
        .iter()
        .map(|kid| json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"}))
        .collect();
    ClientKeySet::parse_fetched(&json!({ "keys": keys }))
        .expect("a set")
        .keys
}

fn fetched(entry: &mut Entry, kids: &[&str], for_unknown_kid: bool, at: Instant) {
    if for_unknown_kid {
        entry.kid_refetch = Some(at);
    }
    entry.record(Ok(set(kids)), at, &Limits::default()).expect("recorded");
}

fn kids(plan: Plan) -> Option<Vec<String>> {
    match plan {
        Plan::Use(keys) => Some(keys.keys().iter().map(|k| k.kid.clone()).collect()),
        _ => None,
    }
}

const SEC: Duration = Duration::from_secs(1);

#[test]
fn the_limits_are_specs() {
    let limits = Limits::default();
    assert_eq!(limits.timeout, 5 * SEC);
    assert_eq!(limits.max_bytes, 65_536);
    assert_eq!(limits.max_age, 300 * SEC);
    assert_eq!(limits.refetch_after, 60 * SEC);
}

#[test]
fn a_fresh_set_is_used_until_it_is_five_minutes_old() {
    let limits = Limits::default();
    let start = Instant::now();
    let mut entry = Entry::default();
    assert!(matches!(
        entry.plan(Some("a"), start, &limits),
        Plan::Fetch { for_unknown_kid: false }
    ));
    fetched(&mut entry, &["a"], false, start);
    assert_eq!(
        kids(entry.plan(Some("a"), start + 299 * SEC, &limits)),
        Some(vec!["a".into()])
    );
    assert_eq!(
        kids(entry.plan(None, start + 299 * SEC, &limits)),
        Some(vec!["a".into()])
    );
    assert!(matches!(
        entry.plan(Some("a"), start + 300 * SEC, &limits),
        Plan::Fetch { for_unknown_kid: false }
    ));
}

#[test]
fn an_unknown_kid_refetches_at_most_once_a_minute() {
    let limits = Limits::default();
    let start = Instant::now();
    let mut entry = Entry::default();
    fetched(&mut entry, &["a"], false, start);
    // The first unknown kid fetches at once: a rotation is seen at once.
    assert!(matches!(
        entry.plan(Some("b"), start + SEC, &limits),
        Plan::Fetch { for_unknown_kid: true }
    ));
    fetched(&mut entry, &["b"], true, start + SEC);
    // Another inside the minute gets the set in hand, which lacks it.
    assert_eq!(
        kids(entry.plan(Some("c"), start + 60 * SEC, &limits)),
        Some(vec!["b".into()])
    );
    assert!(matches!(
        entry.plan(Some("c"), start + 61 * SEC, &limits),
        Plan::Fetch { for_unknown_kid: true }
    ));
}

#[test]
fn a_failure_is_remembered_briefly_and_a_failed_refetch_keeps_the_set() {
    let limits = Limits::default();
    let start = Instant::now();
    let mut entry = Entry::default();
    let failed = entry.record(Err(FetchError::Status(500)), start, &limits);
    assert_eq!(failed.unwrap_err(), FetchError::Status(500));
    assert!(matches!(
        entry.plan(None, start + 9 * SEC, &limits),
        Plan::Fail(FetchError::Status(500))
    ));
    assert!(matches!(
        entry.plan(None, start + 10 * SEC, &limits),
        Plan::Fetch { .. }
    ));
    fetched(&mut entry, &["a"], false, start + 10 * SEC);
    entry.kid_refetch = Some(start + 20 * SEC);
    let kept = entry.record(Err(FetchError::Timeout), start + 20 * SEC, &limits);
    assert_eq!(kept.expect("the set in hand").keys()[0].kid, "a");
    assert_eq!(
        kids(entry.plan(Some("a"), start + 21 * SEC, &limits)),
        Some(vec!["a".into()])
    );
}

#[test]
fn an_address_written_in_the_url_is_checked_before_any_connection() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fetcher = JwksFetcher::new(&JwksFetchConfig::default(), Limits::default(), &Metrics::new()).expect("fetcher");
    for (raw, ip) in [
        ("https://127.0.0.1:1/jwks", "127.0.0.1"),
        ("https://[::1]:1/jwks", "::1"),
        ("https://169.254.169.254/latest", "169.254.169.254"),
    ] {
        // Stored before the setting changed, say: the fetcher still refuses.
        let uri = JwksUri::parse("jwks_uri", raw, true).expect("a URL");
        let got = runtime.block_on(fetcher.keys(&uri, None));
        assert_eq!(
            got.unwrap_err(),
            FetchError::PrivateAddress(ip.parse().unwrap()),
            "{raw}"
        );
    }
    assert_eq!(fetcher.fetches.get(), 0, "nothing was sent");
}

#[test]
fn a_name_that_resolves_only_to_private_addresses_finds_nothing_to_connect_to() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fetcher = JwksFetcher::new(&JwksFetchConfig::default(), Limits::default(), &Metrics::new()).expect("fetcher");
    let uri = JwksUri::parse("jwks_uri", "https://localhost:1/jwks", false).expect("a URL");
    match runtime.block_on(fetcher.keys(&uri, None)) {
        Err(FetchError::Transport(why)) => assert!(why.contains("resolves to no public address"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_or_empty_ca_file_is_a_configuration_error() {
    let missing = JwksFetchConfig {
        allow_private: false,
        extra_ca_file: Some("/nonexistent/ca.pem".into()),
    };
    let error = JwksFetcher::new(&missing, Limits::default(), &Metrics::new()).unwrap_err();
    assert!(error.to_string().contains("CASEBOOK_EXTRA_CA_FILE"), "{error}");
    let dir = std::env::temp_dir().join(format!("cb-ca-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let config = JwksFetchConfig {
        allow_private: false,
        extra_ca_file: Some(empty),
    };
    assert!(JwksFetcher::new(&config, Limits::default(), &Metrics::new()).is_err());
    std::fs::remove_dir_all(dir).ok();
}
