//! Extractors that answer in our error format instead of axum's plain text.
//!
//! They also refuse NUL characters in every piece of text they hand on:
//! PostgreSQL cannot store or even compare text containing NUL, so without
//! this a stray `\u0000` in a role id, a cursor or a path would reach a query
//! and come back as a 500 instead of the 4xx that bad input deserves.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body; every rejection becomes problem+json.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(bytes_rejection)?;
        let value = axum::Json::<T>::from_bytes(&bytes).map_err(json_rejection)?;
        if holds_nul(&bytes) {
            return Err(ApiError::BadRequest(
                "text in the JSON body must not contain NUL characters (\\u0000)".into(),
            ));
        }
        Ok(Self(value.0))
    }
}

/// `application/json` or any `application/*+json`, as axum's own `Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(format!("the body could not be read: {}", rejection.body_text()))
    }
}

/// Whether a JSON document (already known to be valid) has a NUL in a string
/// or a key. Raw JSON cannot carry a literal NUL inside a string, only the
/// escape, so documents without `\u0000` are passed without a second parse.
fn holds_nul(json: &[u8]) -> bool {
    fn walk(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(walk),
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || walk(v)),
            _ => false,
        }
    }
    let escaped = json
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && w[2..].iter().all(|&b| b == b'0'));
    escaped && serde_json::from_slice::<serde_json::Value>(json).is_ok_and(|v| walk(&v))
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("send the body as JSON with Content-Type: application/json".into())
        }
        JsonRejection::BytesRejection(e) => bytes_rejection(e),
        JsonRejection::JsonDataError(e) => {
            ApiError::BadRequest(format!("the JSON body has the wrong shape: {}", e.body_text()))
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// Query parameters; a rejection becomes problem+json.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => value,
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                return Err(ApiError::BadRequest(format!("bad query string: {}", e.body_text())));
            }
            Err(other) => return Err(ApiError::BadRequest(other.body_text())),
        };
        let query = parts.uri.query().unwrap_or("");
        // `Query` decodes lossily: bytes that are not UTF-8 would become
        // U+FFFD and reach a handler as if the client had sent that.
        for component in query.split(['&', '=']) {
            decode_component(component.as_bytes())
                .map_err(|problem| ApiError::BadRequest(format!("bad query string: {problem}")))?;
        }
        if let Some((name, _)) =
            url::form_urlencoded::parse(query.as_bytes()).find(|(_, v)| v.chars().any(char::is_control))
        {
            let name: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
            return Err(ApiError::BadRequest(format!(
                "the query parameter {name:?} must not contain control characters"
            )));
        }
        Ok(Self(value))
    }
}

/// Path parameters (`{id}`); a rejection (bad percent-encoding, bad UTF-8)
/// becomes problem+json, and so does an id with control characters, which no
/// record can have.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("bad path: {}", e.body_text())))?;
        if let Some((name, _)) = raw.iter().find(|(_, v)| v.chars().any(char::is_control)) {
            return Err(ApiError::BadRequest(format!(
                "the path parameter {name} must not contain control characters"
            )));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(e) => Err(ApiError::BadRequest(format!("bad path: {}", e.body_text()))),
        }
    }
}

pub use casebook_domain::token_request::decode_component;

#[cfg(test)]
mod tests {
    use super::holds_nul;

    #[test]
    fn nul_is_found_in_strings_and_keys_only() {
        assert!(holds_nul(br#"{"roles": ["a\u0000"]}"#));
        assert!(holds_nul(br#"{"a\u0000": 1}"#));
        assert!(!holds_nul(br#"{"name": "a\\u0000"}"#));
        assert!(!holds_nul(br#"{"name": "plain"}"#));
    }
}
