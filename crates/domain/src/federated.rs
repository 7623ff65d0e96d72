//! Federated credentials: an application trusts an outside identity (a
//! Kubernetes service account, a CI system's workflow) and a workload holding
//! that identity's token trades it for a Casebook token, with no Casebook
//! secret at all.
//!
//! A credential names the outside issuer, the keys its tokens are signed with,
//! the exact `sub`, the `aud` the token must carry, and further claims that
//! must be equal. The server looks up the credentials of the application
//! named by `client_id` whose issuer and subject are the token's, verifies
//! the signature with the key [`OutsideToken::key`] picks, and asks
//! [`OutsideToken::check`] whether the rest holds.

use crate::client_keys::{AssertionAlg, ClientKey, ClientKeySet, KeySource};
use crate::jws::{SignedJwt, UniqueMembers, Unreadable};
use crate::shape::{Field, Kind, Shaped};
use crate::text::TextRule;
use crate::time::Timestamp;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How many outside identities one application may trust.
pub const MAX_PER_APPLICATION: usize = 20;
/// How many further claims one credential may require.
pub const MAX_CLAIMS: usize = 10;
/// The serialized size of the required claims, in bytes.
pub const MAX_CLAIMS_BYTES: usize = 4096;
/// How far ahead of our clock an outside token's `iat` or `nbf` may be.
pub const CLOCK_SKEW_SECS: i64 = 60;
/// The shortest `max_token_lifetime_seconds` a credential may name.
pub const MIN_TOKEN_LIFETIME_SECS: i64 = 1;
/// The longest `max_token_lifetime_seconds` a credential may name: a day.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 86_400;
/// How long judging one outside token may take in all, however many
/// credentials match it and however slowly their key hosts answer.
pub const JUDGING_DEADLINE_SECS: u64 = 10;

pub const NAME: TextRule = TextRule {
    field: "name",
    max_chars: 100,
    multiline: false,
};
pub const ISSUER: TextRule = TextRule {
    field: "issuer",
    max_chars: 2048,
    multiline: false,
};
pub const SUBJECT: TextRule = TextRule {
    field: "subject",
    max_chars: 1000,
    multiline: false,
};
pub const AUDIENCE: TextRule = TextRule {
    field: "audience",
    max_chars: 2048,
    multiline: false,
};

/// Claims a credential names in its own fields, or that say nothing about
/// who the workload is: required further claims may not name them.
const RESERVED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// `POST /admin/v1/external-applications/{id}/federated-credentials`.
#[cfg_attr(
    not(feature = "openapi"),
    doc = "\n\nBuild one with [`FederatedCredentialForm::new`]."
)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FederatedCredentialForm {
    /// What the admin calls this trust, unique within the application: 1 to 100 characters.
    #[cfg_attr(feature = "openapi", schema(example = "payments-prod service account"))]
    pub name: String,
    /// The outside issuer's identifier, exactly as its tokens' `iss` carry it.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://kubernetes.default.svc.cluster.local")
    )]
    pub issuer: String,
    /// The issuer's public keys, as a JWK Set of 1 to 5 keys (the same rules
    /// as an application's `jwks`). Exactly one of `jwks` and `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<Value>,
    /// Where the issuer publishes its JWK Set: an `https` URL, fetched with
    /// the same limits as an application's `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The exact `sub` of the workload's tokens.
    #[cfg_attr(feature = "openapi", schema(example = "system:serviceaccount:payments:exporter"))]
    pub subject: String,
    /// The `aud` the workload's tokens must carry (as their only value or
    /// one of several). Default: this server's issuer identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Further claims the token must carry, e.g. `{"repository":
    /// "partner/exporter"}`. A value that is an object is matched by an
    /// object holding at least its members (so `{"kubernetes.io":
    /// {"namespace": "payments"}}` matches a Kubernetes token, which carries
    /// `pod` and `serviceaccount` there too); any other value must be equal.
    /// Numbers must be whole and within 64 bits. At most 10; none of `iss`,
    /// `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub claims: Option<Map<String, Value>>,
    /// The longest a token may have been issued for (`exp` − `iat`), 1 to
    /// 86400 seconds. Set, a token must carry `iat`, and one minted to live
    /// longer is refused. Default: no bound beyond `exp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = 3600, minimum = 1, maximum = 86400))]
    pub max_token_lifetime_seconds: Option<i64>,
    /// When true, each token is accepted once: it must carry a `jti`, and a
    /// second exchange of the same one is refused on every replica. Default
    /// false: a workload may retry with the token it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_use: Option<bool>,
}

