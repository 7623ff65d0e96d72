//! `POST /secret-scanning/github` (SPEC "Leaked secrets"): GitHub's
//! secret-scanning partner alerts. A reported secret this install issued is
//! ended at once with its application's live tokens; the answer labels each
//! report so GitHub can tell the repository owner.

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use crate::store;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use casebook_domain::ClientSecret;
use casebook_domain::secret_format::Shape;
use casebook_domain::wire::{LeakAlert, LeakLabel, LeakVerdict};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(github_alerts))
}

/// Reports in one alert: GitHub batches matches, a few per request.
const MAX_ALERTS: usize = 1000;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// GitHub secret-scanning partner alerts: a JSON array of matches, signed
/// with ECDSA P-256 SHA-256 over the raw body by a key listed in
/// `CASEBOOK_SECRET_SCANNING_KEYS` (`Github-Public-Key-Identifier` names the
/// key, `Github-Public-Key-Signature` carries the base64 DER signature). A match that is a secret of this install
/// is ended at once, with every live token of its application; the
/// application's other secrets keep working and its email is told where the
/// secret was found. Without `CASEBOOK_SECRET_SCANNING_KEYS` the path is 404.
#[utoipa::path(post, path = "/secret-scanning/github", tag = "operations",
    request_body = Vec<LeakAlert>,
    responses(
        (status = 200, description = "Each match labelled", body = Vec<LeakVerdict>),
        (status = 400, description = "The body is not a JSON array of alerts", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by a listed key; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Secret scanning is not configured on this install", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn github_alerts(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Vec<LeakVerdict>>, ApiError> {
    let Some(keys) = &state.config.secret_scanning else {
        return Err(ApiError::NotFound("secret scanning"));
    };
    keys.verify(
        header(&headers, "github-public-key-identifier"),
        header(&headers, "github-public-key-signature"),
        &body,
    )
    .map_err(|refused| ApiError::Unauthorized {
        invalid_token: false,
        detail: refused.to_string(),
    })?;
    let alerts: Vec<LeakAlert> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not a JSON array of alerts: {e}")))?;
    if alerts.len() > MAX_ALERTS {
        return Err(ApiError::BadRequest(format!("at most {MAX_ALERTS} alerts per request")));
    }
    let mut verdicts = Vec::with_capacity(alerts.len());
    let mut ended_any = false;
    for alert in alerts {
        let token_hash = Sha256::digest(alert.token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let presented = ClientSecret::from_presented(alert.token);
        // What could not be a secret of ours is not looked up.
        let ended = if presented.shape() == Shape::Mistyped {
            None
        } else {
            let mac = state.master().secret_mac(presented.expose());
            store::end_leaked_secret(&state.db, &mac, &alert.url, &alert.source).await?
        };
        let label = match ended {
            Some(leak) => {
                state.clients.remove(&leak.client_id);
                ended_any = true;
                tracing::warn!(application = %leak.application_id, source = %alert.source, url = %alert.url, "a client secret was reported public and ended");
                LeakLabel::TruePositive
            }
            None => LeakLabel::FalsePositive,
        };
        verdicts.push(LeakVerdict {
            token_hash,
            token_type: alert.token_type,
            label,
        });
    }
    if ended_any {
        // Its tokens are of an old generation now: cached ones must go too.
        state.bump_epoch();
    }
    Ok(Json(verdicts))
}
