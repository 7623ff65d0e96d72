//! A blocking client, for code that is not async (feature `blocking`).
//!
//! It is the async [`Client`](crate::Client) driven by a small Tokio
//! runtime that the blocking client owns, one worker thread, as
//! `reqwest::blocking` does: tokens are cached, shared and refreshed in the
//! background exactly as for async callers. It must not be used from async
//! code (a call from inside a Tokio runtime is [`Error::Runtime`]); use the
//! async client there.
//!
//! ```no_run
//! use casebook_sdk::records::CaseForm;
//! use casebook_sdk::{Client, ClientSecret, blocking};
//!
//! fn main() -> Result<(), casebook_sdk::Error> {
//!     let client = blocking::Client::new(
//!         Client::builder("https://casebook.example.org").client_credentials(
//!             "cb_0123456789abcdef0123456789abcdef",
//!             ClientSecret::from_presented(std::env::var("CASEBOOK_CLIENT_SECRET").unwrap_or_default()),
//!         ),
//!     )?;
//!     let me = client.me()?;
//!     let case = client.cases().create(&CaseForm::new("Family of four, housing"))?;
//!     println!("{} opened {}", me.name, case.id);
//!     // Anything else of the async API, run to completion:
//!     let roles = client.run(|c| async move { c.admin().roles().list().all().await })?;
//!     println!("{} roles", roles.len());
//!     Ok(())
//! }
//! ```

use crate::error::Error;
use crate::error::SecondStep;
use crate::model::{Case, Me, Report};
use crate::records::{CaseChange, CaseForm, ReportChange, ReportForm};
use crate::sign_in::SecondFactor;
use crate::token::{AccessToken, TokenSourceBuilder};
use casebook_domain::user::Password;
use casebook_domain::{CaseId, ReportId};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// The runtime the blocking types drive their calls on.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn new() -> Result<Arc<Self>, Error> {
        not_in_async("building a blocking client")?;
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("casebook-sdk")
            .enable_all()
            .build()
            .map(|rt| Arc::new(Self(Some(rt))))
            .map_err(|e| Error::Config(format!("could not start the blocking client's runtime: {e}")))
    }

    fn block_on<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        not_in_async("a blocking call")?;
        match &self.0 {
            Some(runtime) => Ok(runtime.block_on(future)),
            None => Err(Error::Runtime("the blocking client's runtime has stopped")),
        }
    }

    fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        self.0.as_ref().map(tokio::runtime::Runtime::enter)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Unlike a plain drop, this does not panic when the last clone goes
        // away inside async code; a refresh in flight is abandoned.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

fn not_in_async(what: &'static str) -> Result<(), Error> {
    match tokio::runtime::Handle::try_current() {
        Err(_) => Ok(()),
        Ok(_) => {
            tracing::debug!(what, "blocking casebook-sdk call inside a Tokio runtime refused");
            Err(Error::Runtime(
                "casebook_sdk::blocking must not be used from async code, where it would block a runtime \
                 thread; use casebook_sdk::Client there",
            ))
        }
    }
}

/// The blocking [`Client`](crate::Client). Cheap to clone; clones share the
/// runtime, the connection pool and the token.
#[derive(Clone)]
pub struct Client {
    client: crate::Client,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Client").field(&self.client).finish()
    }
}

impl Client {
    /// Builds the client the async builder describes, with a runtime of its own.
    pub fn new(builder: crate::ClientBuilder) -> Result<Self, Error> {
        let runtime = Runtime::new()?;
        let client = {
            let _entered = runtime.enter();
            builder.build()?
        };
        Ok(Self { client, runtime })
    }

    /// The async client underneath, for [`run`](Self::run)-style use elsewhere.
    pub fn as_async(&self) -> &crate::Client {
        &self.client
    }

    /// Runs any call of the async API to completion, for what this type
    /// does not wrap itself (the admin API, lists page by page, …).
    pub fn run<T, F>(&self, call: impl FnOnce(crate::Client) -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        self.runtime.block_on(call(self.client.clone()))?
    }

    /// `GET /api/v1/me`; see [`Client::me`](crate::Client::me).
    pub fn me(&self) -> Result<Me, Error> {
        self.run(|c| async move { c.me().await })
    }

    /// A token for this client's application, e.g. for another tool.
    pub fn token(&self) -> Result<AccessToken, Error> {
        self.run(|c| async move {
            match c.token_source() {
                Some(source) => source.token().await,
                None => Err(Error::Config("this client does not act as an application".into())),
            }
        })
    }

    /// Signs a person in; see [`Client::sign_in`](crate::Client::sign_in).
    /// Someone with a second factor gets [`Error::SecondFactorRequired`],
    /// finished with [`complete_sign_in`](Self::complete_sign_in).
    pub fn sign_in(&self, email: &str, password: &Password) -> Result<Client, Error> {
        let client = self.run(|c| async move { c.sign_in(email, password).await })?;
        Ok(self.sharing(client))
    }

