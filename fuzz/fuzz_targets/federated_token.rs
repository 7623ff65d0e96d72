//! Federated credentials: an outside identity's token read
//! (`OutsideToken::parse`) and matched (`OutsideToken::check`) against a
//! fuzzer-chosen `TrustedIdentity`; and the credential form an admin sends,
//! read as the server reads it (`shape::Body`) and as serde reads it, then
//! validated.
//!
//! Properties: a token is accepted exactly when its `iss`, `sub`, `aud`,
//! times and required claims are what the identity says, and a refusal
//! names a rule the token breaks (a required object is met by an object
//! holding at least its members, anything else by an equal value). A form the server's reader accepts, serde
//! reads the same; allowing private addresses only ever widens what passes;
//! a validated form, written and read again, validates to the same
//! credential, its `jwks_uri` reads again to itself, and a token carrying
//! exactly what the credential asks for is accepted.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::FederatedCredentialForm;
use casebook_domain::Timestamp;
use casebook_domain::client_keys::{JwksUri, KeySource};
use casebook_domain::federated::{
    CLOCK_SKEW_SECS, MAX_CLAIMS, MAX_TOKEN_LIFETIME_SECS, NewFederatedCredential, OutsideToken, Refused,
    TrustedIdentity,
};
use casebook_domain::shape::Body;
use casebook_fuzz::{
    ISSUER, Input, Json, JwkSetSpec, Jwt, Member, NOW, Name, OUTSIDE_ISSUER, SUBJECT, Text, claims_of, input,
    write_object,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[derive(Arbitrary, Debug)]
enum Built {
    Token { jwt: Jwt, identity: Identity },
    RawToken { token: String, identity: Identity },
    FormBytes(Vec<u8>),
    Form(FormSpec),
}

#[derive(Arbitrary, Debug)]
struct Identity {
    issuer: Text,
    subject: Text,
    audience: Option<Text>,
    claims: Vec<(Name, Json)>,
    max_lifetime: Option<Lifetime>,
    single_use: bool,
}

#[derive(Arbitrary, Debug)]
enum Lifetime {
    /// Where tokens of the built input live: up to a few minutes.
    Short(u16),
    Any(i64),
}

impl Identity {
    fn trusted(&self) -> TrustedIdentity {
        TrustedIdentity {
            issuer: self.issuer.as_str().to_owned(),
            subject: self.subject.as_str().to_owned(),
            audience: self.audience.as_ref().map(|a| a.as_str().to_owned()),
            claims: self
                .claims
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_value()))
                .collect(),
            max_token_lifetime_secs: self.max_lifetime.as_ref().map(|l| match l {
                Lifetime::Short(s) => i64::from(*s),
                Lifetime::Any(s) => *s,
            }),
            single_use: self.single_use,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Host {
    Name(String),
    Public,
    V4([u8; 4]),
    V6([u8; 16]),
    Localhost,
}

#[derive(Arbitrary, Debug)]
enum Uri {
    Https {
        host: Host,
        port: Option<u16>,
        path: String,
    },
    Raw(String),
}

impl Uri {
    fn text(&self) -> String {
        match self {
            Self::Raw(raw) => raw.clone(),
            Self::Https { host, port, path } => {
                let host = match host {
                    Host::Name(name) => name.clone(),
                    Host::Public => "keys.partner.example.org".to_owned(),
                    Host::V4(b) => std::net::Ipv4Addr::from(*b).to_string(),
                    Host::V6(b) => format!("[{}]", std::net::Ipv6Addr::from(*b)),
                    Host::Localhost => "localhost".to_owned(),
                };
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("https://{host}{port}/{path}")
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct FormSpec {
    name: Member,
    issuer: Member,
    subject: Member,
    audience: Member,
    jwks: Option<JwkSetSpec>,
    jwks_uri: Option<Uri>,
    claims: Option<Vec<(Name, Json)>>,
    max_token_lifetime_seconds: Option<Json>,
    single_use: Option<Json>,
    extra: Vec<(Name, Json)>,
}

impl FormSpec {
    fn to_text(&self) -> String {
        // The key set and URL are written as JSON values first, so that the
        // object is assembled in one place with every repeat kept.
        let jwks = self.jwks.as_ref().map(|s| json_of(&s.to_value()));
        let uri = self.jwks_uri.as_ref().map(|u| Json::Text(Text::Other(u.text())));
        let claims = self.claims.as_ref().map(|c| Json::Object(c.clone()));
        let fields = [
            ("name", self.name.json()),
            ("issuer", self.issuer.json()),
            ("subject", self.subject.json()),
            ("audience", self.audience.json()),
            ("jwks", jwks),
            ("jwks_uri", uri),
            ("claims", claims),
            ("max_token_lifetime_seconds", self.max_token_lifetime_seconds.clone()),
            ("single_use", self.single_use.clone()),
        ];
        let mut out = String::new();
        let present = fields.iter().filter_map(|(n, v)| v.as_ref().map(|v| (*n, v)));
        let extra = self.extra.iter().map(|(n, v)| (n.as_str(), v));
        write_object(present.chain(extra), &mut out);
        out
    }
}

/// A JSON value carried as text inside the fuzzer's own value type.
fn json_of(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Json::Int(i),
            (None, Some(u), _) => Json::Big(u),
            (_, _, f) => Json::Float(f.unwrap_or_default()),
        },
        Value::String(s) => Json::Text(Text::Other(s.clone())),
        Value::Array(items) => Json::Array(items.iter().map(json_of).collect()),
        Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (Name::Other(k.clone()), json_of(v))).collect()),
    }
}

fuzz_target!(|data: &[u8]| match input::<Built>(data) {
    None => {}
    // Text that opens a JSON object is a credential form; anything else a
    // token, judged against the identity of the committed seeds.
    Some(Input::Raw(text)) if text.starts_with(b"{") => form(text),
    Some(Input::Raw(text)) => token(&String::from_utf8_lossy(text), &seed_identity()),
    Some(Input::Built(Built::Token { jwt, identity })) => token(&jwt.encode(), &identity.trusted()),
    Some(Input::Built(Built::RawToken { token: raw, identity })) => token(&raw, &identity.trusted()),
    Some(Input::Built(Built::FormBytes(bytes))) => form(&bytes),
    Some(Input::Built(Built::Form(spec))) => form(spec.to_text().as_bytes()),
});

/// A Kubernetes service account in one namespace, its tokens for us.
fn seed_identity() -> TrustedIdentity {
    let mut claims = Map::new();
    claims.insert("kubernetes.io".into(), json!({"namespace": "payments"}));
    TrustedIdentity {
        issuer: OUTSIDE_ISSUER.into(),
        subject: SUBJECT.into(),
        audience: None,
        claims,
        max_token_lifetime_secs: Some(3600),
        single_use: false,
    }
}

fn token(raw: &str, identity: &TrustedIdentity) {
    let Ok(token) = OutsideToken::parse(raw) else { return };
    let verdict = token.check(identity, ISSUER, Timestamp::from_unix_secs(NOW));
    // Claims that are not an object are the JWS reader's finding (see
    // jws_compact); the claim rules are judged on objects.
    let Some(claims) = claims_of(raw) else { return };
    assert_eq!(token.issuer(), claims.get("iss").and_then(Value::as_str));
    assert_eq!(token.subject(), claims.get("sub").and_then(Value::as_str));
    let broken = broken_rules(&claims, identity);
    match verdict {
        Ok(()) => {
            assert!(broken.is_empty(), "accepted, yet breaks {broken:?}: {claims:?}");
            if identity.single_use {
                let spent = token.single_use_key().expect("an accepted single-use token has a jti");
                assert_eq!(Some(spent.0), claims.get("jti").and_then(Value::as_str));
                assert_eq!(Some(spent.1), claims.get("exp").and_then(Value::as_i64));
            }
        }
        Err(why) => assert!(
            broken.contains(&why),
            "refused as {why:?}, yet breaks only {broken:?}: {claims:?} for {identity:?}"
        ),
    }
}

/// Every rule the token breaks for this identity, by the reason it is refused for.
fn broken_rules(claims: &Map<String, Value>, identity: &TrustedIdentity) -> Vec<Refused> {
    let mut broken = Vec::new();
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let time = |name: &str| claims.get(name).map(Value::as_i64);
    let exp = time("exp").flatten();
    if text("iss").is_none() || text("sub").is_none() || exp.is_none() {
        broken.push(Refused::MissingClaim);
    }
    // An `iat` or `nbf` given must be an integer (`null` is no time either).
    let (iat, nbf) = (time("iat"), time("nbf"));
    if iat == Some(None) || nbf == Some(None) {
        broken.push(Refused::MissingClaim);
    }
    if let (Some(iss), Some(sub)) = (text("iss"), text("sub"))
        && (iss != identity.issuer || sub != identity.subject)
    {
        broken.push(Refused::NoCredential);
    }
    let audience = identity.audience.as_deref().unwrap_or(ISSUER);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a == audience),
        _ => false,
    };
    if !aud_ok {
        broken.push(Refused::Audience);
    }
    if exp.is_some_and(|exp| exp <= NOW) {
        broken.push(Refused::Expired);
    }
    let ahead = |t: Option<Option<i64>>| t.flatten().is_some_and(|t| t > NOW + CLOCK_SKEW_SECS);
    if ahead(iat) || ahead(nbf) {
        broken.push(Refused::NotYetValid);
    }
    if let Some(most) = identity.max_token_lifetime_secs {
        // Without an `iat` the lifetime cannot be told, so it is too long.
        let lived = match (exp, iat.flatten()) {
            (Some(exp), Some(iat)) => i128::from(exp) - i128::from(iat),
            _ => i128::MAX,
        };
        if lived > i128::from(most) {
            broken.push(Refused::TooLongLived);
        }
    }
    if identity.single_use && claims.get("jti").and_then(Value::as_str).is_none_or(str::is_empty) {
        broken.push(Refused::NoJti);
    }
    if !identity
        .claims
        .iter()
        .all(|(n, wanted)| claims.get(n).is_some_and(|have| satisfies(have, wanted)))
    {
        broken.push(Refused::Claim);
    }
    broken
}

