//! The router: every route, its OpenAPI document, and the layers around them.

pub mod api;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod console;
pub mod discovery;
pub mod federated;
pub mod forward_auth;
pub mod idempotency;
pub mod introspection;
pub mod oauth;
pub mod ops;
pub mod passkeys;
pub mod password_links;
pub mod query;
mod quota;
pub mod request_log;
pub mod roles;
pub mod second_factor;
pub mod secret_scanning;
pub mod secrets;
pub mod sessions;
pub mod settings;
pub mod spec;
pub mod tenant;
pub mod tenants;
pub mod usage;
pub mod users;
pub mod webhooks;

use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use utoipa::openapi::security::{ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

/// Largest JSON body the admin and Casebook APIs read.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// The contract ("Connections"): a request body that stalls this long ends the request with 408.
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(OpenApi)]
#[openapi(
    // The description, a getting-started page, is written by
    // `spec::describe_api` from the same constants the server keeps.
    info(
        title = "Casebook external applications",
        version = "1.0.0",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    // In the order `/docs` shows them: what a partner calls first, then
    // where its tokens come from, then the admin API. Every tag an
    // operation uses is listed (a test holds it), so none lands at the end
    // in whatever order the renderer meets it.
    tags(
        (name = "casebook api", description = "The Casebook API (`/api/v1`) that partner software calls with an access token, guarded by its roles' permissions"),
        (name = "oauth", description = "OAuth 2.0: the token endpoint, revocation, introspection and discovery (`/oauth2`, `/.well-known`)"),
        (name = "admin: sessions", description = "Sign in to cb Admin: the session token the admin API takes"),
        (name = "admin: sign-in", description = "A person's own sign-in: passwords, the authenticator app, passkeys"),
        (name = "admin: external applications", description = "Registered partner software and its credentials"),
        (name = "admin: roles", description = "The role catalog"),
        (name = "admin: users", description = "User accounts"),
        (name = "admin: audit", description = "Who changed what, when"),
        (name = "admin: webhooks", description = "The audit trail sent as it happens, signed, to the agency's own systems"),
        (name = "admin: settings", description = "The tenant's settings"),
        (name = "admin: tenants", description = "The install's tenants: managed at the root tenant only"),
        (name = "operations", description = "Health, readiness, metrics, leak reports"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scopes = Scopes::from_iter(
            casebook_domain::Permission::all().map(|p| (p.to_string(), format!("{} {}", p.action, p.module))),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new("/oauth2/token", scopes))],
                "An external application's access token: a JWT (RFC 9068) sent as `Authorization: Bearer`, \
                 or, when it was issued with a DPoP proof (`token_type` DPoP, RFC 9449), as \
                 `Authorization: DPoP` beside a `DPoP` header with a fresh proof for the request. \
                 Each scope is a permission; an operation lists the one it needs.",
            )),
        );
        components.add_security_scheme(
            "admin_session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A signed-in person's session token from POST /admin/v1/sessions, sent as \
                         `Authorization: Bearer`. The names listed are the permissions the person's roles must hold.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "Client ID and secret, form-urlencoded, then HTTP Basic (RFC 6749 §2.3.1)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every documented route, in one place: the router and the document come
/// from this same list, so an undocumented route cannot exist.
fn documented() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::routes())
        .merge(oauth::routes())
        .merge(discovery::routes())
        .merge(introspection::routes())
        .merge(sessions::routes())
        .merge(second_factor::routes())
        .merge(password_links::routes())
        .merge(passkeys::routes())
        .merge(settings::routes())
        .merge(tenants::routes())
        .merge(roles::routes())
        .merge(users::routes())
        .merge(applications::routes())
        .merge(secrets::routes())
        .merge(secret_scanning::routes())
        .merge(federated::routes())
        .merge(audit::routes())
        .merge(usage::routes())
        .merge(webhooks::routes())
        .merge(api::routes());
    spec::complete(router.get_openapi_mut());
    router
}

/// The OpenAPI document, built without a database.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().into_openapi()
}

