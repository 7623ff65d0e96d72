//! `POST /secret-scanning/github` (the contract's "Leaked secrets"): GitHub's
//! secret-scanning partner alerts. A reported secret this install issued is
//! ended at once with its application's live tokens; the answer labels each
//! report so GitHub can tell the repository owner.

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use crate::store;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use casebook_domain::ClientSecret;
use casebook_domain::secret_format::Shape;
use casebook_domain::wire::{LeakAlert, LeakLabel, LeakVerdict};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    // Inside the router's own limit, so this one holds for this route.
    OpenApiRouter::new()
        .routes(routes!(github_alerts))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Reports in one alert: GitHub batches matches, a few per request.
const MAX_ALERTS: usize = 1000;

/// The largest body taken (the contract's 1 MiB, "Leaked secrets"): room for [`MAX_ALERTS`] alerts
/// with long URLs, where the admin API's 64 KiB held about 600.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The body, or the reason it could not be read, as a problem: axum's own
/// answer would be plain text.
fn body_of(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest("the body could not be read".into()),
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// GitHub secret-scanning alerts.
///
/// GitHub secret-scanning partner alerts: a JSON array of matches, signed
/// with ECDSA P-256 SHA-256 over the raw body by a key listed in
/// `CASEBOOK_SECRET_SCANNING_KEYS` (`Github-Public-Key-Identifier` names the
/// key, `Github-Public-Key-Signature` carries the base64 DER signature). A
/// match that is a secret of this install is ended at once, with every live
/// token of its application; the application's other secrets keep working and
/// its email is told where the secret was found. A secret that had already
/// ended is labelled `true_positive` too, and nothing more is done. Bodies up
/// to 1 MiB are taken. Without `CASEBOOK_SECRET_SCANNING_KEYS` the path is
/// 404.
#[utoipa::path(post, path = "/secret-scanning/github", tag = "operations",
    request_body = Vec<LeakAlert>,
    responses(
        (status = 200, description = "Each match labelled", body = Vec<LeakVerdict>),
        (status = 400, description = "The body is not a JSON array of alerts", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by a listed key; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Secret scanning is not configured on this install", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB (1048576 bytes)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn github_alerts(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<LeakVerdict>>, ApiError> {
    let Some(keys) = &state.config().secret_scanning else {
        return Err(ApiError::NotFound("secret scanning"));
    };
    let body = body_of(body)?;
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
    for alert in alerts {
        let token_hash = Sha256::digest(alert.token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let presented = ClientSecret::from_presented(alert.token);
        // What could not be a secret of ours is not looked up.
        let outcome = if presented.shape() == Shape::Mistyped {
            store::LeakOutcome::Unknown
        } else {
            let mac = state.master().secret_mac(presented.expose());
            store::end_leaked_secret(state.db(), &mac, &alert.url, &alert.source).await?
        };
        let label = match outcome {
            store::LeakOutcome::Ended(leak) => {
                // Its tokens are of an old generation now: cached ones go too.
                state.client_changed(&leak.client_id);
                tracing::warn!(tenant = %leak.tenant_id, application = %leak.application_id, source = %alert.source, url = %alert.url, "a client secret was reported public and ended");
                LeakLabel::TruePositive
            }
            store::LeakOutcome::AlreadyEnded => LeakLabel::TruePositive,
            store::LeakOutcome::Unknown => LeakLabel::FalsePositive,
        };
        verdicts.push(LeakVerdict {
            token_hash,
            token_type: alert.token_type,
            label,
        });
    }
    Ok(Json(verdicts))
}