/// The credential form's rule for a required claim: an object is met by an
/// object holding at least its members, each met in turn; any other value
/// by an equal one.
fn satisfies(have: &Value, wanted: &Value) -> bool {
    match (have, wanted) {
        (Value::Object(have), Value::Object(wanted)) => wanted
            .iter()
            .all(|(name, w)| have.get(name).is_some_and(|h| satisfies(h, w))),
        _ => have == wanted,
    }
}

/// Whether every number in the value is whole and within 64 bits, which
/// every JSON reader carries exactly.
fn exact(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(items) => items.iter().all(exact),
        Value::Object(members) => members.values().all(exact),
        _ => true,
    }
}

fn form(bytes: &[u8]) {
    let Ok(body) = Body::parse(bytes) else { return };
    let read = body.read::<FederatedCredentialForm>();
    let plain = serde_json::from_slice::<FederatedCredentialForm>(bytes);
    if let Ok(form) = &read {
        assert_eq!(
            plain.as_ref().ok(),
            Some(form),
            "the server's reader and serde disagree"
        );
    }
    if let Ok(form) = &plain {
        validated(form);
    }
}

fn validated(form: &FederatedCredentialForm) {
    let anywhere = form.validate(true);
    let public_only = form.validate(false);
    if let Ok(credential) = &public_only {
        assert_eq!(
            anywhere.as_ref(),
            Ok(credential),
            "allowing private addresses refused a form"
        );
    }
    assert_eq!(form.validate_offline().is_ok(), anywhere.is_ok());
    let Ok(credential) = anywhere else { return };

    let written = serde_json::to_vec(form).expect("a form serializes");
    let again = Body::parse(&written)
        .expect("a written form is JSON")
        .read::<FederatedCredentialForm>()
        .unwrap_or_else(|e| panic!("a valid form, written, is refused: {e:?}"));
    assert_eq!(again.validate(true).as_ref(), Ok(&credential));

    if let KeySource::Uri(uri) = &credential.keys {
        assert_eq!(
            JwksUri::parse("jwks_uri", uri.as_str(), true).as_ref(),
            Ok(uri),
            "a jwks_uri reads otherwise once written"
        );
    }
    let identity = &credential.identity;
    assert!(identity.claims.len() <= MAX_CLAIMS);
    for reserved in ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"] {
        assert!(
            !identity.claims.contains_key(reserved),
            "a credential requires {reserved}"
        );
    }
    if let Some(most) = identity.max_token_lifetime_secs {
        assert!(
            (1..=MAX_TOKEN_LIFETIME_SECS).contains(&most),
            "max_token_lifetime_seconds {most}"
        );
    }
    assert_eq!(identity.single_use, form.single_use == Some(true));
    for (name, value) in &identity.claims {
        assert!(!name.trim().is_empty(), "a credential requires a blank claim");
        assert!(
            exact(value),
            "a credential requires {name} = {value}, which readers round"
        );
    }
    accepts_its_own_token(&credential);
}

/// A token with the credential's issuer, subject, audience and required
/// claims, issued now for a second and with a `jti`, must be accepted.
fn accepts_its_own_token(credential: &NewFederatedCredential) {
    let identity = &credential.identity;
    let mut claims = identity.claims.clone();
    claims.insert("iss".into(), json!(identity.issuer));
    claims.insert("sub".into(), json!(identity.subject));
    claims.insert("aud".into(), json!(identity.audience.as_deref().unwrap_or(ISSUER)));
    claims.insert("iat".into(), json!(NOW));
    claims.insert("exp".into(), json!(NOW + 1));
    claims.insert("jti".into(), json!("a1b2c3"));
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let raw = format!(
        "{}.{}.{}",
        enc(&json!({"alg": "ES256"})),
        enc(&Value::Object(claims)),
        URL_SAFE_NO_PAD.encode([1u8; 64])
    );
    let token = OutsideToken::parse(&raw).unwrap_or_else(|e| panic!("the credential's own token is unreadable: {e:?}"));
    assert_eq!(
        token.check(identity, ISSUER, Timestamp::from_unix_secs(NOW)),
        Ok(()),
        "the credential's own token is refused"
    );
}