/// The whole application, ready to serve.
pub fn router(state: AppState) -> Router {
    let (routes, spec) = documented().split_for_parts();
    let spec_json = spec.to_pretty_json().unwrap_or_default();
    let routes = routes.route(
        "/openapi.json",
        axum::routing::get(move || {
            let spec_json = spec_json.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], spec_json) }
        }),
    );
    // Forward auth: any method, outside the OpenAPI document (it answers
    // a proxy, not a client).
    let routes = routes
        .route(forward_auth::CHECK_PATH, axum::routing::any(forward_auth::check))
        // Envoy asking about `/`; the catch-all below takes one segment or more.
        .route("/authz/check/", axum::routing::any(forward_auth::check))
        .route("/authz/check/{*original}", axum::routing::any(forward_auth::check));
    let routes = routes
        .route("/admin", axum::routing::get(console::index))
        .route("/admin/assets/{name}", axum::routing::get(console::asset));
    // Swagger UI, vendored into the binary. Its default validator badge would
    // send the spec to validator.swagger.io: off, so the page fetches nothing
    // from outside this server.
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none"));
    let app = Router::new()
        .merge(routes)
        .merge(docs)
        // Around the handler alone: it needs the caller (authorization is
        // outside it) and reads a body the stall layer already watches.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::once))
        // Innermost but one, so that metrics record the 408 it answers.
        .route_layer(axum::middleware::from_fn(body_stall))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authorize))
        .route_layer(axum::middleware::from_fn(name_resource_metadata))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track::<AppState>,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        // Outside the routes, so a 404 or a redirect under a page's path
        // carries the page's policy too.
        .layer(axum::middleware::from_fn(console::secure_pages))
        // Defence in depth: a bug that panics answers 500 in our format
        // instead of dropping the connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| ApiError::internal("a request handler panicked").into_response(),
        ))
        .with_state(state.clone());
    // Before routing: a path under `/t/{slug}` is routed as the root's,
    // with its tenant beside it.
    let app = Router::new()
        .fallback_service(app)
        .layer(axum::middleware::from_fn_with_state(state.clone(), tenant::resolve));
    // Around everything, so that every answer is logged, a 404 or a
    // panic's 500 too.
    Router::new().fallback_service(request_log::RequestLog::new(state, app))
}

/// RFC 9728 §5.1: every 401 from the Casebook and admin APIs names the
/// protected resource metadata, whichever layer refused the request.
async fn name_resource_metadata(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let issuer = request
        .extensions()
        .get::<crate::tenancy::Tenant>()
        .map(|tenant| tenant.issuer().to_owned());
    let api = ["/api/v1", "/admin/v1"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
    let mut response = next.run(request).await;
    if !api || response.status() != axum::http::StatusCode::UNAUTHORIZED {
        return response;
    }
    let Some(issuer) = issuer else {
        return response;
    };
    let url = discovery::protected_resource_metadata_url(&issuer);
    let headers = response.headers_mut();
    // The first challenge names the metadata; the others (a DPoP challenge
    // beside a Bearer one, RFC 9449 §7.2) stay as they are.
    let mut challenges: Vec<String> = headers
        .get_all(axum::http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    match challenges.first_mut() {
        Some(first) => first.push_str(&format!(", resource_metadata=\"{url}\"")),
        None => challenges.push(format!(
            "Bearer realm=\"{}\", resource_metadata=\"{url}\"",
            crate::error::REALM
        )),
    }
    headers.remove(axum::http::header::WWW_AUTHENTICATE);
    for challenge in challenges {
        if let Ok(value) = axum::http::HeaderValue::from_str(&challenge) {
            headers.append(axum::http::header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// Ends a request whose body stalls for [`BODY_STALL_TIMEOUT`] with 408,
/// whichever handler or extractor was reading it: each of them only sees a
/// failed read, which they answer 400, so the answer is replaced here. The
/// connection is closed after it, since the rest of the body may still come.
async fn body_stall(request: Request, next: Next) -> Response {
    let stalled = Arc::new(AtomicBool::new(false));
    let seen = stalled.clone();
    let oauth = request.uri().path().starts_with("/oauth2/");
    let request = request.map(|body| {
        Body::new(
            tower_http::timeout::TimeoutBody::new(BODY_STALL_TIMEOUT, body).map_err(move |e| {
                if e.is::<tower_http::timeout::TimeoutError>() {
                    seen.store(true, Ordering::Relaxed);
                }
                e
            }),
        )
    });
    let response = next.run(request).await;
    if !stalled.load(Ordering::Relaxed) {
        return response;
    }
    let error = ApiError::RequestTimeout(BODY_STALL_TIMEOUT);
    let mut response = if oauth {
        // RFC 6749 has no code for this; the body is malformed as it stands.
        let mut response = crate::error::OAuthError::invalid_request(error.to_string()).into_response();
        *response.status_mut() = error.status();
        response
    } else {
        error.into_response()
    };
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

async fn not_found() -> impl IntoResponse {
    ApiError::NotFound("route")
}

/// 405 in our format; the router adds the `Allow` header.
async fn method_not_allowed(method: axum::http::Method) -> impl IntoResponse {
    let status = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    let problem = crate::error::Problem {
        mfa_required: None,
        mfa_token: None,
        mfa_enrolment_required: None,
        kind: "about:blank".to_owned(),
        title: status.canonical_reason().unwrap_or("Method Not Allowed").to_owned(),
        status: status.as_u16(),
        detail: format!("this path does not answer {method}; the Allow header lists the methods it does"),
        errors: None,
        holders: None,
        missing_permissions: None,
    };
    (
        status,
        [(axum::http::header::CONTENT_TYPE, crate::error::PROBLEM_JSON)],
        axum::Json(problem),
    )
}
