//! The OAuth 2.0 endpoints: token (RFC 6749 §4.4) and revocation (RFC 7009).
//! Introspection, which shares client authentication with them, is in
//! [`super::introspection`]; what a client discovers before it calls any of
//! them (metadata, the JWKS) is in [`super::discovery`].

use crate::client_auth::{self, AuthenticatedClient};
use crate::crypto::random_token;
use crate::dpop;
use crate::error::{OAuthError, OAuthErrorBody};
use crate::metrics::TokenOutcome;
use crate::state::AppState;
use crate::store::{self, ClientRecord, FederatedCredentialRecord};
use crate::tenancy::Tenant;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use casebook_domain::OAuthErrorCode;
use casebook_domain::dpop::judge::{Expected, Refused};
use casebook_domain::token_request::{self, Form, TokenRequest};
use casebook_domain::wire::Confirmation;
use std::net::{IpAddr, SocketAddr};
use utoipa::ToSchema;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(token))
        .routes(utoipa_axum::routes!(revoke))
}

pub use casebook_domain::token_request::MAX_FORM_BYTES;
pub use casebook_domain::wire::{IntrospectionResponse, ProtectedResourceMetadata, ServerMetadata, TokenResponse};

// Documentation of the wire form only: requests are read by
// `casebook_domain::token_request`, which is stricter than a derived form
// parser can be.
/// The form fields of a token request. Each parameter at most once; one sent
/// empty counts as absent (RFC 6749 §3.1, §3.2).
#[derive(Debug, ToSchema)]
pub struct TokenForm {
    #[schema(inline)]
    pub grant_type: GrantType,
    /// Space-separated permissions to narrow the token to; all granted when absent.
    #[schema(nullable = false, example = "engage:view engage:create")]
    pub scope: Option<String>,
    /// With `client_secret`, instead of HTTP Basic.
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[schema(nullable = false, format = Password)]
    pub client_secret: Option<String>,
    /// `private_key_jwt` (RFC 7523): `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
    /// with `client_assertion` and no secret or HTTP Basic.
    #[schema(nullable = false, example = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")]
    pub client_assertion_type: Option<String>,
    /// `private_key_jwt`: a compact JWS signed with one of the application's
    /// registered keys (RS256, PS256, ES256 or EdDSA, as the key allows),
    /// with `iss` and `sub` its Client ID, `aud` the issuer identifier
    /// (the install's public URL) as its only value, `exp` at most 5 minutes
    /// ahead (and after `iat`, if given) and a `jti` used once. When
    /// `client_id` is sent too, it must be the assertion's `iss`.
    #[schema(nullable = false, format = Password)]
    pub client_assertion: Option<String>,
    /// RFC 8707: the API the token is for. The install's public URL is the
    /// one resource (and every token's `aud`); any other value, or several,
    /// is `invalid_target`.
    #[schema(nullable = false, example = "https://casebook.agency.example")]
    pub resource: Option<String>,
}

/// `grant_type`: must be `client_credentials`, the one grant this server
/// supports (RFC 6749 §4.4).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum GrantType {
    ClientCredentials,
}

/// The form of introspection and revocation requests, read like a token
/// request's.
#[derive(Debug, ToSchema)]
pub struct TokenParamForm {
    /// The access token.
    pub token: String,
    /// `access_token` (the only kind this server issues); other hints are ignored.
    #[schema(nullable = false, example = "access_token")]
    pub token_type_hint: Option<String>,
    /// With `client_secret`, instead of HTTP Basic.
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[schema(nullable = false, format = Password)]
    pub client_secret: Option<String>,
    /// As at the token endpoint.
    #[schema(nullable = false)]
    pub client_assertion_type: Option<String>,
    /// As at the token endpoint.
    #[schema(nullable = false, format = Password)]
    pub client_assertion: Option<String>,
}

/// The client's address: the socket peer, or the client a trusted proxy
/// names (see [`crate::client_addr`]); `None` without a socket.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub Option<IpAddr>);

impl PeerAddr {
    /// The address of a request, from its parts: what the extractor and the
    /// authorization layer both use, so that they can never disagree.
    pub fn of(state: &AppState, extensions: &axum::http::Extensions, headers: &HeaderMap) -> Self {
        Self(
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| state.config().trusted_proxies.client_address(c.0.ip(), headers)),
        )
    }
}

impl FromRequestParts<AppState> for PeerAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self::of(state, &parts.extensions, &parts.headers))
    }
}

/// Past [`MAX_FORM_BYTES`], how much more of an oversized body is read and
/// dropped so that the connection stays usable for the client's next request.
const DRAIN_BYTES: usize = 64 * 1024;

/// Reads the body of an OAuth request, keeping at most [`MAX_FORM_BYTES`].
async fn read_body(body: Body) -> Result<Bytes, OAuthError> {
    use futures_util::StreamExt;
    let too_large = || OAuthError::invalid_request(format!("the form is larger than {MAX_FORM_BYTES} bytes"));
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            OAuthError::invalid_request(format!(
                "the form could not be read: it is larger than {MAX_FORM_BYTES} bytes, or the upload was cut short"
            ))
        })?;
        total = total.saturating_add(chunk.len());
        if total <= MAX_FORM_BYTES {
            kept.extend_from_slice(&chunk);
        } else if total > DRAIN_BYTES {
            return Err(too_large());
        }
    }
    if total > MAX_FORM_BYTES {
        return Err(too_large());
    }
    Ok(Bytes::from(kept))
}

