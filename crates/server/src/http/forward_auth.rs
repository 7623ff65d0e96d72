//! `/authz/check` (the contract's "Forward auth"): a reverse proxy in front
//! of the platform's other services asks whether a request may pass.
//!
//! The request judged is the one the proxy forwards: its method and URI
//! from `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik, Caddy),
//! `X-Original-Method`/`X-Original-URI` (nginx), or, for Envoy, the path
//! after `/authz/check` with the check's own method. The route policy
//! (`domain::gateway`) names the permission; the caller is established by
//! the very function `/api/v1` uses ([`super::auth::authenticate`]), so
//! revocation, a disabled application or tenant, a role taken away,
//! `allowed_sources` and DPoP hold here as there.
//!
//! Every refusal is 401 or 403: nginx's `auth_request` turns any other
//! status into a 500 for the client.

use super::auth::{self, Access, Target};
use super::oauth::PeerAddr;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tenancy::Tenant;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::gateway::{Decision, RouteAccess};
use casebook_domain::{AccountKind, Permission};

pub use super::auth::CHECK_PATH;

/// The forwarded request: its method and URI (path and query), or why it
/// cannot be told. Every way a proxy may say it is read; a proxy passes its
/// client's own headers on to the check too (nginx's `auth_request` does),
/// so if two of them name different requests, the client wrote one of
/// them and the check refuses rather than guess which.
fn forwarded(request: &Parts) -> Result<(String, String), &'static str> {
    let headers = &request.headers;
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let own_method = || request.method.as_str().to_owned();
    let mut named = Vec::new();
    // Traefik and Caddy send both; a URI alone keeps the check's method,
    // as nginx's subrequest keeps the original one.
    if let Some(uri) = text("x-forwarded-uri") {
        named.push((text("x-forwarded-method").unwrap_or_else(own_method), uri));
    }
    if let Some(uri) = text("x-original-uri") {
        named.push((text("x-original-method").unwrap_or_else(own_method), uri));
    }
    // Envoy: the original path after the check's own.
    if let Some(path) = request
        .uri
        .path()
        .strip_prefix(CHECK_PATH)
        .filter(|p| p.starts_with('/'))
    {
        let uri = match request.uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        named.push((own_method(), uri));
    }
    match named.split_first() {
        None => Err(
            "the proxy sent no original request: X-Forwarded-Method and X-Forwarded-Uri, X-Original-URI, or a path after /authz/check",
        ),
        Some((first, others)) if others.iter().all(|other| other == first) => Ok(first.clone()),
        Some(_) => Err("the request names two different original requests: the proxy's, and one a client wrote"),
    }
}

/// The scheme and host a DPoP proof's `htu` names: what a trusted proxy
/// says the client called, else the install's public URL.
fn public_origin(state: &AppState, request: &Parts) -> String {
    let peer = request
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = peer.is_some_and(|ip| state.config().trusted_proxies.trusts(ip));
    let headers = &request.headers;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if trusted
        && let (Some(proto @ ("http" | "https")), Some(host)) =
            (header("x-forwarded-proto"), header("x-forwarded-host"))
        && !host.is_empty()
        && !host.contains(['/', '@', ' '])
    {
        return format!("{proto}://{host}");
    }
    let public = &state.config().public_url;
    match url::Url::parse(public) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => public.clone(),
    }
}

/// The tenant a credential belongs to: a JWT's by its `iss`, any other
/// (an admin session) the one whose URL the check was called at.
async fn tenant_of(state: &AppState, headers: &HeaderMap, called_at: Tenant) -> Result<Tenant, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, token)| token.trim());
    let Some(token) = token.filter(|t| !t.starts_with(auth::SESSION_TOKEN_PREFIX)) else {
        return Ok(called_at);
    };
    let Some(issuer) = claimed_issuer(token) else {
        return Ok(called_at);
    };
    let issuer = issuer.as_str();
    let root = state.root_tenant();
    if issuer == root.issuer() {
        return Ok(root.clone());
    }
    let slug = issuer
        .strip_prefix(root.issuer())
        .and_then(|rest| rest.strip_prefix("/t/"))
        .filter(|slug| !slug.contains('/'));
    match slug {
        Some(slug) => match state.tenant(slug).await? {
            Some(tenant) if !tenant.is_root() => Ok(tenant),
            // An issuer no tenant has: judged where called, and refused
            // there as a token that tenant never signed.
            _ => Ok(called_at),
        },
        None => Ok(called_at),
    }
}

