//! The settings of a token source and the credential it presents.

use super::assertion::Signer;
use super::endpoint::{HttpFetcher, Proof, SecretFile, basic_authorization, presented};
use super::{Describe, TokenSource};
use crate::dpop::Prover;
use crate::error::Error;
use crate::key::PrivateKey;
use crate::options::{ClientAuthMethod, SharedOptions, shared_setters};
use casebook_domain::ClientSecret;
use std::path::PathBuf;
use std::sync::Arc;

/// What proves the client at the token endpoint. Its `Debug` shows none of it.
#[derive(Debug)]
pub(crate) enum Credential {
    Secret(ClientSecret),
    /// A file holding the secret (a mounted Kubernetes Secret, say): read
    /// at the first token request, and again when the secret is refused.
    SecretFile(PathBuf),
    PrivateKey(PrivateKey),
    FederatedTokenFile(PathBuf),
}

/// The token endpoint path whose prefix is a Casebook install's issuer.
const TOKEN_PATH: &str = "/oauth2/token";

/// Settings of a [`TokenSource`]; finish with [`build`](Self::build).
#[derive(Debug)]
pub struct TokenSourceBuilder {
    token_url: String,
    client_id: String,
    credential: Credential,
    options: SharedOptions,
}

impl TokenSourceBuilder {
    pub(crate) fn new(token_url: String, client_id: String, credential: Credential) -> Self {
        Self {
            token_url,
            client_id,
            credential,
            options: SharedOptions::default(),
        }
    }

    shared_setters!();

    /// A [`Client`](crate::Client)'s settings, all at once.
    pub(crate) fn with_options(mut self, options: SharedOptions) -> Self {
        self.options = options;
        self
    }

    /// Checks the settings and builds the source, with an HTTP client of its
    /// own unless one was given with [`http_client`](Self::http_client).
    pub fn build(self) -> Result<TokenSource, Error> {
        let http = self.options.http.http()?;
        self.build_with(http)
    }

    pub(crate) fn build_with(self, http: crate::transport::Http) -> Result<TokenSource, Error> {
        let options = self.options;
        let token_url = crate::transport::checked_url(&self.token_url, options.http.allow_insecure_http)?;
        if !matches!(self.credential, Credential::PrivateKey(_))
            && (options.signing_alg.is_some() || options.audience.is_some())
        {
            return Err(Error::Config(
                "signing_alg and audience apply to a private key (private_key_jwt) only".into(),
            ));
        }
        let (proof, auth) = match self.credential {
            Credential::Secret(secret) => match (
                options.auth_method,
                presented(secret.expose(), options.check_secret_format)?,
            ) {
                (ClientAuthMethod::ClientSecretBasic, secret) => (
                    Proof::Basic(basic_authorization(&self.client_id, &secret)?),
                    "client_secret_basic".to_owned(),
                ),
                (ClientAuthMethod::ClientSecretPost, secret) => (Proof::Post(secret), "client_secret_post".to_owned()),
            },
            Credential::SecretFile(path) => {
                let method = match options.auth_method {
                    ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
                    ClientAuthMethod::ClientSecretPost => "client_secret_post",
                };
                let auth = format!("{method}, the secret read from {}", path.display());
                let file = SecretFile::new(path, options.auth_method, options.check_secret_format);
                (Proof::SecretFile(file), auth)
            }
            Credential::PrivateKey(key) => {
                let audience = match options.audience.clone() {
                    Some(audience) => audience,
                    None => issuer_of(&token_url)?,
                };
                let signer = Signer::new(key, options.signing_alg, self.client_id.clone(), audience)?;
                let auth = format!(
                    "private_key_jwt (kid {:?}, {}, aud {})",
                    signer.kid(),
                    signer.alg().as_str(),
                    signer.audience()
                );
                (Proof::Assertion(signer), auth)
            }
            Credential::FederatedTokenFile(path) => {
                let auth = format!("federated token file {}", path.display());
                (Proof::TokenFile(path), auth)
            }
        };
        let describe = Describe {
            token_url: token_url.to_string(),
            client_id: self.client_id.clone(),
            auth,
            scope: options.scope.clone(),
        };
        let dpop = options.dpop.map(|key| Arc::new(Prover::new(key)));
        let fetcher = HttpFetcher {
            http,
            dpop: dpop.clone(),
            token_url,
            client_id: self.client_id,
            proof,
            scope: options.scope,
        };
        Ok(TokenSource::from_fetcher(
            Box::new(fetcher),
            describe,
            dpop,
            options.retry,
            options.refresh_ahead,
        ))
    }
}

/// A Casebook install's issuer identifier, its public URL, is its token URL
/// less `/oauth2/token` (RFC 8414 metadata gives the same `issuer`).
fn issuer_of(token_url: &reqwest::Url) -> Result<String, Error> {
    token_url
        .as_str()
        .strip_suffix(TOKEN_PATH)
        .filter(|issuer| !issuer.ends_with('/'))
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::Config(format!(
                "{token_url} does not end in {TOKEN_PATH}, so the issuer identifier that assertions are \
                 addressed to cannot be told from it: set audience to the server's metadata `issuer`"
            ))
        })
}

#[cfg(test)]
mod tests;
