//! Who is calling, and may they: one authentication layer and one
//! authorization table for every route.

use super::request_log::LoggedPrincipal;
use crate::crypto::token_digest;
use crate::error::ApiError;
use crate::keys::{KeyError, TokenError};
use crate::state::{AppState, VerifiedToken};
use crate::store::{self, ActorRef, Author};
use crate::tenancy::Tenant;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casebook_domain::{AccountKind, Action, Module, Permission, PermissionSet};
use std::sync::Arc;

/// Session tokens carry this prefix; anything else presented as a bearer
/// credential is treated as a JWT access token.
pub const SESSION_TOKEN_PREFIX: &str = "cbsess_";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: AccountKind,
    pub id: String,
    pub name: String,
    pub permissions: PermissionSet,
    /// For an application: its Client ID.
    pub client_id: Option<String>,
    /// For an application: the scope of its token, which bounds what it may
    /// do and grant even where its roles grant more.
    pub token_scope: Option<PermissionSet>,
    /// For a signed-in user: the digest of the session token.
    pub session: Option<Vec<u8>>,
    /// A person whose tenant requires a second factor they have not
    /// enrolled: until they do, only their own sign-in is open to them.
    pub must_enrol: bool,
}

impl Principal {
    pub fn actor(&self) -> ActorRef {
        ActorRef {
            kind: self.kind,
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }

    /// The caller as the author of an admin change, for the grant rule.
    pub fn author(&self) -> Author {
        Author {
            actor: self.actor(),
            token_scope: self.token_scope,
        }
    }
}

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, no credential (health, discovery, the token endpoint itself).
    Public,
    /// Any valid credential.
    Authenticated,
    /// A signed-in person, whatever they hold: their own sign-in settings.
    Person,
    /// A credential whose permissions include this one.
    Permission(Permission),
    /// A signed-in person (not an application) holding this permission:
    /// secrets are shown only to someone who can re-enter a password.
    SignedInUser(Permission),
}

