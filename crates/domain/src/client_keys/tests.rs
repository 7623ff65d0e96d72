use super::*;
use crate::validation::ErrorCode::{self, *};
use proptest::prelude::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_of(bits: usize) -> Value {
    let mut n = vec![0xffu8; bits.div_ceil(8)];
    if !bits.is_multiple_of(8) {
        n[0] = (1u8 << (bits % 8)) - 1;
    }
    json!({"kty": "RSA", "kid": format!("rsa{bits}"), "n": b64(&n), "e": "AQAB"})
}

fn ec(kid: &str) -> Value {
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&[1; 32]), "y": b64(&[2; 32])})
}

fn ed(kid: &str) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&[3; 32])})
}

fn codes(keys: Vec<Value>) -> Vec<ErrorCode> {
    match ClientKeySet::parse(&json!({ "keys": keys })) {
        Ok(_) => vec![],
        Err(e) => e.into_errors().into_iter().map(|e| e.code).collect(),
    }
}

#[test]
fn each_supported_kind_of_key_is_accepted_and_stored_public_only() {
    let set = ClientKeySet::parse(&json!({"keys": [rsa_of(2048), ec("e"), ed("o")]})).unwrap();
    assert_eq!(set.keys().len(), 3);
    let shown = set.to_json();
    for jwk in shown["keys"].as_array().unwrap() {
        for member in PRIVATE_MEMBERS {
            assert!(jwk.get(member).is_none());
        }
        assert_eq!(jwk["use"], "sig");
    }
    assert_eq!(ClientKeySet::parse(&shown).unwrap(), set, "the stored form reads back");
}

#[test]
fn private_members_are_refused_by_name_never_by_value() {
    for member in PRIVATE_MEMBERS {
        let mut key = ec("e");
        key[member] = json!("c2VjcmV0LXZhbHVl");
        let errors = ClientKeySet::parse(&json!({"keys": [key]})).unwrap_err();
        assert_eq!(errors.errors().len(), 1);
        let error = &errors.errors()[0];
        assert_eq!((error.field.as_str(), error.code), ("jwks", PrivateKeyMaterial));
        assert!(error.message.contains(member) && !error.message.contains("c2VjcmV0"));
    }
    let oct = json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"});
    assert_eq!(codes(vec![oct]), [PrivateKeyMaterial]);
}

#[test]
fn one_to_five_keys_each_with_its_own_kid() {
    assert_eq!(codes(vec![]), [Required]);
    let five: Vec<Value> = (0..5).map(|i| ed(&format!("k{i}"))).collect();
    assert_eq!(codes(five.clone()), []);
    let mut six = five;
    six.push(ed("k5"));
    assert_eq!(codes(six), [TooLong]);
    assert_eq!(codes(vec![ed("same"), ec("same")]), [DuplicateKid]);
    let mut no_kid = ed("x");
    no_kid.as_object_mut().unwrap().remove("kid");
    assert_eq!(codes(vec![no_kid]), [Required]);
    assert_eq!(codes(vec![ed("")]), [Required]);
    assert_eq!(codes(vec![ed(&"k".repeat(129))]), [TooLong]);
    assert!(ClientKeySet::parse(&json!([ed("a")])).is_err());
    assert!(ClientKeySet::parse(&json!({"keys": "no"})).is_err());
}

#[test]
fn rsa_keys_are_2048_to_8192_bits_with_a_sane_exponent() {
    assert_eq!(codes(vec![rsa_of(2047)]), [WeakKey]);
    assert_eq!(codes(vec![rsa_of(1024)]), [WeakKey]);
    assert_eq!(codes(vec![rsa_of(2048)]), []);
    assert_eq!(codes(vec![rsa_of(4096)]), []);
    assert_eq!(codes(vec![rsa_of(8193)]), [UnsupportedKey]);
    for (e, code) in [
        ("AA", InvalidValue),
        ("AAEAAQ", InvalidValue),
        ("Ag", WeakKey),
        ("AQ", WeakKey),
        ("Aw", WeakKey),
        ("AQAAAAAAAAAAAQ", WeakKey),
    ] {
        let mut key = rsa_of(2048);
        key["e"] = json!(e);
        assert_eq!(codes(vec![key]), [code], "e = {e}");
    }
    let mut even = rsa_of(2048);
    let mut n = URL_SAFE_NO_PAD.decode(even["n"].as_str().unwrap()).unwrap();
    *n.last_mut().unwrap() = 0xfe;
    even["n"] = json!(b64(&n));
    assert_eq!(codes(vec![even]), [WeakKey], "even modulus");
    let mut padded = rsa_of(2048);
    let n = format!("AA{}", padded["n"].as_str().unwrap());
    padded["n"] = json!(n);
    assert!(!codes(vec![padded]).is_empty(), "leading zero or bad base64");
}