pub(super) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Get an access token (client credentials).
///
/// Client credentials grant (RFC 6749 §4.4): trade a Client ID and secret
/// (HTTP Basic, or `client_id` and `client_secret` in the form), a signed
/// client assertion (`private_key_jwt`) or a trusted outside token for a
/// one-hour access token. Keep the token and reuse it until shortly before
/// `expires_in` runs out. With a `DPoP` header (RFC 9449: a proof JWT, `typ`
/// dpop+jwt, for `POST` and this endpoint's URL) the token is bound to the
/// proof's key: `token_type` is `DPoP` and the JWT carries `cnf.jkt`. Errors are
/// RFC 6749 JSON (`error`, `error_description`), not problem documents.
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    params(("DPoP" = Option<String>, Header,
        description = "RFC 9449 proof of possession: binds the token to the proof's key")),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "A new access token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "no-store"),
                ("DPoP-Nonce" = String, description = "When the server demands nonces: the one for the next proof"))),
        (status = 400, description = "RFC 6749 §5.2 error (invalid_request, unsupported_grant_type, invalid_scope, …), RFC 8707 invalid_target, or RFC 9449 invalid_dpop_proof (a DPoP proof refused, or none from an application with dpop_bound_access_tokens) and use_dpop_nonce (with a `DPoP-Nonce` header to put in the next proof)", body = OAuthErrorBody,
            headers(("DPoP-Nonce" = String, description = "With use_dpop_nonce: the nonce the next proof must carry"))),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications (`invalid_client`), or the application's `token_quota_per_hour` is spent (`temporarily_unavailable`); `Retry-After` says when to try again", body = OAuthErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn token(
    State(state): State<AppState>,
    tenant: Tenant,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let result = match read_body(body).await {
        Ok(body) => issue_token(&state, &tenant, &headers, &uri, &body, peer).await,
        Err(e) => Err(e),
    };
    let outcome = match &result {
        Ok(_) => TokenOutcome::Issued,
        Err(e) => TokenOutcome::refused(e.code, e.retry_after_secs.is_some()),
    };
    state.metrics().token_request(outcome);
    match result {
        Ok(response) => {
            let mut response = no_store(Json(response).into_response());
            // RFC 9449 §8.2: the nonce to use next, before the one held goes stale.
            if let Some(nonce) = dpop::fresh_nonce(&state, &tenant).and_then(|n| HeaderValue::from_str(&n).ok()) {
                response.headers_mut().insert(dpop::NONCE_HEADER, nonce);
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn issue_token(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
    peer: Option<IpAddr>,
) -> Result<TokenResponse, OAuthError> {
    let (request, form) = TokenRequest::parse(uri.query(), content_type(headers), body)?;
    let AuthenticatedClient {
        id: client_id,
        record,
        federated,
    } = client_auth::authenticate(state, tenant, headers, &form, peer).await?;
    let bound_to = proof_at_token_endpoint(state, tenant, headers, &record).await?;
    let client = token_request::AuthenticatedClient {
        client_id: &client_id,
        permissions: record.permissions,
        token_generation: record.token_generation,
    };
    let lifetime = state.token_lifetime_secs();
    let mut claims = token_request::issue(
        &client,
        &request,
        tenant.issuer(),
        state.now(),
        lifetime,
        random_token(),
    )?;
    let token_type = match bound_to {
        Some(jkt) => {
            claims.cnf = Some(Confirmation { jkt });
            "DPoP"
        }
        None => "Bearer",
    };
    // Counted only once the request is known to be grantable; taken back if
    // the token is not handed out after all.
    let counted = super::quota::admit(state, &client_id, &record).await?;
    let signed = async {
        let keys = state.keys_of(tenant).await.map_err(|e| match e {
            // Deleted through another replica a moment ago.
            crate::keys::KeyError::TenantGone => OAuthError::invalid_client(),
            e => {
                tracing::error!(error = %e, tenant = tenant.slug(), "could not load a tenant's signing keys");
                OAuthError::unavailable("the server could not sign the token; try again")
            }
        })?;
        let access_token = keys.sign(&claims).map_err(|e| {
            tracing::error!(error = %e, "could not sign an access token");
            OAuthError::unavailable("the server could not sign the token; try again")
        })?;
        if let Some(credential) = federated {
            record_exchange(state, tenant, &client_id, &record, &credential).await?;
        }
        Ok::<_, OAuthError>(access_token)
    }
    .await;
    let access_token = match signed {
        Ok(token) => token,
        Err(e) => {
            if let Some(grant) = counted {
                state.quotas().release(grant);
            }
            return Err(e);
        }
    };
    state.metrics().tokens_issued.inc();
    let counter = casebook_domain::usage::Counter::Issued;
    state.usage().count(tenant.id(), &client_id, counter, state.now());
    Ok(TokenResponse {
        access_token,
        token_type: token_type.to_owned(),
        expires_in: Some(lifetime),
        scope: Some(claims.scope),
    })
}

/// RFC 9449 §5: the proof beside a token request, judged for the token
/// endpoint's public URL; the thumbprint the token is bound to, or `None`
/// for a bearer token. An application with `dpop_bound_access_tokens` gets
/// no token without a proof.
async fn proof_at_token_endpoint(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    record: &ClientRecord,
) -> Result<Option<String>, OAuthError> {
    let proofs = dpop::proofs(headers);
    if proofs.is_empty() {
        if record.dpop_bound_access_tokens {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidDpopProof,
                "this application's tokens are DPoP-bound (dpop_bound_access_tokens): send a DPoP proof with the token request",
            ));
        }
        return Ok(None);
    }
    let url = format!("{}/oauth2/token", tenant.issuer());
    let expected = Expected {
        method: "POST",
        url: &url,
        bound: None,
    };
    match dpop::judge(state, tenant, &proofs, &expected).await {
        Ok(accepted) => Ok(Some(accepted.jkt)),
        Err(dpop::Failure::Refused(refused)) => {
            let code = match refused {
                Refused::NonceNeeded => OAuthErrorCode::UseDpopNonce,
                _ => OAuthErrorCode::InvalidDpopProof,
            };
            Err(OAuthError {
                dpop_nonce: dpop::fresh_nonce(state, tenant),
                ..OAuthError::new(code, refused.description())
            })
        }
        Err(dpop::Failure::Unavailable) => Err(OAuthError::unavailable(
            "the server could not check the DPoP proof; try again",
        )),
    }
}

/// The contract ("Audit trail") has every federated exchange in the trail. The token is not
/// handed out unless the record of it is written.
async fn record_exchange(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    client: &ClientRecord,
    credential: &FederatedCredentialRecord,
) -> Result<(), OAuthError> {
    let application = client.actor();
    tracing::info!(client_id, credential = %credential.id, "federated credential exchanged for a token");
    store::record_federated_exchange(&tenant.scope(state.db()), &application, credential)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not record a federated exchange");
            OAuthError::unavailable("the server could not record the exchange; try again")
        })
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