impl Shaped for FederatedCredentialForm {
    const FIELDS: &'static [Field] = &[
        Field::required("name", Kind::Text),
        Field::required("issuer", Kind::Text),
        Field::optional("jwks", Kind::Object),
        Field::optional("jwks_uri", Kind::Text),
        Field::required("subject", Kind::Text),
        Field::optional("audience", Kind::Text),
        Field::optional("claims", Kind::Object),
        Field::optional("max_token_lifetime_seconds", Kind::Integer),
        Field::optional("single_use", Kind::Boolean),
    ];

    /// Offline, private addresses pass: only the server knows whether its
    /// install allows them, and it checks again with its setting.
    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate(true).map(drop)
    }
}

/// An outside identity as it is matched: everything but the keys.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustedIdentity {
    pub issuer: String,
    pub subject: String,
    /// `None`: this server's issuer identifier.
    pub audience: Option<String>,
    pub claims: Map<String, Value>,
    /// The longest `exp` − `iat` accepted, in seconds; `None`: no bound.
    pub max_token_lifetime_secs: Option<i64>,
    /// Each token's `jti` is accepted once.
    pub single_use: bool,
}

/// A credential that passed every rule; only [`FederatedCredentialForm`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFederatedCredential {
    pub name: String,
    pub keys: KeySource,
    pub identity: TrustedIdentity,
}

impl FederatedCredentialForm {
    /// A trust in tokens whose `iss` is `issuer` and whose `sub` is
    /// `subject`, named `name` within the application. Give the issuer's
    /// keys with [`jwks`](Self::jwks) or [`jwks_uri`](Self::jwks_uri).
    pub fn new(name: impl Into<String>, issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            issuer: issuer.into(),
            subject: subject.into(),
            ..Self::default()
        }
    }

    /// The issuer's public keys, as a JWK Set.
    pub fn jwks(mut self, jwks: Value) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Where the issuer publishes its JWK Set (`https`).
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// The `aud` the workload's tokens carry, when not this server's issuer identifier.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// A further claim the tokens must carry with this value.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.get_or_insert_with(Map::new).insert(name.into(), value.into());
        self
    }

    /// Refuse tokens minted to live longer than this (`exp` − `iat`, 1 to 86400 seconds).
    pub fn max_token_lifetime_seconds(mut self, seconds: i64) -> Self {
        self.max_token_lifetime_seconds = Some(seconds);
        self
    }

    /// Accept each token (by its `jti`) once.
    pub fn single_use(mut self, single_use: bool) -> Self {
        self.single_use = Some(single_use);
        self
    }

    /// Every rule that needs nothing from the server, as the server runs
    /// them. Not checked here, since only the server can judge them: whether
    /// the name is free, the application's limit, and a private `jwks_uri`
    /// where the install forbids one.
    pub fn validate_offline(&self) -> Result<(), ValidationErrors> {
        self.validate(true).map(drop)
    }

    server_pub! {
        /// Every rule; none needs storage except the name's uniqueness and the
        /// per-application limit, which the server checks in its transaction.
        /// `allow_private`: whether a `jwks_uri` may name a private address.
        pub fn validate(&self, allow_private: bool) -> Result<NewFederatedCredential, ValidationErrors> {
            let mut errors = ValidationErrors::new();
            let name = errors.check(NAME.required(&self.name));
            let issuer = errors.check(ISSUER.required(&self.issuer));
            let subject = errors.check(SUBJECT.required(&self.subject));
            let audience = errors.check(AUDIENCE.optional(self.audience.as_deref())).flatten();
            let keys = match keys(self.jwks.as_ref(), self.jwks_uri.as_deref(), allow_private) {
                Ok(keys) => Some(keys),
                Err(refused) => {
                    refused.into_errors().into_iter().for_each(|e| errors.push(e));
                    None
                }
            };
            let claims = errors.check(required_claims(self.claims.as_ref()));
            let lifetime = errors.check(max_lifetime(self.max_token_lifetime_seconds));
            match (name, issuer, subject, keys, claims, lifetime) {
                (Some(name), Some(issuer), Some(subject), Some(keys), Some(claims), Some(max_token_lifetime_secs))
                    if errors.is_empty() =>
                {
                    Ok(NewFederatedCredential {
                        name,
                        keys,
                        identity: TrustedIdentity {
                            issuer,
                            subject,
                            audience,
                            claims,
                            max_token_lifetime_secs,
                            single_use: self.single_use.unwrap_or(false),
                        },
                    })
                }
                _ => Err(errors),
            }
        }
    }
}