/// The `iss` a JWT claims, read without believing it: it only says which
/// tenant's keys and issuer the token is then verified against, strictly,
/// so a token claiming another tenant's issuer fails there.
fn claimed_issuer(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Claims {
        iss: String,
    }
    let claims = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(claims).ok()?;
    serde_json::from_slice::<Claims>(&bytes).ok().map(|claims| claims.iss)
}

/// `ANY /authz/check[/…]`.
pub async fn check(State(state): State<AppState>, request: Request) -> Response {
    // The body is never read: only the head says what is asked.
    let (request, _body) = request.into_parts();
    let Some(policy) = state.config().gateway_policy.clone() else {
        return ApiError::NotFound("route").into_response();
    };
    let (method, uri) = match forwarded(&request) {
        Ok(named) => named,
        Err(why) => return refused(ApiError::forbidden(why)),
    };
    let needs = match policy.decide(&method, &uri) {
        Decision::Route {
            access: RouteAccess::Public,
            ..
        } => return allowed(HeaderMap::new()),
        Decision::Route {
            access: RouteAccess::Needs(permission),
            ..
        } => permission,
        Decision::NoRoute => {
            return refused(ApiError::forbidden(
                "no route of the gateway policy matches this request",
            ));
        }
        Decision::Unsafe(why) => return refused(ApiError::forbidden(why.describe())),
    };
    let called_at = request
        .extensions
        .get::<Tenant>()
        .cloned()
        .unwrap_or_else(|| state.root_tenant().clone());
    match decide(&state, &request, called_at, &method, &uri, needs).await {
        Ok(headers) => allowed(headers),
        Err(e) => refused(e),
    }
}

async fn decide(
    state: &AppState,
    request: &Parts,
    called_at: Tenant,
    method: &str,
    uri: &str,
    needs: Permission,
) -> Result<HeaderMap, ApiError> {
    let headers = &request.headers;
    let tenant = tenant_of(state, headers, called_at).await?;
    let peer = PeerAddr::of(state, &request.extensions, headers).0;
    // Only a DPoP proof's `htu` names it: a bearer token's check skips the work.
    let dpop = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..5))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("dpop "));
    let origin = if dpop {
        public_origin(state, request)
    } else {
        String::new()
    };
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let target = Target {
        method,
        base: &origin,
        path,
    };
    let principal = auth::authenticate(state, &tenant, headers, &target, peer)
        .await?
        .ok_or_else(|| ApiError::Unauthorized {
            invalid_token: false,
            detail: "this route needs a token: an access token from /oauth2/token, or an admin session".into(),
        })?;
    auth::check(&principal, Access::Permission(needs))?;
    let mut identity = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            identity.insert(name, value);
        }
    };
    put("x-casebook-tenant", tenant.slug());
    put(
        "x-casebook-account-kind",
        match principal.kind {
            AccountKind::Application => "application",
            _ => "user",
        },
    );
    put("x-casebook-account-id", &principal.id);
    if let Some(client_id) = &principal.client_id {
        put("x-casebook-client-id", client_id);
    }
    put("x-casebook-permissions", &principal.permissions.to_scope());
    Ok(identity)
}

fn allowed(mut headers: HeaderMap) -> Response {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (StatusCode::OK, headers).into_response()
}

/// Any refusal as 401 or 403, the two answers every proxy passes on; the
/// server's own failures stay 5xx.
fn refused(error: ApiError) -> Response {
    let mut response = match error.status() {
        status if status.is_client_error() && status != StatusCode::FORBIDDEN => match error {
            e @ (ApiError::Unauthorized { .. } | ApiError::DpopRefused { .. }) => e.into_response(),
            other => ApiError::Unauthorized {
                invalid_token: true,
                detail: other.to_string(),
            }
            .into_response(),
        },
        _ => error.into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
