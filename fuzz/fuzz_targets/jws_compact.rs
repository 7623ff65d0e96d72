//! A compact JWS as both of its readers take it: a client's assertion
//! (`Assertion::parse`) and an outside identity's token
//! (`OutsideToken::parse`).
//!
//! Property: whatever either accepts is three base64url parts whose header
//! and claims are JSON objects with no member given twice at any depth (two
//! readers keeping different copies would judge different tokens), whose
//! header has no `crit` at all (not even `null`), and whose accessors say
//! what the parts say.

#![no_main]

use casebook_domain::client_assertion::Assertion;
use casebook_domain::client_keys::AssertionAlg;
use casebook_domain::federated::OutsideToken;
use casebook_fuzz::{Compact, Input, b64url, input, strict_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = match input::<Compact>(data) {
        None => return,
        Some(Input::Raw(text)) => String::from_utf8_lossy(text).into_owned(),
        Some(Input::Built(built)) => built.encode(),
    };
    if let Ok(assertion) = Assertion::parse(&token) {
        let read = Read {
            alg: assertion.alg(),
            kid: assertion.kid(),
            signing_input: assertion.signing_input(),
            signature: assertion.signature(),
        };
        holds(&token, &read, "Assertion::parse");
    }
    if let Ok(outside) = OutsideToken::parse(&token) {
        let read = Read {
            alg: outside.alg(),
            kid: outside.kid(),
            signing_input: outside.signing_input(),
            signature: outside.signature(),
        };
        holds(&token, &read, "OutsideToken::parse");
    }
});

struct Read<'a> {
    alg: AssertionAlg,
    kid: Option<&'a str>,
    signing_input: &'a [u8],
    signature: &'a [u8],
}

fn holds(token: &str, read: &Read<'_>, reader: &str) {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        panic!("{reader} accepted {} parts", parts.len());
    };
    let decode = |part: &str| b64url(part).unwrap_or_else(|| panic!("{reader} accepted a part that is not base64url"));
    let (header_bytes, claims_bytes) = (decode(header), decode(claims));
    assert_eq!(read.signature, decode(signature).as_slice(), "{reader}: signature");
    assert_eq!(
        read.signing_input,
        format!("{header}.{claims}").as_bytes(),
        "{reader}: signing input"
    );

    let header = strict_json(&header_bytes)
        .unwrap_or_else(|e| panic!("{reader} accepted a header with a member given twice: {}", e.0));
    let claims = strict_json(&claims_bytes)
        .unwrap_or_else(|e| panic!("{reader} accepted claims with a member given twice: {}", e.0));
    let Some(header) = header.as_object() else {
        panic!("{reader} accepted a header that is not a JSON object: {header}");
    };
    assert!(
        claims.is_object(),
        "{reader} accepted claims that are not a JSON object: {claims}"
    );
    assert!(
        !header.contains_key("crit"),
        "{reader} accepted a header with crit: {:?}",
        header.get("crit")
    );
    assert_eq!(
        header.get("alg").and_then(|a| a.as_str()),
        Some(read.alg.as_str()),
        "{reader}: alg"
    );
    assert_eq!(header.get("kid").and_then(|k| k.as_str()), read.kid, "{reader}: kid");
}