fn keys(jwks: Option<&Value>, jwks_uri: Option<&str>, allow_private: bool) -> Result<KeySource, ValidationErrors> {
    KeySource::from_fields(jwks, jwks_uri, allow_private)?.ok_or_else(|| {
        FieldError::new(
            "jwks",
            ErrorCode::Required,
            "give the issuer's public keys: jwks (a JWK Set) or jwks_uri (where the issuer publishes it)",
        )
        .into()
    })
}

fn max_lifetime(raw: Option<i64>) -> Result<Option<i64>, FieldError> {
    match raw {
        Some(seconds) if !(MIN_TOKEN_LIFETIME_SECS..=MAX_TOKEN_LIFETIME_SECS).contains(&seconds) => Err(FieldError::new(
            "max_token_lifetime_seconds",
            ErrorCode::InvalidValue,
            format!("max_token_lifetime_seconds must be from {MIN_TOKEN_LIFETIME_SECS} to {MAX_TOKEN_LIFETIME_SECS}; got {seconds}"),
        )),
        other => Ok(other),
    }
}

fn required_claims(raw: Option<&Map<String, Value>>) -> Result<Map<String, Value>, FieldError> {
    let Some(claims) = raw else {
        return Ok(Map::new());
    };
    let refuse = |code, message: String| Err(FieldError::new("claims", code, message));
    if claims.len() > MAX_CLAIMS {
        return refuse(
            ErrorCode::TooLong,
            format!("claims names {} claims; at most {MAX_CLAIMS} are allowed", claims.len()),
        );
    }
    if Value::Object(claims.clone()).to_string().len() > MAX_CLAIMS_BYTES {
        return refuse(
            ErrorCode::TooLong,
            format!("claims must be at most {MAX_CLAIMS_BYTES} bytes of JSON"),
        );
    }
    if let Some(reserved) = claims.keys().find(|name| RESERVED_CLAIMS.contains(&name.as_str())) {
        return refuse(
            ErrorCode::InvalidValue,
            format!("claims must not name {reserved:?}: the credential's own fields say what it must be"),
        );
    }
    if let Some(blank) = claims.keys().find(|name| name.trim().is_empty()) {
        return refuse(
            ErrorCode::InvalidValue,
            format!("claims names a blank claim ({blank:?})"),
        );
    }
    if let Some((name, _)) = claims.iter().find(|(_, value)| !exact(value)) {
        return refuse(
            ErrorCode::InvalidValue,
            format!(
                "claims.{name} holds a number that is not a whole number of at most 64 bits; \
                 JSON readers round such numbers, so give the value as a string"
            ),
        );
    }
    Ok(claims.clone())
}

/// Whether every number in `value` is one that each JSON reader carries
/// exactly: a whole number within 64 bits. `100000000000000000000000` reads
/// as a float that equals its neighbours, so it could never be required
/// precisely.
fn exact(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(items) => items.iter().all(exact),
        Value::Object(members) => members.values().all(exact),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// Whether the token's `presented` value satisfies a `required` one: an
/// object is satisfied by an object holding at least its members, each
/// satisfied in turn (a Kubernetes token's `kubernetes.io` carries `pod` and
/// `serviceaccount` beside the `namespace` a credential names); anything else
/// must be equal.
fn satisfies(presented: &Value, required: &Value) -> bool {
    match (presented, required) {
        (Value::Object(presented), Value::Object(required)) => required
            .iter()
            .all(|(name, wanted)| presented.get(name).is_some_and(|have| satisfies(have, wanted))),
        _ => presented == required,
    }
}

/// Why an outside token was refused. The workload is told `invalid_client`
/// whatever the reason; the reason is for logs, counters and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Unreadable(Unreadable),
    /// No credential of the application trusts the token's issuer and subject.
    NoCredential,
    BadSignature,
    /// `iss`, `sub` or `exp` missing or not of their JSON types.
    MissingClaim,
    Audience,
    /// A required further claim is absent or not equal.
    Claim,
    Expired,
    /// `iat` or `nbf` ahead of the clock.
    NotYetValid,
    /// Minted to live longer than the credential's `max_token_lifetime_seconds`,
    /// or without the `iat` that bound needs.
    TooLongLived,
    /// A single-use credential's token without a `jti`.
    NoJti,
    /// A single-use credential's token presented again.
    Replayed,
    /// The key hosts did not answer before the judging deadline.
    Deadline,
}

