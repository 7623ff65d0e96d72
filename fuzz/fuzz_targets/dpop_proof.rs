//! A DPoP proof as a client sends it in the `DPoP` header
//! (`casebook_domain::dpop::judge::Proof`), judged for a token request and
//! for an API call.
//!
//! Properties: nothing panics; a proof accepted for one request is refused
//! for another method, another URL, and (at an API) another token; what is
//! accepted names a SHA-256 thumbprint and a `jti` within the ledger's
//! rule, remembered past the last second the proof is accepted.

#![no_main]

use casebook_domain::dpop::judge::{Expected, Proof, Refused};
use casebook_domain::dpop::{WINDOW_SECS, thumbprint};
use casebook_domain::jws::acceptable_jti;
use casebook_domain::time::Timestamp;
use casebook_fuzz::NOW;
use libfuzzer_sys::fuzz_target;

const URL: &str = "https://casebook.example/t/agency/oauth2/token";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(Proof::from_headers(&[data]).is_err());
        return;
    };
    let Ok(proof) = Proof::parse(text) else { return };
    let now = Timestamp::from_unix_secs(NOW);
    let expected = Expected {
        method: "POST",
        url: URL,
        bound: None,
    };
    let never: &dyn Fn(&str) -> bool = &|_| false;
    if let Ok(accepted) = proof.check(&expected, now, None) {
        assert_eq!(accepted.jkt, thumbprint(&proof.key().material));
        assert_eq!(accepted.jkt.len(), 43, "a SHA-256 in base64url");
        assert!(acceptable_jti(&accepted.jti));
        assert!(accepted.remember_until > NOW - WINDOW_SECS);
        for other in [
            Expected { method: "GET", ..expected },
            Expected { url: "https://casebook.example/t/other/oauth2/token", ..expected },
        ] {
            assert!(proof.check(&other, now, None).is_err());
        }
        assert_eq!(proof.check(&expected, now, Some(never)), Err(Refused::NonceNeeded));
        let at_api = Expected {
            bound: Some(("an access token", &accepted.jkt)),
            ..expected
        };
        let elsewhere = Expected {
            bound: Some(("another access token", &accepted.jkt)),
            ..expected
        };
        if proof.check(&at_api, now, None).is_ok() {
            assert_eq!(proof.check(&elsewhere, now, None), Err(Refused::TokenHash));
        }
    }
});
