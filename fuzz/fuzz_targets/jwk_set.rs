//! JWK Sets: the strict rule of a registered `jwks` (`ClientKeySet::parse`)
//! and the lenient one of a fetched set (`ClientKeySet::parse_fetched`).
//!
//! Properties: an accepted set's `to_json()` reads again, by the same rule,
//! to an equal set, and is itself a fixed point; what the strict rule
//! accepts the lenient one reads the same, dropping nothing; a fetched set
//! small enough to register passes the strict rule once written; a set with
//! any private member is refused by both; no accepted key is degenerate
//! (an RSA exponent other than 65537, an even modulus, an Ed25519 point of
//! small order or not reduced); each key is the one its `kid` selects.

#![no_main]

use casebook_domain::client_keys::{ClientKeySet, FetchedSet, KeyMaterial, MAX_KEYS, degenerate};
use casebook_fuzz::{Input, JwkSetSpec, input};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::collections::HashSet;

/// Members only a private or symmetric key has.
const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fuzz_target!(|data: &[u8]| {
    let value = match input::<JwkSetSpec>(data) {
        None => return,
        Some(Input::Raw(bytes)) => match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => value,
            Err(_) => return,
        },
        Some(Input::Built(spec)) => spec.to_value(),
    };
    check(&value);
});

fn check(value: &Value) {
    let strict = ClientKeySet::parse(value);
    let fetched = ClientKeySet::parse_fetched(value);

    let leaks = value.get("keys").and_then(Value::as_array).is_some_and(|keys| {
        keys.iter()
            .filter_map(Value::as_object)
            .any(|jwk| PRIVATE.iter().any(|m| jwk.contains_key(*m)))
    });
    if leaks {
        assert!(strict.is_err(), "a registered set with private material is accepted");
        assert!(fetched.is_err(), "a fetched set with private material is accepted");
    }
    if let Err(errors) = &strict {
        assert!(!errors.errors().is_empty(), "a refusal without a reason");
    }

    if let Ok(set) = &strict {
        assert!((1..=MAX_KEYS).contains(&set.keys().len()));
        round_trips(set);
        let json = set.to_json();
        assert_eq!(ClientKeySet::parse(&json).as_ref(), Ok(set), "{json}");
        assert_eq!(
            fetched.as_ref().ok(),
            Some(&whole(set)),
            "the lenient rule reads a registered set otherwise"
        );
    }
    if let Ok(FetchedSet { keys: set, .. }) = &fetched {
        assert!(!set.keys().is_empty());
        round_trips(set);
        let json = set.to_json();
        assert_eq!(ClientKeySet::parse_fetched(&json).ok(), Some(whole(set)), "{json}");
        if set.keys().len() <= MAX_KEYS {
            assert_eq!(
                ClientKeySet::parse(&json).as_ref(),
                Ok(set),
                "a fetched set fails the registered rule once written: {json}"
            );
        }
    }
}

/// A fetched set that kept every key.
fn whole(set: &ClientKeySet) -> FetchedSet {
    FetchedSet {
        keys: set.clone(),
        dropped_weak: Vec::new(),
    }
}

/// The values of y (sign bit cleared) of the Ed25519 points of small order:
/// 0, 1, p - 1 and the two of order 8, as libsodium's blocklist has them.
fn small_order(y: &[u8; 32]) -> bool {
    const ORDER_8: [[u8; 32]; 2] = [
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf,
            0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20,
            0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
        ],
    ];
    let small = |low: u8| y[0] == low && y[1..].iter().all(|b| *b == 0);
    let p_minus_one = y[0] == 0xec && y[1..31].iter().all(|b| *b == 0xff) && y[31] == 0x7f;
    small(0) || small(1) || p_minus_one || ORDER_8.contains(y)
}

/// Whether y (sign bit cleared, little-endian) is at least p = 2^255 - 19.
fn unreduced(y: &[u8; 32]) -> bool {
    y[31] == 0x7f && y[1..31].iter().all(|b| *b == 0xff) && y[0] >= 0xed
}

fn round_trips(set: &ClientKeySet) {
    let json = set.to_json();
    let again = ClientKeySet::parse_fetched(&json).expect("a written set reads again");
    assert_eq!(again.keys.to_json(), json, "to_json is not a fixed point");
    let mut kids = HashSet::new();
    for key in set.keys() {
        assert_eq!(degenerate(&key.material), None, "an accepted key is degenerate: {json}");
        match &key.material {
            KeyMaterial::Rsa { n, e } => {
                assert_eq!(e.as_slice(), [1, 0, 1], "an RSA exponent other than 65537");
                assert!(n.last().is_some_and(|low| low % 2 == 1), "an even RSA modulus");
            }
            KeyMaterial::Ed25519 { x } => {
                let mut y: [u8; 32] = x.as_slice().try_into().expect("an Ed25519 key is 32 bytes");
                y[31] &= 0x7f;
                assert!(!small_order(&y), "an Ed25519 point of small order: {json}");
                assert!(!unreduced(&y), "an Ed25519 y not reduced modulo p: {json}");
            }
            KeyMaterial::P256 { x, y } => assert!(x.len() == 32 && y.len() == 32),
        }
        assert!(kids.insert(key.kid.as_str()), "kid {:?} twice", key.kid);
        assert_eq!(set.select(Some(&key.kid)), Some(key));
        if let Some(alg) = key.alg {
            assert!(key.accepts(alg), "a key refuses its own alg");
        }
    }
    if let [only] = set.keys() {
        assert_eq!(set.select(None), Some(only));
    } else {
        assert_eq!(set.select(None), None);
    }
}