impl From<Unreadable> for Refused {
    fn from(why: Unreadable) -> Self {
        Self::Unreadable(why)
    }
}

/// An outside workload's token, read but not yet trusted.
#[derive(Debug)]
pub struct OutsideToken<'a>(SignedJwt<'a, UniqueMembers>);

impl<'a> OutsideToken<'a> {
    pub fn parse(compact: &'a str) -> Result<Self, Refused> {
        Ok(Self(SignedJwt::parse(compact)?))
    }

    fn text(&self, claim: &str) -> Option<&str> {
        self.0.claims().get(claim).and_then(Value::as_str)
    }

    /// The token's `iss`, not yet believed: with `sub`, which credentials to try.
    pub fn issuer(&self) -> Option<&str> {
        self.text("iss")
    }

    pub fn subject(&self) -> Option<&str> {
        self.text("sub")
    }

    pub fn alg(&self) -> AssertionAlg {
        self.0.alg()
    }

    pub fn kid(&self) -> Option<&str> {
        self.0.kid()
    }

    pub fn signing_input(&self) -> &[u8] {
        self.0.signing_input()
    }

    pub fn signature(&self) -> &[u8] {
        self.0.signature()
    }

    pub fn key<'k>(&self, keys: &'k ClientKeySet) -> Result<&'k ClientKey, Refused> {
        Ok(self.0.key(keys)?)
    }

    /// What a single-use credential spends: the `jti` and until when it must
    /// be remembered (the token's `exp`). Call once [`Self::check`] passed.
    pub fn single_use_key(&self) -> Result<(&str, i64), Refused> {
        let jti = self.text("jti").filter(|j| !j.is_empty()).ok_or(Refused::NoJti)?;
        let exp = self.0.claims().get("exp").and_then(Value::as_i64).ok_or(Refused::MissingClaim)?;
        Ok((jti, exp))
    }

    /// Whether the token is the identity's, at `now`, with `our_issuer` as
    /// the audience when the identity names none; call once the signature holds.
    pub fn check(&self, identity: &TrustedIdentity, our_issuer: &str, now: Timestamp) -> Result<(), Refused> {
        check_claims(self.0.claims(), identity, our_issuer, now.unix_secs())
    }
}

fn check_claims(
    claims: &Map<String, Value>,
    identity: &TrustedIdentity,
    our_issuer: &str,
    now: i64,
) -> Result<(), Refused> {
    let text = |name| claims.get(name).and_then(Value::as_str);
    let (Some(iss), Some(sub), Some(exp)) = (text("iss"), text("sub"), claims.get("exp").and_then(Value::as_i64))
    else {
        return Err(Refused::MissingClaim);
    };
    if iss != identity.issuer || sub != identity.subject {
        return Err(Refused::NoCredential);
    }
    let audience = identity.audience.as_deref().unwrap_or(our_issuer);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        // RFC 7519 §4.1.3: the token is for each of the audiences it lists.
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(Refused::Audience);
    }
    if exp <= now {
        return Err(Refused::Expired);
    }
    let time = |name| match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_i64().map(Some).ok_or(Refused::MissingClaim),
    };
    let ahead = now.saturating_add(CLOCK_SKEW_SECS);
    let iat = time("iat")?;
    if iat.is_some_and(|iat| iat > ahead) || time("nbf")?.is_some_and(|nbf| nbf > ahead) {
        return Err(Refused::NotYetValid);
    }
    if let Some(most) = identity.max_token_lifetime_secs {
        let lifetime = iat.map(|iat| exp.saturating_sub(iat));
        if lifetime.is_none_or(|lived| lived > most) {
            return Err(Refused::TooLongLived);
        }
    }
    if identity.single_use && claims.get("jti").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(Refused::NoJti);
    }
    if !identity
        .claims
        .iter()
        .all(|(name, wanted)| claims.get(name).is_some_and(|have| satisfies(have, wanted)))
    {
        return Err(Refused::Claim);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
