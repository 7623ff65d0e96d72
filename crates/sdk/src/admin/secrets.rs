//! An application's several client secrets: listed, added, shown and ended
//! (`…/client-secrets`). Adding, showing and ending take a signed-in person.

use super::{Applications, application_path};
use crate::error::Error;
use crate::sign_in::Reauthentication;
use casebook_domain::user::Password;
use casebook_domain::wire::{ClientSecretInfo, ClientSecretValue, ClientSecrets, NewSecretRequest, RevealRequest};
use casebook_domain::{ApplicationId, SecretId, Timestamp};
use reqwest::Method;

/// What to call a new secret and when it should stop working; both
/// optional. Built with [`NewClientSecret::new`] and its setters, so that a
/// later field does not break callers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewClientSecret {
    /// What the list calls it; see [`NewClientSecret::label`].
    pub label: Option<String>,
    /// When it stops working; see [`NewClientSecret::expires_at`].
    pub expires_at: Option<Timestamp>,
}

impl NewClientSecret {
    /// No label, no expiry of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// Up to 100 characters, one line: tells it apart in the list.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// When it stops working; the install's most (if it sets one) applies too.
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }
}

fn secrets_path<'a>(id: &'a ApplicationId, tail: &[&'a str]) -> Vec<&'a str> {
    application_path(id, "client-secrets", tail)
}

impl Applications<'_> {
    /// Every secret of the application, newest first, without values
    /// (`admin:view`): label, expiry, last use (to the minute) and status.
    pub async fn list_secrets(&self, id: &ApplicationId) -> Result<Vec<ClientSecretInfo>, Error> {
        let listed: ClientSecrets = self
            .client
            .send(Method::GET, &secrets_path(id, &[]), &[], None::<&()>)
            .await?;
        Ok(listed.items)
    }

    /// Adds a secret beside the others (up to 5 active; a sixth is a 409
    /// [`Error::Api`]). The label and expiry are checked first with the
    /// server's own rules ([`Error::Validation`], nothing sent); whether the
    /// expiry lies ahead and within the install's most only the server can
    /// say. Only for a signed-in person, re-entering their `password`; with
    /// a second factor, use [`add_secret_with`](Self::add_secret_with).
    pub async fn add_secret(
        &self,
        id: &ApplicationId,
        password: &Password,
        secret: &NewClientSecret,
    ) -> Result<ClientSecretValue, Error> {
        self.add_secret_with(id, &Reauthentication::from(password), secret)
            .await
    }

    /// [`add_secret`](Self::add_secret) with the password and, for a person
    /// with a second factor, a code.
    pub async fn add_secret_with(
        &self,
        id: &ApplicationId,
        again: &Reauthentication,
        secret: &NewClientSecret,
    ) -> Result<ClientSecretValue, Error> {
        let (totp_code, recovery_code) = again.codes();
        let body = NewSecretRequest {
            password: again.password().clone(),
            label: secret.label.clone(),
            expires_at: secret.expires_at.map(Timestamp::to_rfc3339),
            totp_code,
            recovery_code,
            passkey: None,
        };
        body.fields()?;
        self.client
            .send(Method::POST, &secrets_path(id, &[]), &[], Some(&body))
            .await
    }

    /// Shows one secret by its id; like [`reveal_secret`](Self::reveal_secret),
    /// only for a signed-in person re-entering their `password`; with a
    /// second factor, use [`reveal_secret_by_id_with`](Self::reveal_secret_by_id_with).
    pub async fn reveal_secret_by_id(
        &self,
        id: &ApplicationId,
        secret_id: &SecretId,
        password: &Password,
    ) -> Result<ClientSecretValue, Error> {
        self.reveal_secret_by_id_with(id, secret_id, &Reauthentication::from(password))
            .await
    }

    /// [`reveal_secret_by_id`](Self::reveal_secret_by_id) with the password
    /// and, for a person with a second factor, a code.
    pub async fn reveal_secret_by_id_with(
        &self,
        id: &ApplicationId,
        secret_id: &SecretId,
        again: &Reauthentication,
    ) -> Result<ClientSecretValue, Error> {
        let (totp_code, recovery_code) = again.codes();
        let body = RevealRequest {
            password: again.password().clone(),
            totp_code,
            recovery_code,
            passkey: None,
        };
        self.client
            .send(
                Method::POST,
                &secrets_path(id, &[secret_id.as_str(), "reveal"]),
                &[],
                Some(&body),
            )
            .await
    }

    /// Ends one secret at once; the others keep working, and tokens already
    /// issued with it live out their hour.
    pub async fn end_secret(&self, id: &ApplicationId, secret_id: &SecretId) -> Result<(), Error> {
        self.client
            .send_empty(Method::DELETE, &secrets_path(id, &[secret_id.as_str()]), None::<&()>)
            .await
    }
}
