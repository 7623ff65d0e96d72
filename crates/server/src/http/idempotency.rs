//! `Idempotency-Key` on `POST` (the contract's "Partner experience"): the
//! same account sending the same key with the same request within 24 hours
//! gets the first answer again, marked `Idempotent-Replayed: true`, and
//! nothing is done twice; the same key with another request is 422; while
//! the first still runs, 409 (on the creations kept with their key, a
//! duplicate waits for the first's commit and replays it instead).
//!
//! A layer inside authorization, around the handler: the caller is known,
//! and the body is read once here, fingerprinted with the method and the
//! path, and handed on. Answers that a retry should redo (5xx, 429) give
//! the key back. A `POST` that needs no credential (signing in, a password
//! reset) has no account to hold a key, and is run as if none were sent.
//!
//! Two ways to keep a key, both written by [`crate::idempotency_writer`],
//! which group-commits many requests' rows. Most routes: the claim is
//! written before the handler runs (a duplicate on any replica then gets
//! 409) and the answer after. The partner API's creations, the hot path of
//! keyed POSTs, keep the key with the work instead ([`Keyed`]): the record
//! is built whole first, so its answer exists before anything is written,
//! and the record, the key and the answer commit in one transaction. A
//! duplicate then finds either nothing (and runs) or the answer (and
//! replays), never a half; and a keyed creation waits for one commit, not
//! two, beside its work rather than around it.

use super::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::idempotency::{self, Claim, ClaimRow, Existing, Held, LEASE_MICROS, Stored};
use crate::store::{self, NewRecord, Scope};
use crate::tenancy::Tenant;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casebook_domain::{ErrorCode, FieldError};
use std::convert::Infallible;
use std::sync::Arc;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key is kept.
const TTL_MICROS: i64 = 24 * 3600 * 1_000_000;
/// The most of an answer kept: admin and API answers are far smaller.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Routes whose handler keeps its key with its work, through [`Keyed`];
/// the test `routes_that_keep_their_own_key_take_it` fails when a listed
/// handler makes its record without it.
const KEPT_WITH_THE_WORK: &[&str] = &["/api/v1/engage/cases", "/api/v1/intake/reports"];

/// A key as the contract allows it: 1 to 255 printable ASCII characters.
fn valid_key(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    (!text.is_empty() && text.len() <= 255 && text.bytes().all(|b| (0x20..=0x7e).contains(&b))).then_some(text)
}

fn key_refused(message: &str) -> Response {
    ApiError::field(FieldError::new("Idempotency-Key", ErrorCode::InvalidValue, message)).into_response()
}

/// The layer; see the module's note.
pub async fn once(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let mut values = request.headers().get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return next.run(request).await;
    };
    let (Some(principal), Some(tenant)) = (
        request.extensions().get::<Principal>().cloned(),
        request.extensions().get::<Tenant>().cloned(),
    ) else {
        return next.run(request).await;
    };
    if values.next().is_some() {
        return key_refused("send one Idempotency-Key header, not several");
    }
    let Some(key) = valid_key(value).map(str::to_owned) else {
        return key_refused("an Idempotency-Key is 1 to 255 printable ASCII characters");
    };
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, super::MAX_JSON_BYTES).await {
        Ok(bytes) => bytes,
        // Too large, or stalled (the stall layer outside answers 408).
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    // Keyed: a body may hold a password (adding a secret re-asks for it).
    let fingerprint = crate::crypto::mac_of_parts(
        state.master().secret_mac_key(),
        &[
            parts.method.as_str().as_bytes(),
            b" ",
            parts.uri.path_and_query().map_or("", |p| p.as_str()).as_bytes(),
            b"\n",
            &bytes,
        ],
    );
    let account = format!("{}:{}", principal.kind.as_str(), principal.id);
    let at = tenant.scope(state.db());
    let context = format!("idempotency:{}:{account}:{key}", tenant.id());
    let held = Held {
        tenant: tenant.id().to_owned(),
        account,
        key,
    };
    let kept_with_the_work = parts
        .extensions
        .get::<MatchedPath>()
        .is_some_and(|path| KEPT_WITH_THE_WORK.contains(&path.as_str()));
    if kept_with_the_work {
        let pending = Arc::new(Pending {
            held,
            fingerprint: fingerprint.to_vec(),
            context,
        });
        let mut parts = parts;
        parts.extensions.insert(Keyed(Some(pending.clone())));
        let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
        if response.extensions().get::<Kept>().is_some() {
            return response;
        }
        return keep_refusal(&state, &at, &pending, response).await;
    }
    match claim(&state, &at, &held, &fingerprint).await {
        Err(e) => e.into_response(),
        Ok(Claim::Mismatch) => {
            key_refused("this Idempotency-Key was used with another request: a new request needs a new key")
        }
        Ok(Claim::Running) => still_running(),
        Ok(Claim::Replay(stored)) => replay(&state, &stored, &context),
        Ok(Claim::Claimed { claimed_at }) => {
            let request = Request::from_parts(parts, Body::from(bytes));
            let response = next.run(request).await;
            let claim = ClaimRow {
                held,
                fingerprint: fingerprint.to_vec(),
                claimed_at,
                expires_at: claimed_at.saturating_add(TTL_MICROS),
            };
            keep(&state, &at, claim, &context, response).await
        }
    }
}