#[derive(Debug, Clone)]
pub struct RouteAccess {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

const fn perm(module: Module, action: Action) -> Access {
    Access::Permission(Permission::new(module, action))
}

const fn rule(method: Method, path: &'static str, access: Access) -> RouteAccess {
    RouteAccess { method, path, access }
}

use Action::{Create, Delete, Edit, View};
use Module::{Admin, Engage, Intake, Tenants};

/// The access table: every route the server has, with what it requires. It
/// reads like the contract's "Admin and Casebook APIs"; a test holds it and the router to the same set.
pub const ROUTES: &[RouteAccess] = &[
    // Operations and discovery.
    rule(Method::GET, "/healthz", Access::Public),
    rule(Method::GET, "/readyz", Access::Public),
    rule(Method::GET, "/metrics", Access::Public),
    rule(Method::GET, "/openapi.json", Access::Public),
    rule(Method::GET, "/.well-known/oauth-authorization-server", Access::Public),
    rule(Method::GET, "/.well-known/jwks.json", Access::Public),
    rule(Method::GET, "/.well-known/oauth-protected-resource", Access::Public),
    // OAuth: clients authenticate inside the request.
    rule(Method::POST, "/oauth2/token", Access::Public),
    rule(Method::POST, "/oauth2/introspect", Access::Public),
    rule(Method::POST, "/oauth2/revoke", Access::Public),
    // Leak reports: signed by the reporter, checked inside the request.
    rule(Method::POST, "/secret-scanning/github", Access::Public),
    // Admin sessions.
    rule(Method::POST, "/admin/v1/sessions", Access::Public),
    rule(Method::POST, "/admin/v1/sessions/mfa", Access::Public),
    rule(Method::POST, "/admin/v1/sessions/mfa/passkey", Access::Public),
    rule(Method::DELETE, "/admin/v1/sessions/current", Access::Authenticated),
    // A person's own sign-in: open to one who must enrol before anything else.
    rule(Method::POST, "/admin/v1/users/me/totp", Access::Person),
    rule(Method::DELETE, "/admin/v1/users/me/totp", Access::Person),
    rule(Method::POST, "/admin/v1/users/me/totp/confirm", Access::Person),
    rule(Method::GET, "/admin/v1/users/me/passkeys", Access::Person),
    rule(Method::POST, "/admin/v1/users/me/passkeys", Access::Person),
    rule(Method::POST, "/admin/v1/users/me/passkeys/options", Access::Person),
    rule(Method::DELETE, "/admin/v1/users/me/passkeys/{id}", Access::Person),
    rule(Method::POST, "/admin/v1/users/me/passkeys/challenge", Access::Person),
    // Links that set a password: the token in the body is the credential.
    rule(Method::POST, "/admin/v1/password-resets", Access::Public),
    rule(Method::POST, "/admin/v1/set-password", Access::Public),
    rule(Method::GET, "/admin/v1/settings", perm(Admin, View)),
    rule(Method::PATCH, "/admin/v1/settings", perm(Admin, Edit)),
    // Admin API: admin:view to read, admin:create/edit/delete to change.
    rule(Method::GET, "/admin/v1/tenants", perm(Tenants, View)),
    rule(Method::POST, "/admin/v1/tenants", perm(Tenants, Create)),
    rule(Method::GET, "/admin/v1/tenants/{slug}", perm(Tenants, View)),
    rule(Method::PATCH, "/admin/v1/tenants/{slug}", perm(Tenants, Edit)),
    rule(Method::DELETE, "/admin/v1/tenants/{slug}", perm(Tenants, Delete)),
    rule(Method::GET, "/admin/v1/roles", perm(Admin, View)),
    rule(Method::POST, "/admin/v1/roles", perm(Admin, Create)),
    rule(Method::GET, "/admin/v1/roles/{id}", perm(Admin, View)),
    rule(Method::PATCH, "/admin/v1/roles/{id}", perm(Admin, Edit)),
    rule(Method::DELETE, "/admin/v1/roles/{id}", perm(Admin, Delete)),
    rule(Method::GET, "/admin/v1/users", perm(Admin, View)),
    rule(Method::POST, "/admin/v1/users", perm(Admin, Create)),
    rule(Method::GET, "/admin/v1/users/{id}", perm(Admin, View)),
    rule(Method::PATCH, "/admin/v1/users/{id}", perm(Admin, Edit)),
    rule(Method::DELETE, "/admin/v1/users/{id}", perm(Admin, Delete)),
    rule(Method::GET, "/admin/v1/external-applications", perm(Admin, View)),
    rule(Method::POST, "/admin/v1/external-applications", perm(Admin, Create)),
    rule(Method::GET, "/admin/v1/external-applications/{id}", perm(Admin, View)),
    rule(Method::PATCH, "/admin/v1/external-applications/{id}", perm(Admin, Edit)),
    rule(
        Method::DELETE,
        "/admin/v1/external-applications/{id}",
        perm(Admin, Delete),
    ),
    rule(
        Method::POST,
        "/admin/v1/external-applications/{id}/client-secret/reveal",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(
        Method::POST,
        "/admin/v1/external-applications/{id}/client-secret/rotate",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(
        Method::GET,
        "/admin/v1/external-applications/{id}/client-secrets",
        perm(Admin, View),
    ),
    // A secret is a lasting way in: only a signed-in person may add, show
    // or end one, never an application's token.
    rule(
        Method::POST,
        "/admin/v1/external-applications/{id}/client-secrets",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(
        Method::POST,
        "/admin/v1/external-applications/{id}/client-secrets/{secret_id}/reveal",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(
        Method::DELETE,
        "/admin/v1/external-applications/{id}/client-secrets/{secret_id}",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(
        Method::GET,
        "/admin/v1/external-applications/{id}/federated-credentials",
        perm(Admin, View),
    ),
    // Trusting an outside identity hands out a lasting way in, like a
    // secret: only a signed-in person may, never an application's token.
    rule(
        Method::POST,
        "/admin/v1/external-applications/{id}/federated-credentials",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(
        Method::DELETE,
        "/admin/v1/external-applications/{id}/federated-credentials/{credential_id}",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(
        Method::GET,
        "/admin/v1/external-applications/{id}/usage",
        perm(Admin, View),
    ),
    rule(Method::GET, "/admin/v1/usage", perm(Admin, View)),
    rule(Method::GET, "/admin/v1/audit-events", perm(Admin, View)),
    rule(Method::GET, "/admin/v1/audit-events/export", perm(Admin, View)),
    // An endpoint receives the audit trail: only a signed-in person may add,
    // change or remove one (holding admin:view too, which the handler checks).
    rule(Method::GET, "/admin/v1/webhooks", perm(Admin, View)),
    rule(
        Method::POST,
        "/admin/v1/webhooks",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(Method::GET, "/admin/v1/webhooks/{id}", perm(Admin, View)),
    rule(
        Method::PATCH,
        "/admin/v1/webhooks/{id}",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(
        Method::DELETE,
        "/admin/v1/webhooks/{id}",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    rule(Method::GET, "/admin/v1/webhooks/{id}/deliveries", perm(Admin, View)),
    rule(
        Method::POST,
        "/admin/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
        Access::SignedInUser(Permission::new(Admin, Edit)),
    ),
    // Casebook API.
    rule(Method::GET, "/api/v1/me", Access::Authenticated),
    rule(Method::GET, "/api/v1/engage/cases", perm(Engage, View)),
    rule(Method::POST, "/api/v1/engage/cases", perm(Engage, Create)),
    rule(Method::GET, "/api/v1/engage/cases/{id}", perm(Engage, View)),
    rule(Method::PATCH, "/api/v1/engage/cases/{id}", perm(Engage, Edit)),
    rule(Method::DELETE, "/api/v1/engage/cases/{id}", perm(Engage, Delete)),
    rule(Method::GET, "/api/v1/intake/reports", perm(Intake, View)),
    rule(Method::POST, "/api/v1/intake/reports", perm(Intake, Create)),
    rule(Method::GET, "/api/v1/intake/reports/{id}", perm(Intake, View)),
    rule(Method::PATCH, "/api/v1/intake/reports/{id}", perm(Intake, Edit)),
    rule(Method::DELETE, "/api/v1/intake/reports/{id}", perm(Intake, Delete)),
];

/// Forward auth's check; Envoy appends the original path to it.
pub const CHECK_PATH: &str = "/authz/check";

/// Whether `path` (as routed) is forward auth's check, which authenticates
/// the request it is told of rather than its own.
pub fn is_check_path(path: &str) -> bool {
    path == CHECK_PATH || path.starts_with("/authz/check/")
}

/// Pages served outside the OpenAPI document: the admin console and the
/// rendered API reference. They are public; the API calls they make are not.
pub fn is_undocumented_page(path: &str) -> bool {
    super::console::is_page(path)
}

/// The writes that go through the grant rule (`domain::grant`): every change
/// to a role, a user or an application, and seeing or replacing a secret;
/// the OpenAPI document names `missing_permissions` for exactly these.
pub fn grant_checked(method: &Method, path: &str) -> bool {
    let admin_records = ["/admin/v1/roles", "/admin/v1/users", "/admin/v1/external-applications"];
    // A person's own sign-in settings change no one's permissions.
    *method != Method::GET
        && !path.starts_with("/admin/v1/users/me/")
        && admin_records.iter().any(|prefix| path.starts_with(prefix))
}

pub fn access_of(method: &Method, path: &str) -> Option<Access> {
    ROUTES
        .iter()
        .find(|r| r.method == *method && r.path == path)
        .map(|r| r.access)
}

/// The middleware that enforces [`ROUTES`]. Unknown paths fall through to the
/// router's 404; a routed path missing from the table is refused (fail closed).
pub async fn authorize(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return next.run(request).await;
    };
    // Forward auth judges the request it is told of, not its own.
    if is_undocumented_page(&path) || is_check_path(&path) {
        return next.run(request).await;
    }
    let method = if request.method() == Method::HEAD {
        Method::GET
    } else {
        request.method().clone()
    };
    let Some(access) = access_of(&method, &path) else {
        // A method the route does not serve: 405 in our format, naming the
        // methods that are served (RFC 9110 §15.5.6).
        let served: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.method.as_str())
            .collect();
        if !served.is_empty() {
            let mut allow = served.join(", ");
            if served.contains(&"GET") {
                allow.push_str(", HEAD");
            }
            return ApiError::MethodNotAllowed {
                method: method.to_string(),
                allow,
            }
            .into_response();
        }
        return ApiError::internal(format!("route {method} {path} has no access rule")).into_response();
    };
    if access == Access::Public {
        return next.run(request).await;
    }
    let peer = super::oauth::PeerAddr::of(&state, request.extensions(), request.headers()).0;
    let Some(tenant) = request.extensions().get::<Tenant>().cloned() else {
        return ApiError::internal("a request reached authorization without its tenant").into_response();
    };
    let target = Target {
        method: request.method().as_str(),
        base: tenant.issuer(),
        path: request.uri().path(),
    };
    let principal = match authenticate(&state, &tenant, request.headers(), &target, peer).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return ApiError::Unauthorized {
                invalid_token: false,
                detail: "this endpoint needs a bearer token: an access token from /oauth2/token, or an admin session"
                    .into(),
            }
            .into_response();
        }
        Err(e) => return e.into_response(),
    };
    // RFC 9449 §9: beside every answer to a proof, the nonce for the next.
    let nonce = match request.headers().contains_key(crate::dpop::HEADER) {
        true => crate::dpop::fresh_nonce(&state, &tenant),
        false => None,
    };
    // The request log names who called, refused or not.
    let logged = LoggedPrincipal {
        kind: principal.kind,
        id: principal.id.clone(),
    };
    let mut response = match check(&principal, access) {
        Err(e) => {
            // An application's own token refused here is part of its usage.
            if let Some(client_id) = principal.client_id.as_deref() {
                let counter = casebook_domain::usage::Counter::ApiRefused;
                state.usage().count(tenant.id(), client_id, counter, state.now());
            }
            e.into_response()
        }
        Ok(()) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
    };
    response.extensions_mut().insert(logged);
    if let Some(nonce) = nonce.and_then(|n| axum::http::HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert(crate::dpop::NONCE_HEADER, nonce);
    }
    response
}

/// Whether `principal` may pass `access`: the one rule every route and
/// forward auth apply.
pub fn check(principal: &Principal, access: Access) -> Result<(), ApiError> {
    let needs = match access {
        Access::Public | Access::Authenticated => return Ok(()),
        Access::Person if principal.session.is_some() => return Ok(()),
        Access::Person => {
            return Err(ApiError::forbidden(
                "this is a signed-in person's own setting; an application has none",
            ));
        }
        _ if principal.must_enrol => return Err(ApiError::MfaEnrolmentRequired),
        Access::Permission(p) => p,
        Access::SignedInUser(p) => {
            if principal.session.is_none() {
                return Err(ApiError::forbidden(
                    "only a signed-in person can do this (see or rotate a client secret, add or change a webhook); an application cannot",
                ));
            }
            p
        }
    };
    if principal.permissions.contains(needs) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            detail: format!("this needs the {needs} permission, which the caller does not have"),
            insufficient_scope: Some(needs.to_string()),
        })
    }
}

/// How an access token is presented (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// The request a credential came with: what a DPoP proof must name.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub method: &'a str,
    /// The public URL `path` is below: the tenant's base URL, or at
    /// forward auth the origin the client called.
    pub base: &'a str,
    pub path: &'a str,
}

fn credential(headers: &axum::http::HeaderMap) -> Result<Option<(Scheme, &str)>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    // Which of two credentials counts is a guess a proxy and this server
    // could make differently (RFC 6750 §3.1: invalid_request).
    if values.next().is_some() {
        return Err(ApiError::BadRequest(
            "the request carries more than one Authorization header; send exactly one".into(),
        ));
    }
    let invalid = || ApiError::Unauthorized {
        invalid_token: true,
        detail: "the Authorization header must be `Bearer <token>` or `DPoP <token>`".into(),
    };
    let value = value.to_str().map_err(|_| invalid())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(invalid)?;
    // Auth schemes compare without case (RFC 9110 §11.1).
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(invalid());
    };
    if token.trim().is_empty() {
        return Err(invalid());
    }
    Ok(Some((scheme, token.trim())))
}

/// Turns the credential into a principal; `Ok(None)` when there is none.
/// `peer` is the client's address, which an application's
/// `allowed_sources` must hold for its token to count; `target` is what a
/// DPoP-bound token's proof must be made for.
pub async fn authenticate(
    state: &AppState,
    tenant: &Tenant,
    headers: &axum::http::HeaderMap,
    target: &Target<'_>,
    peer: Option<std::net::IpAddr>,
) -> Result<Option<Principal>, ApiError> {
    let Some((scheme, token)) = credential(headers)? else {
        return Ok(None);
    };
    if token.starts_with(SESSION_TOKEN_PREFIX) {
        if scheme == Scheme::Dpop {
            return Err(ApiError::Unauthorized {
                invalid_token: true,
                detail: "an admin session is sent as `Authorization: Bearer <session>`".into(),
            });
        }
        let digest = token_digest(token);
        let at = tenant.scope(state.db());
        // Another tenant's session is not found here, as an unknown one; a
        // disabled tenant's people cannot be signed in.
        let user = match tenant.is_enabled() {
            true => store::session_user(&at, &digest).await?,
            false => None,
        };
        let Some(user) = user else {
            return Err(ApiError::Unauthorized {
                invalid_token: true,
                detail: "the session has expired or was signed out; sign in again".into(),
            });
        };
        let permissions = store::permissions_of(&at, store::RoleHolder::User(&user.user_id)).await?;
        return Ok(Some(Principal {
            must_enrol: casebook_domain::mfa::must_enrol(user.tenant_requires_mfa, permissions, user.second_factor),
            kind: AccountKind::User,
            id: user.user_id,
            name: user.name,
            permissions,
            client_id: None,
            token_scope: None,
            session: Some(digest),
        }));
    }
    let verified = verify_access_token(state, tenant, token)
        .await
        .map_err(|refusal| match refusal {
            Refusal::Invalid(detail) => ApiError::Unauthorized {
                invalid_token: true,
                detail,
            },
            Refusal::Ended { client_id, detail } => {
                let counter = casebook_domain::usage::Counter::ApiRefused;
                state.usage().count(tenant.id(), &client_id, counter, state.now());
                ApiError::Unauthorized {
                    invalid_token: true,
                    detail,
                }
            }
            Refusal::Storage(e) => match e.downcast::<sqlx::Error>() {
                Ok(e) => ApiError::from(*e),
                Err(e) => ApiError::Internal(e),
            },
        })?;
    if !crate::sources::admitted(verified.allowed_sources.as_deref(), peer) {
        let what = crate::sources::Refused::Token;
        let counter = casebook_domain::usage::Counter::ApiRefused;
        state
            .usage()
            .count(tenant.id(), &verified.client_id, counter, state.now());
        state.refuse_source(tenant.id(), &verified.application_id, &verified.name, peer, what);
        return Err(ApiError::Unauthorized {
            invalid_token: true,
            detail: "this application's tokens are not accepted from this address (allowed_sources)".into(),
        });
    }
    // A bound token is no bearer token: sent as one (a downgrade), it is
    // refused whatever else the request carries (RFC 9449 §7.2).
    match (scheme, verified.jkt.as_deref()) {
        (Scheme::Bearer, None) => {}
        (Scheme::Bearer, Some(_)) => {
            return Err(ApiError::Unauthorized {
                invalid_token: true,
                detail: "this access token is DPoP-bound: send it as `Authorization: DPoP <token>` with a DPoP proof"
                    .into(),
            });
        }
        (Scheme::Dpop, None) => {
            return Err(ApiError::Unauthorized {
                invalid_token: true,
                detail: "this access token is not DPoP-bound: send it as `Authorization: Bearer <token>`".into(),
            });
        }
        (Scheme::Dpop, Some(jkt)) => {
            let url = format!("{}{}", target.base, target.path);
            crate::dpop::check_at_api(state, tenant, headers, target.method, &url, token, jkt).await?;
        }
    }
    Ok(Some(Principal {
        kind: AccountKind::Application,
        id: verified.application_id.clone(),
        name: verified.name.clone(),
        permissions: verified.permissions,
        client_id: Some(verified.client_id.clone()),
        token_scope: Some(verified.scope),
        session: None,
        must_enrol: false,
    }))
}

/// A disabled tenant's tokens.
const TENANT_REFUSES: &str = "the access token's tenant is disabled";

/// Why a token is not honoured.
#[derive(Debug)]
pub enum Refusal {
    /// The token is not honoured; the message goes to the client.
    Invalid(String),
    /// A token this tenant signed for an application it knows, no longer
    /// honoured (expired, revoked, its application disabled): as `Invalid`,
    /// and at the APIs a refusal counted in that application's usage.
    Ended { client_id: String, detail: String },
    /// Storage or keys could not be read: the server's fault, not the token's.
    Storage(Box<dyn std::error::Error + Send + Sync>),
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(Box::new(e))
    }
}

