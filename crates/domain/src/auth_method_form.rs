//! The rules of `token_endpoint_auth_method`, `jwks` and `jwks_uri` on the
//! registration and change forms: a `private_key_jwt` application has keys
//! (inline or at a URL) and no secret, a `client_secret_basic` one a secret
//! and no keys.

use crate::client_keys::{AuthMethod, KeySource, unknown_method};
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde_json::Value;

/// How a registered application will authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Secret,
    Keys(KeySource),
}

impl Credentials {
    pub fn method(&self) -> AuthMethod {
        match self {
            Self::Secret => AuthMethod::ClientSecretBasic,
            Self::Keys(_) => AuthMethod::PrivateKeyJwt,
        }
    }
}

/// A change to how an application authenticates; `None` keeps what is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialChange {
    pub method: Option<AuthMethod>,
    /// New keys, replacing the stored ones of either kind; only ever for a
    /// `private_key_jwt` application.
    pub keys: Option<KeySource>,
}

/// The key fields of a form, as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyFields<'a> {
    pub jwks: Option<&'a Value>,
    pub jwks_uri: Option<&'a str>,
}

impl KeyFields<'_> {
    /// The field an error about keys that should not be there names.
    fn given(&self) -> Option<&'static str> {
        match (self.jwks, self.jwks_uri) {
            (_, Some(_)) => Some("jwks_uri"),
            (Some(_), None) => Some("jwks"),
            (None, None) => None,
        }
    }

    fn source(&self, allow_private: bool) -> Result<Option<KeySource>, ValidationErrors> {
        KeySource::from_fields(self.jwks, self.jwks_uri, allow_private)
    }
}

fn secret_has_no_keys(field: &str) -> FieldError {
    FieldError::new(
        field,
        ErrorCode::InvalidValue,
        format!("{field} is for private_key_jwt applications only; set token_endpoint_auth_method to private_key_jwt"),
    )
}

fn keys_required() -> FieldError {
    FieldError::new(
        "jwks",
        ErrorCode::Required,
        "a private_key_jwt application needs jwks (a JWK Set of 1 to 5 public keys) or jwks_uri (an https URL of one)",
    )
}

fn method(raw: Option<&str>) -> Result<Option<AuthMethod>, ValidationErrors> {
    raw.map(AuthMethod::field).transpose().map_err(ValidationErrors::from)
}

/// The registration rule: the method defaults to `client_secret_basic`.
/// `allow_private` lets a `jwks_uri` name a non-public address (the
/// operator's choice; the SDK, checking offline, leaves it to the server).
pub fn registration(
    raw_method: Option<&str>,
    keys: KeyFields<'_>,
    allow_private: bool,
) -> Result<Credentials, ValidationErrors> {
    let method = method(raw_method)?.unwrap_or_default();
    match (method, keys.given()) {
        (AuthMethod::ClientSecretBasic, None) => Ok(Credentials::Secret),
        (AuthMethod::ClientSecretBasic, Some(field)) => Err(secret_has_no_keys(field).into()),
        (AuthMethod::PrivateKeyJwt, _) => keys
            .source(allow_private)?
            .map(Credentials::Keys)
            .ok_or_else(|| keys_required().into()),
        // Only a newer server's answer reads as this; a form never parses to
        // it, and were one to, it registers nothing.
        (AuthMethod::Unrecognized, _) => Err(unknown_method().into()),
    }
}

/// The change rule, given the stored method when it is known (the server
/// knows it; the SDK, checking offline, does not, and skips what needs it).
pub fn change(
    raw_method: Option<&str>,
    keys: KeyFields<'_>,
    stored: Option<AuthMethod>,
    allow_private: bool,
) -> Result<CredentialChange, ValidationErrors> {
    let method = method(raw_method)?;
    let source = keys.source(allow_private)?;
    let resulting = method.or(stored);
    match (resulting, keys.given()) {
        (Some(AuthMethod::ClientSecretBasic), Some(field)) => return Err(secret_has_no_keys(field).into()),
        // Switching to keys brings them; staying on keys may keep the old ones.
        (Some(AuthMethod::PrivateKeyJwt), None) if stored != Some(AuthMethod::PrivateKeyJwt) && stored.is_some() => {
            return Err(keys_required().into());
        }
        // As at registration: never the result of a change.
        (Some(AuthMethod::Unrecognized), _) => return Err(unknown_method().into()),
        _ => {}
    }
    Ok(CredentialChange { method, keys: source })
}

