//! Passkeys through webauthn-rs: the relying party a tenant is, and the two
//! ceremonies (register, authenticate) with their states as stored text.
//! Which factor counts when is `http::second_factor`'s to say.

use crate::tenancy::Tenant;
use casebook_domain::wire::PasskeyProof;
use std::time::Duration;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// How long a person has to touch their authenticator.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Why a ceremony failed; the detail is for the log, never for the client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PasskeyError(String);

fn failed(what: &str, error: impl std::fmt::Display) -> PasskeyError {
    PasskeyError(format!("{what}: {error}"))
}

/// Browsers bind a passkey to a domain name (the RP ID) and refuse one at
/// an IP address: an install reached at `https://10.0.0.5` has no passkeys.
pub fn available(tenant: &Tenant) -> bool {
    Url::parse(&tenant.info().base_url).is_ok_and(|url| url.domain().is_some())
}

/// The tenant's relying party: its base URL's host is the RP ID and its
/// origin the one origin allowed. Tenants under `/t/{slug}` share the
/// install's origin, so a passkey is bound to the install's host; the
/// server keeps each tenant's passkeys apart by their rows.
pub fn relying_party(tenant: &Tenant) -> Result<Webauthn, PasskeyError> {
    let base = Url::parse(&tenant.info().base_url).map_err(|e| failed("the base URL", e))?;
    let host = base
        .host_str()
        .ok_or_else(|| PasskeyError("the base URL has no host".into()))?
        .to_owned();
    let origin = Url::parse(&base.origin().ascii_serialization()).map_err(|e| failed("the origin", e))?;
    WebauthnBuilder::new(&host, &origin)
        .map_err(|e| failed("the relying party", e))?
        .rp_name("Casebook")
        .timeout(CEREMONY_LIFETIME)
        .build()
        .map_err(|e| failed("the relying party", e))
}

/// A stable WebAuthn user handle for a person: their id when it is a UUID,
/// else the first 16 bytes of its SHA-256 (ids are opaque text).
pub fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id).unwrap_or_else(|_| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(user_id.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(bytes)
    })
}

/// Options for `navigator.credentials.create`, and the state to keep.
pub fn start_registration(
    rp: &Webauthn,
    user_id: &str,
    email: &str,
    name: &str,
    existing: &[Passkey],
) -> Result<(CreationChallengeResponse, String), PasskeyError> {
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let (options, state) = rp
        .start_passkey_registration(user_handle(user_id), email, name, Some(exclude))
        .map_err(|e| failed("starting a registration", e))?;
    Ok((options, to_text(&state)?))
}

/// The new passkey, when the authenticator's answer matches the state.
pub fn finish_registration(rp: &Webauthn, state: &str, proof: &PasskeyProof) -> Result<Passkey, PasskeyError> {
    let state: PasskeyRegistration = from_text(state)?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(proof.credential.clone()).map_err(|e| failed("the credential", e))?;
    rp.finish_passkey_registration(&credential, &state)
        .map_err(|e| failed("the registration", e))
}

/// Options for `navigator.credentials.get` over the person's passkeys.
pub fn start_authentication(
    rp: &Webauthn,
    passkeys: &[Passkey],
) -> Result<(RequestChallengeResponse, String), PasskeyError> {
    let (options, state) = rp
        .start_passkey_authentication(passkeys)
        .map_err(|e| failed("starting an authentication", e))?;
    Ok((options, to_text(&state)?))
}

/// Which passkey answered, when the answer holds.
pub fn finish_authentication(
    rp: &Webauthn,
    state: &str,
    proof: &PasskeyProof,
) -> Result<AuthenticationResult, PasskeyError> {
    let state: PasskeyAuthentication = from_text(state)?;
    let credential: PublicKeyCredential =
        serde_json::from_value(proof.credential.clone()).map_err(|e| failed("the credential", e))?;
    rp.finish_passkey_authentication(&credential, &state)
        .map_err(|e| failed("the authentication", e))
}

pub fn to_text(value: &impl serde::Serialize) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| failed("storing", e))
}

pub fn from_text<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(text).map_err(|e| failed("reading what was stored", e))
}

/// The library's passkeys from their stored text.
pub fn read_all<'a>(stored: impl IntoIterator<Item = &'a str>) -> Result<Vec<Passkey>, PasskeyError> {
    stored.into_iter().map(from_text).collect()
}

/// The credential id as stored: base64url, as browsers show it.
pub fn credential_id(passkey: &Passkey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode::<&[u8]>(passkey.cred_id().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_stable_for_any_id() {
        let uuid = "0195a0c4-0000-7000-8000-000000000001";
        assert_eq!(user_handle(uuid).to_string(), uuid);
        assert_eq!(user_handle("not-a-uuid"), user_handle("not-a-uuid"));
        assert_ne!(user_handle("a"), user_handle("b"));
    }
}