/// The first request with a key inserts its claim (batched with others);
/// a later one finds the row and learns what it may do.
async fn claim(state: &AppState, at: &Scope, held: &Held, fingerprint: &[u8]) -> Result<Claim, ApiError> {
    // Twice at most: a row given back between the insert and the read is
    // claimed by the second insert, or by whoever beat it to it.
    for _ in 0..2 {
        let now = at.now_micros();
        let claim = ClaimRow {
            held: held.clone(),
            fingerprint: fingerprint.to_vec(),
            claimed_at: now,
            expires_at: now.saturating_add(TTL_MICROS),
        };
        let inserted = state.idempotency().claim(claim).await.map_err(unavailable)?;
        if inserted {
            return Ok(Claim::Claimed { claimed_at: now });
        }
        if let Some(claim) =
            idempotency::settle_existing(at, held.key_ref(), fingerprint, LEASE_MICROS, TTL_MICROS).await?
        {
            return Ok(claim);
        }
    }
    Ok(Claim::Running)
}

/// The writer could not write: 503, and the key stays free.
fn unavailable(e: String) -> ApiError {
    tracing::error!(error = %e, "could not record an Idempotency-Key");
    ApiError::Unavailable(sqlx::Error::Io(std::io::Error::other(
        "the Idempotency-Key record could not be written",
    )))
}

/// Keeps the answer of a claimed request (or gives the key back) and
/// passes it on.
async fn keep(state: &AppState, at: &Scope, claim: ClaimRow, context: &str, response: Response) -> Response {
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        if let Err(e) = idempotency::release(at, claim.held.key_ref(), claim.claimed_at).await {
            tracing::warn!(error = %e, "could not give an Idempotency-Key back; it lapses in a minute");
        }
        return response;
    }
    let (parts, bytes) = match answer_bytes(response).await {
        Ok(answer) => answer,
        Err(e) => {
            let _ = idempotency::release(at, claim.held.key_ref(), claim.claimed_at).await;
            return e.into_response();
        }
    };
    let stored = stored_answer(state, &parts, &bytes, context);
    if let Err(e) = state.idempotency().answer(claim, stored).await {
        // The work is done and answered; a retry waits out the lease, then runs again.
        tracing::error!(error = %e, "could not keep an answer for its Idempotency-Key");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A keyed request whose handler keeps the key itself.
#[derive(Debug)]
struct Pending {
    held: Held,
    fingerprint: Vec<u8>,
    context: String,
}

impl Pending {
    fn claim_row(&self, now: i64) -> ClaimRow {
        ClaimRow {
            held: self.held.clone(),
            fingerprint: self.fingerprint.clone(),
            claimed_at: now,
            expires_at: now.saturating_add(TTL_MICROS),
        }
    }
}

/// Marks an answer whose key was kept with the work.
#[derive(Debug, Clone, Copy)]
struct Kept;

/// The `Idempotency-Key` of a request to one of [`KEPT_WITH_THE_WORK`], if
/// it carries one: its handler makes its record through [`Keyed::create`].
#[derive(Debug, Clone, Default)]
pub struct Keyed(Option<Arc<Pending>>);

impl<S: Send + Sync> FromRequestParts<S> for Keyed {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Keyed>().cloned().unwrap_or_default())
    }
}