#[test]
fn curves_and_types_outside_the_three_are_unsupported() {
    let mut p384 = ec("e");
    p384["crv"] = json!("P-384");
    assert_eq!(codes(vec![p384]), [UnsupportedKey]);
    let mut x25519 = ed("o");
    x25519["crv"] = json!("X25519");
    assert_eq!(codes(vec![x25519]), [UnsupportedKey]);
    let mut short = ec("e");
    short["x"] = json!(b64(&[1; 31]));
    assert_eq!(codes(vec![short]), [InvalidValue]);
    let mut padded = ed("o");
    padded["x"] = json!(format!("{}=", b64(&[3; 32])));
    assert_eq!(codes(vec![padded]), [InvalidValue]);
    let mut enc = ed("o");
    enc["use"] = json!("enc");
    assert_eq!(codes(vec![enc]), [InvalidValue]);
}

#[test]
fn the_weak_ed25519_keys_an_attacker_registers_are_refused() {
    for x in [
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let key = json!({"kty": "OKP", "crv": "Ed25519", "kid": "z", "x": x});
        assert_eq!(codes(vec![key]), [WeakKey], "x = {x}");
    }
}

#[test]
fn a_stored_set_keeps_a_key_a_later_rule_calls_degenerate() {
    let weak = json!({"kty": "OKP", "crv": "Ed25519", "kid": "z", "x": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
    let stored = json!({"keys": [weak, ed("o")]});
    let set = ClientKeySet::parse_stored(&stored).unwrap();
    assert_eq!(set.keys().len(), 2);
    assert!(degenerate(&set.keys()[0].material).is_some(), "the server refuses it at verification");
    assert!(ClientKeySet::parse(&stored).is_err());
}

#[test]
fn key_ops_and_certificates_are_refused_at_registration() {
    let mut encrypt = ed("o");
    encrypt["key_ops"] = json!(["encrypt"]);
    assert_eq!(codes(vec![encrypt]), [InvalidValue]);
    let mut verify = ed("o");
    verify["key_ops"] = json!(["verify"]);
    assert_eq!(codes(vec![verify]), []);
    let mut chained = rsa_of(2048);
    chained["x5c"] = json!(["MIIB"]);
    assert_eq!(codes(vec![chained]), [UnsupportedKey]);
}

#[test]
fn a_keys_own_alg_binds_it() {
    let mut rsa = rsa_of(2048);
    rsa["alg"] = json!("PS256");
    let set = ClientKeySet::parse(&json!({"keys": [rsa]})).unwrap();
    let key = &set.keys()[0];
    assert!(key.accepts(AssertionAlg::Ps256));
    assert!(!key.accepts(AssertionAlg::Rs256));
    let mut wrong = ec("e");
    wrong["alg"] = json!("RS256");
    assert_eq!(codes(vec![wrong]), [UnsupportedKey]);
    let mut hmac = ed("o");
    hmac["alg"] = json!("HS256");
    assert_eq!(codes(vec![hmac]), [UnsupportedKey]);
}

#[test]
fn each_algorithm_fits_its_one_kind_of_key() {
    let set = ClientKeySet::parse(&json!({"keys": [rsa_of(2048), ec("e"), ed("o")]})).unwrap();
    let accepted: Vec<Vec<&str>> = set
        .keys()
        .iter()
        .map(|k| {
            AssertionAlg::ALL
                .into_iter()
                .filter(|a| k.accepts(*a))
                .map(AssertionAlg::as_str)
                .collect()
        })
        .collect();
    assert_eq!(accepted, [vec!["RS256", "PS256"], vec!["ES256"], vec!["EdDSA"]]);
}

#[test]
fn a_key_is_selected_by_kid_or_as_the_only_one() {
    let one = ClientKeySet::parse(&json!({"keys": [ed("a")]})).unwrap();
    assert_eq!(one.select(None).map(|k| k.kid.as_str()), Some("a"));
    assert_eq!(one.select(Some("b")), None);
    let two = ClientKeySet::parse(&json!({"keys": [ed("a"), ec("b")]})).unwrap();
    assert_eq!(two.select(None), None);
    assert_eq!(two.select(Some("b")).map(|k| k.kid.as_str()), Some("b"));
}

#[test]
fn auth_methods_round_trip() {
    for m in AuthMethod::ALL {
        assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
    }
    assert!(AuthMethod::field("client_secret_post").is_err());
}

proptest! {
    #[test]
    fn rsa_size_rule_holds_for_every_size(bits in 8usize..9000) {
        let got = codes(vec![rsa_of(bits)]);
        let want: Vec<ErrorCode> = if bits < MIN_RSA_BITS {
            vec![WeakKey]
        } else if bits > MAX_RSA_BITS {
            vec![UnsupportedKey]
        } else {
            vec![]
        };
        prop_assert_eq!(got, want);
    }

    #[test]
    fn no_json_panics_the_key_rules(key in proptest::collection::btree_map("[a-z]{1,3}", "[A-Za-z0-9_-]{0,50}", 0..8)) {
        let key: Map<String, Value> = key.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let _ = ClientKeySet::parse(&json!({"keys": [key]}));
    }
}