/// Both checks' values, or every error of both, the first's first.
pub(crate) fn both<A, B>(
    a: Result<A, ValidationErrors>,
    b: Result<B, ValidationErrors>,
) -> Result<(A, B), ValidationErrors> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => {
            let mut errors = ValidationErrors::new();
            for error in a
                .err()
                .into_iter()
                .chain(b.err())
                .flat_map(ValidationErrors::into_errors)
            {
                errors.push(error);
            }
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthMethod::*;
    use serde_json::json;

    fn inline(jwks: &Value) -> KeyFields<'_> {
        KeyFields {
            jwks: Some(jwks),
            jwks_uri: None,
        }
    }

    fn at(uri: &str) -> KeyFields<'_> {
        KeyFields {
            jwks: None,
            jwks_uri: Some(uri),
        }
    }

    const NONE: KeyFields<'static> = KeyFields {
        jwks: None,
        jwks_uri: None,
    };

    fn keys() -> Value {
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"}]})
    }

    fn codes<T>(result: Result<T, ValidationErrors>) -> Vec<(String, ErrorCode)> {
        result
            .err()
            .map(|e| e.into_errors().into_iter().map(|e| (e.field, e.code)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn registration_defaults_to_a_secret_and_keys_go_with_private_key_jwt() {
        let k = keys();
        let uri = "https://keys.partner.example.org/jwks.json";
        assert_eq!(registration(None, NONE, false), Ok(Credentials::Secret));
        assert_eq!(
            registration(Some("client_secret_basic"), NONE, false),
            Ok(Credentials::Secret)
        );
        assert_eq!(
            registration(Some("private_key_jwt"), inline(&k), false)
                .unwrap()
                .method(),
            PrivateKeyJwt
        );
        assert!(matches!(
            registration(Some("private_key_jwt"), at(uri), false),
            Ok(Credentials::Keys(KeySource::Uri(_)))
        ));
        let on = |field: &str, code| vec![(field.to_owned(), code)];
        assert_eq!(
            codes(registration(Some("private_key_jwt"), NONE, false)),
            on("jwks", ErrorCode::Required)
        );
        assert_eq!(
            codes(registration(None, inline(&k), false)),
            on("jwks", ErrorCode::InvalidValue)
        );
        assert_eq!(
            codes(registration(None, at(uri), false)),
            on("jwks_uri", ErrorCode::InvalidValue)
        );
        let both = KeyFields {
            jwks: Some(&k),
            jwks_uri: Some(uri),
        };
        assert_eq!(
            codes(registration(Some("private_key_jwt"), both, false)),
            on("jwks_uri", ErrorCode::InvalidValue)
        );
        assert_eq!(
            codes(registration(Some("client_secret_jwt"), NONE, false)),
            [("token_endpoint_auth_method".to_owned(), ErrorCode::InvalidValue)]
        );
    }

    #[test]
    fn a_private_address_is_refused_unless_allowed() {
        let loopback = at("https://127.0.0.1:8443/jwks.json");
        assert_eq!(
            codes(registration(Some("private_key_jwt"), loopback, false)),
            [("jwks_uri".to_owned(), ErrorCode::PrivateAddress)]
        );
        assert!(registration(Some("private_key_jwt"), loopback, true).is_ok());
        assert!(change(None, loopback, Some(PrivateKeyJwt), false).is_err());
        assert!(change(None, loopback, Some(PrivateKeyJwt), true).is_ok());
    }

    #[test]
    fn a_change_brings_keys_when_it_switches_to_them() {
        let k = keys();
        let k = inline(&k);
        let uri = at("https://keys.partner.example.org/jwks.json");
        assert!(change(Some("private_key_jwt"), NONE, Some(ClientSecretBasic), false).is_err());
        assert!(change(Some("private_key_jwt"), k, Some(ClientSecretBasic), false).is_ok());
        assert!(change(Some("private_key_jwt"), uri, Some(ClientSecretBasic), false).is_ok());
        assert!(change(Some("private_key_jwt"), NONE, Some(PrivateKeyJwt), false).is_ok());
        assert!(change(None, k, Some(PrivateKeyJwt), false).is_ok());
        assert!(change(None, uri, Some(PrivateKeyJwt), false).is_ok());
        assert!(change(None, k, Some(ClientSecretBasic), false).is_err());
        assert!(change(None, uri, Some(ClientSecretBasic), false).is_err());
        assert!(change(Some("client_secret_basic"), k, Some(PrivateKeyJwt), false).is_err());
        assert_eq!(
            change(Some("client_secret_basic"), NONE, Some(PrivateKeyJwt), false)
                .unwrap()
                .method,
            Some(ClientSecretBasic)
        );
        // Offline the stored method is unknown: only what needs no storage.
        assert!(change(Some("private_key_jwt"), NONE, None, false).is_ok());
        assert!(change(None, k, None, false).is_ok());
        assert!(change(None, inline(&json!({"keys": []})), None, false).is_err());
        assert!(change(None, at("http://keys.partner.example.org/"), None, true).is_err());
    }
}
