//! Extractors that answer in our error format instead of axum's plain text.
//!
//! A JSON body is read through its form's table of fields
//! ([`casebook_domain::shape`]): a field missing, of the wrong type, given
//! twice or unknown is a 422 listing every such field with the violations of
//! the storage-free rules on the others. JSON that is not an object (`[]`,
//! `5`) is a 422 too, as the contract has it ("Errors"; only a body that is not JSON at all is
//! a 400): its one error names the field `""`, the whole document in JSON
//! Pointer terms (RFC 6901), with `invalid_type`.
//!
//! They also refuse NUL characters in every piece of text they hand on:
//! PostgreSQL cannot store or even compare text containing NUL, so without
//! this a stray `\u0000` in a role id, a cursor or a path would reach a query
//! and come back as a 500 instead of the 4xx that bad input deserves.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use casebook_domain::shape::{Body, Refusal, Shaped};
use casebook_domain::{ErrorCode, FieldError};
use serde::de::DeserializeOwned;

/// A JSON body, read as the form `T`; every rejection becomes problem+json.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: Shaped,
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
        let body = Body::parse(&bytes).map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
        if holds_nul(&body) {
            return Err(ApiError::BadRequest(
                "text in the JSON body must not contain NUL characters (\\u0000)".into(),
            ));
        }
        match body.read::<T>() {
            Ok(form) => Ok(Self(form)),
            Err(Refusal::Invalid(errors)) => Err(ApiError::Validation(errors)),
            Err(Refusal::NotAnObject(sent)) => Err(ApiError::field(FieldError::new(
                "",
                ErrorCode::InvalidType,
                format!("the body must be a JSON object of the form's fields, not {sent}"),
            ))),
            Err(Refusal::Unreadable(_)) => {
                // A form's table disagrees with its type: ours to fix, but bad
                // input must not be a 500. Serde's words may quote a password,
                // so neither the answer nor the log carries them.
                tracing::error!(
                    form = std::any::type_name::<T>(),
                    "a JSON body passed its form's shape check and still did not deserialize"
                );
                Err(ApiError::BadRequest(
                    "the JSON body could not be read as this form".into(),
                ))
            }
        }
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

/// Whether a body has a NUL in a string or a key, at any depth: checked
/// before its shape, so that a NUL is refused wherever it is.
fn holds_nul(body: &Body) -> bool {
    fn walk(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(walk),
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || walk(v)),
            _ => false,
        }
    }
    body.entries().any(|(k, v)| k.contains('\0') || walk(v))
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
    use super::{Body, holds_nul};

    #[test]
    fn nul_is_found_in_strings_and_keys_only() {
        let nul = |json: &[u8]| holds_nul(&Body::parse(json).unwrap());
        assert!(nul(br#"{"roles": ["a\u0000"]}"#));
        assert!(nul(br#"{"a\u0000": 1}"#));
        assert!(nul(br#"{"a": {"b\u0000": [1]}, "c": 2}"#));
        assert!(!nul(br#"{"name": "a\\u0000"}"#));
        assert!(!nul(br#"{"name": "plain"}"#));
    }
}