fn read_form(headers: &HeaderMap, uri: &Uri, body: &[u8]) -> Result<Form, OAuthError> {
    Ok(Form::parse(uri.query(), content_type(headers), body)?)
}

/// What introspection and revocation both start with: the form, read whole
/// and strictly, and the client it authenticates.
pub(super) async fn client_form(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    uri: &Uri,
    body: Body,
    peer: Option<IpAddr>,
) -> Result<(AuthenticatedClient, Form), OAuthError> {
    let body = read_body(body).await?;
    let form = read_form(headers, uri, &body)?;
    let client = client_auth::authenticate(state, tenant, headers, &form, peer).await?;
    Ok((client, form))
}

/// Revoke an access token.
///
/// RFC 7009: the token is refused everywhere from then on. Unknown or invalid tokens, and another client's, are
/// answered 200 too (and the latter left alive). The caller authenticates as a
/// client, as at the token endpoint.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth",
    request_body(content = TokenParamForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke: an unknown or invalid token, or another client's (left as it was)"),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications", body = OAuthErrorBody),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    tenant: Tenant,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let result = async {
        let (client, form) = client_form(&state, &tenant, &headers, &uri, body, peer).await?;
        let token = form.token()?;
        // Only well-formed tokens this tenant signed name a jti worth recording.
        let unavailable = |e: crate::keys::KeyError| {
            tracing::error!(error = %e, "could not read signing keys");
            OAuthError::unavailable("the server could not check the token; try again")
        };
        // A tenant deleted through another replica: nothing of it lives on.
        let keys = match state.keys_of(&tenant).await {
            Err(crate::keys::KeyError::TenantGone) => return Ok(()),
            other => other.map_err(unavailable)?,
        };
        let now = state.now().unix_secs();
        // A key rotated in elsewhere is read before the answer: a token it
        // signed must not be reported revoked and live on.
        let claims = match keys.verify_fresh(token, tenant.issuer(), now).await {
            Ok(Ok(claims)) => claims,
            Ok(Err(_)) | Err(crate::keys::KeyError::TenantGone) => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        };
        if claims.client_id != client.id {
            // Answered as for a token that is not ours at all: a distinct
            // answer would tell any client whether a stolen token still lives.
            tracing::debug!(client_id = %client.id, "revocation of another client's token ignored");
            return Ok(());
        }
        store::revoke_token(state.db(), &claims.jti, claims.exp)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "revocation failed");
                OAuthError::unavailable("the server could not record the revocation; try again")
            })?;
        // Other replicas learn of it from their next poll of revocations.
        state.caches().token_revoked(token, claims.jti, claims.exp);
        Ok::<(), OAuthError>(())
    }
    .await;
    match result {
        Ok(()) => no_store(axum::http::StatusCode::OK.into_response()),
        Err(e) => e.into_response(),
    }
}