impl Keyed {
    /// Makes `record` and answers `answer`. With a key, the record, the key
    /// and the answer commit together, or, when the key was used already,
    /// nothing is made and that use's answer is given (or 409, or 422).
    pub async fn create(
        self,
        state: &AppState,
        at: &Scope,
        record: NewRecord,
        answer: Response,
    ) -> Result<Response, ApiError> {
        let Some(pending) = self.0 else {
            store::create_record(at, &record).await?;
            return Ok(answer);
        };
        let (parts, bytes) = answer_bytes(answer).await?;
        let stored = stored_answer(state, &parts, &bytes, &pending.context);
        let claim = pending.claim_row(at.now_micros());
        let made = state
            .idempotency()
            .create(claim, stored, record)
            .await
            .map_err(unavailable)?;
        if made {
            let mut response = Response::from_parts(parts, Body::from(bytes));
            response.extensions_mut().insert(Kept);
            return Ok(response);
        }
        let mut response = taken(state, at, &pending).await?;
        response.extensions_mut().insert(Kept);
        Ok(response)
    }
}

/// An answer given before anything was done (a refused form) on a route
/// whose handler keeps its key: kept as any answer is, in one row, unless a
/// duplicate kept one first, whose answer is then given instead.
async fn keep_refusal(state: &AppState, at: &Scope, pending: &Pending, response: Response) -> Response {
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    if status.is_success() {
        // A handler on the list that did its work without `Keyed`: its work
        // stands, unguarded; keep its answer all the same.
        tracing::error!(status = %status, "a route listed as keeping its own Idempotency-Key answered without it");
    }
    let outcome = async {
        let (parts, bytes) = answer_bytes(response).await?;
        let stored = stored_answer(state, &parts, &bytes, &pending.context);
        let claim = pending.claim_row(at.now_micros());
        let mut conn = at.pool().acquire().await.map_err(ApiError::Unavailable)?;
        if !idempotency::insert_answered(&mut conn, &[(&claim, &stored)], LEASE_MICROS)
            .await?
            .is_empty()
        {
            return Ok(Response::from_parts(parts, Body::from(bytes)));
        }
        taken(state, at, pending).await
    };
    outcome.await.unwrap_or_else(IntoResponse::into_response)
}

/// The answer to a request whose key another request holds.
async fn taken(state: &AppState, at: &Scope, pending: &Pending) -> Result<Response, ApiError> {
    let found = idempotency::existing(at, pending.held.key_ref(), &pending.fingerprint, LEASE_MICROS).await?;
    Ok(match found {
        Some(Existing::Live(Claim::Replay(stored))) => replay(state, &stored, &pending.context),
        Some(Existing::Live(Claim::Mismatch)) => {
            key_refused("this Idempotency-Key was used with another request: a new request needs a new key")
        }
        // Still running elsewhere, lapsed a moment ago, or gone since: a
        // retry in a moment settles it.
        _ => still_running(),
    })
}

async fn answer_bytes(answer: Response) -> Result<(axum::http::response::Parts, axum::body::Bytes), ApiError> {
    let (parts, body) = answer.into_parts();
    let bytes = to_bytes(body, MAX_ANSWER_BYTES)
        .await
        .map_err(|_| ApiError::internal("an answer too large to keep for its Idempotency-Key"))?;
    Ok((parts, bytes))
}

fn stored_answer(state: &AppState, parts: &axum::http::response::Parts, bytes: &[u8], context: &str) -> Stored {
    let text = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Stored {
        status: parts.status.as_u16(),
        content_type: text(header::CONTENT_TYPE),
        location: text(header::LOCATION),
        // An answer may carry a new secret: kept sealed, like every secret.
        body_sealed: state.master().seal(bytes, context),
    }
}

fn still_running() -> Response {
    let mut response = ApiError::Conflict {
        detail: "the first request with this Idempotency-Key is still running: retry in a moment".into(),
        holders: None,
    }
    .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
    response
}

fn replay(state: &AppState, stored: &Stored, context: &str) -> Response {
    let Ok(body) = state.master().open(&stored.body_sealed, context) else {
        // Sealed under a master key no longer configured.
        return ApiError::Conflict {
            detail: "the first answer to this Idempotency-Key can no longer be read: send the request with a new key"
                .into(),
            holders: None,
        }
        .into_response();
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (header::CONTENT_TYPE, &stored.content_type),
        (header::LOCATION, &stored.location),
    ] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    (status, headers, body).into_response()
}
