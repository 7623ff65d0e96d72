//! What the audit trail says of the request a change came in: the client
//! address as the server judged it (trusted proxies applied) and the
//! request's id. The request log sets it around each request, so every
//! event written while the request is served carries both without each
//! handler passing them down; work outside a request (housekeeping, the
//! command line) has neither.

use axum::http::HeaderValue;
use std::future::Future;
use std::net::IpAddr;

tokio::task_local! {
    static CURRENT: RequestContext;
}

#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub source: Option<IpAddr>,
    /// Already bounded and visible ASCII (the request log's rule).
    pub request_id: Option<HeaderValue>,
}

impl RequestContext {
    /// The context of the request being served, or an empty one.
    pub fn current() -> Self {
        CURRENT.try_with(Clone::clone).unwrap_or_default()
    }

    /// Runs `work` with this context as the current one.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_ref().and_then(|id| id.to_str().ok())
    }
}