impl From<TokenError> for Refusal {
    fn from(e: TokenError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// A token this tenant signed for `client_id` (so the application is
/// known, not claimed) and no longer honours.
fn ended(client_id: &str, refusal: Refusal) -> Refusal {
    match refusal {
        Refusal::Invalid(detail) => Refusal::Ended {
            client_id: client_id.to_owned(),
            detail,
        },
        other => other,
    }
}

/// Checks an access token: signature and claims once per token, then
/// revocation and the application's state again whenever the cache entry is
/// no longer trusted (see [`crate::state::Caches`]).
pub async fn verify_access_token(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<Arc<VerifiedToken>, Refusal> {
    let now = state.now().unix_secs();
    let (hit, fresh) = state.caches().token(token);
    if let Some(hit) = hit {
        state.metrics().access_token_cache.hit();
        // Another tenant's token is refused as one this tenant never signed.
        if hit.tenant_id != tenant.id() {
            return Err(TokenError::BadSignature.into());
        }
        if !tenant.serves() {
            return Err(Refusal::Invalid(TENANT_REFUSES.into()));
        }
        if hit.exp <= now {
            return Err(ended(&hit.client_id, TokenError::Expired.into()));
        }
        // Revocations do not move the cache epoch (one client revoking its
        // tokens must not empty every cache); they are checked here instead.
        if state.caches().is_revoked(&hit.jti) {
            let revoked = Refusal::Invalid("the access token has been revoked".into());
            return Err(ended(&hit.client_id, revoked));
        }
        return Ok(hit);
    }
    state.metrics().access_token_cache.miss();
    // A tenant deleted through another replica has no keys left: its
    // tokens are refused as ones it never signed.
    let unreadable = |e: KeyError| match e {
        KeyError::TenantGone => Refusal::from(TokenError::BadSignature),
        e => Refusal::Storage(Box::new(e)),
    };
    let keys = state.keys_of(tenant).await.map_err(unreadable)?;
    let claims = keys
        .verify_fresh(token, tenant.issuer(), now)
        .await
        .map_err(unreadable)??;
    if !tenant.serves() {
        return Err(Refusal::Invalid(TENANT_REFUSES.into()));
    }
    let revoked = || Refusal::Invalid("the access token has been revoked".into());
    // Read afresh rather than from the client cache: this entry will be
    // trusted for a full TTL, so it must not start out already aged.
    let client = store::client_record(state.db(), &claims.client_id)
        .await?
        .filter(|client| client.tenant_id == tenant.id())
        .ok_or_else(revoked)?;
    if !client.enabled {
        let disabled = Refusal::Invalid("the application is disabled".into());
        return Err(ended(&claims.client_id, disabled));
    }
    if claims.generation != client.token_generation {
        let stale = Refusal::Invalid(
            "the access token was issued before the application was last disabled or its secret was rotated without a grace period"
                .into(),
        );
        return Err(ended(&claims.client_id, stale));
    }
    if store::is_revoked(state.db(), &claims.jti).await? {
        return Err(ended(&claims.client_id, revoked()));
    }
    let scope = PermissionSet::parse_scope(&claims.scope).map_err(|_| TokenError::Malformed)?;
    // The entry lives only while the cache epoch stands, and every change to
    // the application's roles or to a role moves it (here at once, on other
    // replicas within a poll): a permission taken away stops working on live
    // tokens without waiting for them to expire.
    let verified = Arc::new(VerifiedToken {
        tenant_id: tenant.id().to_owned(),
        permissions: scope.intersection(client.permissions),
        scope,
        jti: claims.jti,
        client_id: claims.client_id,
        application_id: client.application_id.clone(),
        name: client.name.clone(),
        iat: claims.iat,
        exp: claims.exp,
        allowed_sources: client.limits.allowed_sources.clone(),
        jkt: claims.cnf.map(|cnf| cnf.jkt),
    });
    state.caches().remember_token(token, verified.clone(), &fresh);
    Ok(verified)
}

/// The caller, as the authorization layer established it.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::internal("handler needs a caller but its route is public"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(seen.insert((r.method.clone(), r.path)), "{} {} twice", r.method, r.path);
        }
    }

