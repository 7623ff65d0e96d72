//! An application's federated credentials: outside identities (a
//! Kubernetes service account, a CI job) whose tokens it accepts in place
//! of a secret.

use super::{Applications, application_path};
use crate::error::Error;
use casebook_domain::wire::{FederatedCredential, FederatedCredentials};
use casebook_domain::{ApplicationId, FederatedCredentialForm, FederatedCredentialId};
use reqwest::Method;

fn federated_path<'a>(id: &'a ApplicationId, tail: &[&'a str]) -> Vec<&'a str> {
    application_path(id, "federated-credentials", tail)
}

impl Applications<'_> {
    /// The application's federated credentials, oldest first (`admin:view`).
    pub async fn list_federated_credentials(&self, id: &ApplicationId) -> Result<Vec<FederatedCredential>, Error> {
        let listed: FederatedCredentials = self
            .client
            .send(Method::GET, &federated_path(id, &[]), &[], None::<&()>)
            .await?;
        Ok(listed.items)
    }

    /// Trusts the tokens of an outside identity for the application
    /// (`admin:edit`). The form is checked first with the server's own rules
    /// ([`Error::Validation`], nothing sent); whether its name is free, the
    /// application's limit of 20, and whether a private `jwks_uri` is
    /// allowed on this install only the server can say.
    pub async fn add_federated_credential(
        &self,
        id: &ApplicationId,
        form: &FederatedCredentialForm,
    ) -> Result<FederatedCredential, Error> {
        form.validate_offline()?;
        self.client
            .send(Method::POST, &federated_path(id, &[]), &[], Some(form))
            .await
    }

    /// Stops trusting one outside identity; tokens already issued through it
    /// live out their hour (`admin:edit`).
    pub async fn remove_federated_credential(
        &self,
        id: &ApplicationId,
        credential_id: &FederatedCredentialId,
    ) -> Result<(), Error> {
        self.client
            .send_empty(
                Method::DELETE,
                &federated_path(id, &[credential_id.as_str()]),
                None::<&()>,
            )
            .await
    }
}
