//! RFC 7662 token introspection, answered as plain JSON or, when the caller
//! asks with `Accept: application/token-introspection+jwt`, as a JWT signed
//! by the install's current key (RFC 9701), which a resource server can keep
//! or forward as proof of what the authorization server said.

use super::oauth::{PeerAddr, TokenParamForm, client_form, no_store};
use crate::client_auth::AuthenticatedClient;
use crate::error::{OAuthError, OAuthErrorBody};
use crate::http::auth::{Refusal, verify_access_token};
use crate::state::{AppState, VerifiedToken};
use crate::tenancy::Tenant;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use casebook_domain::wire::{IntrospectionJwtClaims, IntrospectionResponse, TOKEN_INTROSPECTION_JWT};
use casebook_domain::{Action, Module, Permission};

pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(introspect))
}

/// Introspect a token.
///
/// RFC 7662: is this token active, and what does it carry? The caller
/// authenticates as a client. With `Accept: application/token-introspection+jwt`
/// the same answer comes as a signed JWT (RFC 9701): header `typ:
/// token-introspection+jwt`, claims `iss`, `aud` (the calling client), `iat`
/// and `token_introspection` (the RFC 7662 object), verifiable with the JWKS.
// The choice is content negotiation, so the response's two media types
// document it: OpenAPI ignores an `Accept` header parameter.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "oauth",
    request_body(content = TokenParamForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "The token's state; `{\"active\":false}` and nothing else when it is not active. \
            As a JWT, its claims are `IntrospectionJwtClaims`.",
            content(
                (IntrospectionResponse = "application/json"),
                (String = "application/token-introspection+jwt"),
            )),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications", body = OAuthErrorBody),
        (status = 503, description = "temporarily_unavailable: storage or signing failed; try again", body = OAuthErrorBody),
    ))]
pub async fn introspect(
    State(state): State<AppState>,
    tenant: Tenant,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let result = async {
        let (caller, form) = client_form(&state, &tenant, &headers, &uri, body, peer).await?;
        let token = form.token()?;
        let answer = match verify_access_token(&state, &tenant, token).await {
            // RFC 7662 §4: a token's contents are for the client it was
            // issued to and for the install's resource servers; anyone else
            // learns nothing, not even that it is active.
            Ok(verified) if !may_introspect(&caller, &verified) => IntrospectionResponse::default(),
            Ok(verified) => describe(&state, &tenant, &verified),
            Err(Refusal::Invalid(_) | Refusal::Ended { .. }) => IntrospectionResponse::default(),
            Err(Refusal::Storage(e)) => {
                tracing::error!(error = %e, "introspection lookup failed");
                return Err(OAuthError::unavailable(
                    "the server could not check the token; try again",
                ));
            }
        };
        if wants_jwt(&headers) {
            signed(&state, &tenant, &caller, answer).await
        } else {
            Ok(Json(answer).into_response())
        }
    }
    .await;
    match result {
        Ok(response) => no_store(response),
        Err(e) => e.into_response(),
    }
}

fn describe(state: &AppState, tenant: &Tenant, verified: &VerifiedToken) -> IntrospectionResponse {
    let response = IntrospectionResponse {
        active: true,
        scope: Some(verified.permissions.to_scope()),
        client_id: Some(verified.client_id.clone()),
        token_type: Some(if verified.jkt.is_some() { "DPoP" } else { "Bearer" }.to_owned()),
        exp: Some(verified.exp),
        iat: Some(verified.iat),
        sub: Some(verified.client_id.clone()),
        aud: Some(tenant.issuer().to_owned()),
        iss: Some(tenant.issuer().to_owned()),
        jti: Some(verified.jti.clone()),
        cnf: verified
            .jkt
            .clone()
            .map(|jkt| casebook_domain::wire::Confirmation { jkt }),
    };
    inactive_once_expired(response, state.now().unix_secs())
}

async fn signed(
    state: &AppState,
    tenant: &Tenant,
    caller: &AuthenticatedClient,
    answer: IntrospectionResponse,
) -> Result<Response, OAuthError> {
    let claims = IntrospectionJwtClaims {
        iss: tenant.issuer().to_owned(),
        aud: caller.id.clone(),
        iat: state.now().unix_secs(),
        token_introspection: answer,
    };
    let typ = TOKEN_INTROSPECTION_JWT.trim_start_matches("application/");
    let keys = state.keys_of(tenant).await.map_err(|e| {
        tracing::error!(error = %e, "could not load signing keys");
        OAuthError::unavailable("the server could not sign the response; try again")
    })?;
    let jwt = keys.sign_typed(typ, &claims).map_err(|e| {
        tracing::error!(error = %e, "could not sign an introspection response");
        OAuthError::unavailable("the server could not sign the response; try again")
    })?;
    let mut response = jwt.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TOKEN_INTROSPECTION_JWT));
    Ok(response)
}

/// Whether `Accept` names the JWT response with a nonzero quality. Anything
/// else, `*/*` included, gets the plain JSON every RFC 7662 client expects.
fn wants_jwt(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let essence = parts.next().unwrap_or("").trim();
            let refused = parts.any(|param| {
                let (name, value) = param.split_once('=').unwrap_or((param, ""));
                name.trim().eq_ignore_ascii_case("q") && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            });
            essence.eq_ignore_ascii_case(TOKEN_INTROSPECTION_JWT) && !refused
        })
}

/// The contract ("OAuth endpoints"): the client the token was issued to, or an application holding
/// `admin:view` (a resource server of the install).
fn may_introspect(caller: &AuthenticatedClient, token: &VerifiedToken) -> bool {
    caller.id == token.client_id
        || caller
            .record
            .permissions
            .contains(Permission::new(Module::Admin, Action::View))
}

fn inactive_once_expired(response: IntrospectionResponse, now: i64) -> IntrospectionResponse {
    if response.exp.is_some_and(|exp| exp <= now) {
        IntrospectionResponse::default()
    } else {
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_an_accept_naming_the_jwt_type_gets_a_jwt() {
        for (value, expected) in [
            ("application/token-introspection+jwt", true),
            ("Application/Token-Introspection+JWT", true),
            ("application/json, application/token-introspection+jwt;q=0.9", true),
            ("application/token-introspection+jwt;q=0", false),
            ("application/token-introspection+jwt; q=0.0", false),
            ("application/json", false),
            ("*/*", false),
            ("application/*", false),
            ("", false),
        ] {
            assert_eq!(wants_jwt(&accept(value)), expected, "{value:?}");
        }
        assert!(!wants_jwt(&HeaderMap::new()));
    }
}