    #[test]
    fn the_grant_rule_guards_every_admin_write_and_nothing_else() {
        let guarded: Vec<String> = ROUTES
            .iter()
            .filter(|r| grant_checked(&r.method, r.path))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(
            guarded,
            [
                "POST /admin/v1/roles",
                "PATCH /admin/v1/roles/{id}",
                "DELETE /admin/v1/roles/{id}",
                "POST /admin/v1/users",
                "PATCH /admin/v1/users/{id}",
                "DELETE /admin/v1/users/{id}",
                "POST /admin/v1/external-applications",
                "PATCH /admin/v1/external-applications/{id}",
                "DELETE /admin/v1/external-applications/{id}",
                "POST /admin/v1/external-applications/{id}/client-secret/reveal",
                "POST /admin/v1/external-applications/{id}/client-secret/rotate",
                "POST /admin/v1/external-applications/{id}/client-secrets",
                "POST /admin/v1/external-applications/{id}/client-secrets/{secret_id}/reveal",
                "DELETE /admin/v1/external-applications/{id}/client-secrets/{secret_id}",
                "POST /admin/v1/external-applications/{id}/federated-credentials",
                "DELETE /admin/v1/external-applications/{id}/federated-credentials/{credential_id}",
            ]
        );
    }

    #[test]
    fn applications_cannot_reveal_secrets() {
        let app = Principal {
            kind: AccountKind::Application,
            id: "a".into(),
            name: "A".into(),
            permissions: PermissionSet::all(),
            client_id: Some("cb_x".into()),
            token_scope: Some(PermissionSet::all()),
            session: None,
            must_enrol: false,
        };
        let user = Principal {
            kind: AccountKind::User,
            session: Some(vec![1]),
            client_id: None,
            token_scope: None,
            ..app.clone()
        };
        for (method, path) in [
            (
                Method::POST,
                "/admin/v1/external-applications/{id}/client-secret/reveal",
            ),
            (
                Method::POST,
                "/admin/v1/external-applications/{id}/client-secret/rotate",
            ),
            (Method::POST, "/admin/v1/external-applications/{id}/client-secrets"),
            (
                Method::POST,
                "/admin/v1/external-applications/{id}/client-secrets/{secret_id}/reveal",
            ),
            (
                Method::DELETE,
                "/admin/v1/external-applications/{id}/client-secrets/{secret_id}",
            ),
        ] {
            let access = access_of(&method, path).unwrap();
            assert!(check(&app, access).is_err(), "{method} {path}");
            assert!(check(&user, access).is_ok(), "{method} {path}");
        }
    }
}
