//! The rules of `token_endpoint_auth_method` and `jwks` on the registration
//! and change forms: a `private_key_jwt` application has keys and no secret,
//! a `client_secret_basic` one a secret and no keys.

use crate::client_keys::{AuthMethod, ClientKeySet};
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde_json::Value;

/// How a registered application will authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Secret,
    Keys(ClientKeySet),
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
    /// New keys; only ever for a `private_key_jwt` application.
    pub keys: Option<ClientKeySet>,
}

fn secret_has_no_keys() -> FieldError {
    FieldError::new(
        "jwks",
        ErrorCode::InvalidValue,
        "jwks is for private_key_jwt applications only; set token_endpoint_auth_method to private_key_jwt",
    )
}

fn keys_required() -> FieldError {
    FieldError::new(
        "jwks",
        ErrorCode::Required,
        "a private_key_jwt application needs jwks: a JWK Set of 1 to 5 public keys",
    )
}

fn method(raw: Option<&str>) -> Result<Option<AuthMethod>, ValidationErrors> {
    raw.map(AuthMethod::field).transpose().map_err(ValidationErrors::from)
}

/// The registration rule: the method defaults to `client_secret_basic`.
pub fn registration(raw_method: Option<&str>, jwks: Option<&Value>) -> Result<Credentials, ValidationErrors> {
    let method = method(raw_method)?.unwrap_or_default();
    match (method, jwks) {
        (AuthMethod::ClientSecretBasic, None) => Ok(Credentials::Secret),
        (AuthMethod::ClientSecretBasic, Some(_)) => Err(secret_has_no_keys().into()),
        (AuthMethod::PrivateKeyJwt, None) => Err(keys_required().into()),
        (AuthMethod::PrivateKeyJwt, Some(jwks)) => ClientKeySet::parse(jwks).map(Credentials::Keys),
    }
}

/// The change rule, given the stored method when it is known (the server
/// knows it; the SDK, checking offline, does not, and skips what needs it).
pub fn change(
    raw_method: Option<&str>,
    jwks: Option<&Value>,
    stored: Option<AuthMethod>,
) -> Result<CredentialChange, ValidationErrors> {
    let method = method(raw_method)?;
    let keys = jwks.map(ClientKeySet::parse).transpose()?;
    let resulting = method.or(stored);
    match (resulting, &keys) {
        (Some(AuthMethod::ClientSecretBasic), Some(_)) => return Err(secret_has_no_keys().into()),
        // Switching to keys brings them; staying on keys may keep the old ones.
        (Some(AuthMethod::PrivateKeyJwt), None) if stored != Some(AuthMethod::PrivateKeyJwt) && stored.is_some() => {
            return Err(keys_required().into());
        }
        _ => {}
    }
    Ok(CredentialChange { method, keys })
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
        assert_eq!(registration(None, None), Ok(Credentials::Secret));
        assert_eq!(registration(Some("client_secret_basic"), None), Ok(Credentials::Secret));
        assert_eq!(
            registration(Some("private_key_jwt"), Some(&keys())).unwrap().method(),
            PrivateKeyJwt
        );
        let jwks = |code| vec![("jwks".to_owned(), code)];
        assert_eq!(
            codes(registration(Some("private_key_jwt"), None)),
            jwks(ErrorCode::Required)
        );
        assert_eq!(codes(registration(None, Some(&keys()))), jwks(ErrorCode::InvalidValue));
        assert_eq!(
            codes(registration(Some("client_secret_jwt"), None)),
            [("token_endpoint_auth_method".to_owned(), ErrorCode::InvalidValue)]
        );
    }

    #[test]
    fn a_change_brings_keys_when_it_switches_to_them() {
        let k = keys();
        assert!(change(Some("private_key_jwt"), None, Some(ClientSecretBasic)).is_err());
        assert!(change(Some("private_key_jwt"), Some(&k), Some(ClientSecretBasic)).is_ok());
        assert!(change(Some("private_key_jwt"), None, Some(PrivateKeyJwt)).is_ok());
        assert!(change(None, Some(&k), Some(PrivateKeyJwt)).is_ok());
        assert!(change(None, Some(&k), Some(ClientSecretBasic)).is_err());
        assert!(change(Some("client_secret_basic"), Some(&k), Some(PrivateKeyJwt)).is_err());
        assert_eq!(
            change(Some("client_secret_basic"), None, Some(PrivateKeyJwt))
                .unwrap()
                .method,
            Some(ClientSecretBasic)
        );
        // Offline the stored method is unknown: only what needs no storage.
        assert!(change(Some("private_key_jwt"), None, None).is_ok());
        assert!(change(None, Some(&k), None).is_ok());
        assert!(change(None, Some(&json!({"keys": []})), None).is_err());
    }
}