    /// Signs a person in with their password and a code at once; see
    /// [`Client::sign_in_with`](crate::Client::sign_in_with).
    pub fn sign_in_with(
        &self,
        email: &str,
        password: &Password,
        second_factor: &SecondFactor,
    ) -> Result<Client, Error> {
        let client = self.run(|c| async move { c.sign_in_with(email, password, second_factor).await })?;
        Ok(self.sharing(client))
    }

    /// Finishes a sign-in that asked for a second factor; see
    /// [`SecondStep::complete`].
    pub fn complete_sign_in(&self, step: &SecondStep, second_factor: &SecondFactor) -> Result<Client, Error> {
        let client = self.run(|_| async move { step.complete(second_factor).await })?;
        Ok(self.sharing(client))
    }

    /// An async client driven by this one's runtime.
    fn sharing(&self, client: crate::Client) -> Self {
        Self {
            client,
            runtime: self.runtime.clone(),
        }
    }

    /// Signs the session out; see [`Client::sign_out`](crate::Client::sign_out).
    pub fn sign_out(&self) -> Result<(), Error> {
        self.run(|c| async move { c.sign_out().await })
    }

    /// Engage cases.
    pub fn cases(&self) -> Cases<'_> {
        Cases { client: self }
    }

    /// Intake reports.
    pub fn reports(&self) -> Reports<'_> {
        Reports { client: self }
    }
}

/// Engage cases, blocking; see [`crate::Cases`].
#[derive(Debug, Clone, Copy)]
pub struct Cases<'a> {
    client: &'a Client,
}

impl Cases<'_> {
    /// Every case, all pages collected (`engage:view`).
    pub fn all(&self) -> Result<Vec<Case>, Error> {
        self.client
            .run(|c| async move { c.cases().list().limit(100).all().await })
    }

    /// One case (`engage:view`).
    pub fn get(&self, id: &CaseId) -> Result<Case, Error> {
        self.client.run(|c| async move { c.cases().get(id).await })
    }

    /// Opens a case (`engage:create`), checked offline first.
    pub fn create(&self, form: &CaseForm) -> Result<Case, Error> {
        self.client.run(|c| async move { c.cases().create(form).await })
    }

    /// Changes a case (`engage:edit`), checked offline first.
    pub fn change(&self, id: &CaseId, change: &CaseChange) -> Result<Case, Error> {
        self.client.run(|c| async move { c.cases().change(id, change).await })
    }

    /// Removes a case (`engage:delete`).
    pub fn remove(&self, id: &CaseId) -> Result<(), Error> {
        self.client.run(|c| async move { c.cases().remove(id).await })
    }
}

/// Intake reports, blocking; see [`crate::Reports`].
#[derive(Debug, Clone, Copy)]
pub struct Reports<'a> {
    client: &'a Client,
}

impl Reports<'_> {
    /// Every report, all pages collected (`intake:view`).
    pub fn all(&self) -> Result<Vec<Report>, Error> {
        self.client
            .run(|c| async move { c.reports().list().limit(100).all().await })
    }

    /// One report (`intake:view`).
    pub fn get(&self, id: &ReportId) -> Result<Report, Error> {
        self.client.run(|c| async move { c.reports().get(id).await })
    }

    /// Files a report (`intake:create`), checked offline first.
    pub fn create(&self, form: &ReportForm) -> Result<Report, Error> {
        self.client.run(|c| async move { c.reports().create(form).await })
    }

    /// Changes a report (`intake:edit`), checked offline first.
    pub fn change(&self, id: &ReportId, change: &ReportChange) -> Result<Report, Error> {
        self.client.run(|c| async move { c.reports().change(id, change).await })
    }

    /// Removes a report (`intake:delete`).
    pub fn remove(&self, id: &ReportId) -> Result<(), Error> {
        self.client.run(|c| async move { c.reports().remove(id).await })
    }
}

/// The blocking [`TokenSource`](crate::TokenSource), for a token alone.
#[derive(Clone)]
pub struct TokenSource {
    source: crate::TokenSource,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::TokenSource").field(&self.source).finish()
    }
}

impl TokenSource {
    /// Builds the source the async builder describes, with a runtime of its own.
    pub fn new(builder: TokenSourceBuilder) -> Result<Self, Error> {
        let runtime = Runtime::new()?;
        let source = {
            let _entered = runtime.enter();
            builder.build()?
        };
        Ok(Self { source, runtime })
    }

    /// A token valid for a while yet; see [`TokenSource::token`](crate::TokenSource::token).
    pub fn token(&self) -> Result<AccessToken, Error> {
        let source = self.source.clone();
        self.runtime.block_on(async move { source.token().await })?
    }

    /// Forgets a token a resource server refused; see
    /// [`TokenSource::invalidate`](crate::TokenSource::invalidate).
    pub fn invalidate(&self, token: &AccessToken) {
        self.source.invalidate(token);
    }
}
