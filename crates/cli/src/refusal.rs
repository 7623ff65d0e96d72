//! The SDK's errors as sentences an admin can act on: the server's problem
//! with every refused field named by its place in the file, and the
//! permissions the grant rule found missing.

use crate::load::join;
use casebook_sdk::Error;
use std::fmt::Write;

/// `what` (e.g. `creating application "Acme"`) failed with `error`; the
/// fields the server names are placed under `place` (`applications[2]`).
pub fn describe(what: &str, place: &str, error: &Error) -> String {
    let mut out = String::new();
    match error {
        Error::Api {
            status,
            title,
            detail,
            errors,
            missing_permissions,
            required_scope,
            request_id,
            ..
        } => {
            let _ = write!(out, "{what}: the server refused it (HTTP {status} {title}): {detail}");
            if !missing_permissions.is_empty() {
                let _ = write!(
                    out,
                    "\n    the grant rule: it touches permissions you do not hold yourself: {}",
                    missing_permissions.to_strings().join(", ")
                );
            }
            if let Some(scope) = required_scope {
                let _ = write!(out, "\n    the call needs the permission {scope}");
            }
            for e in errors {
                let _ = write!(out, "\n    {}: {} ({})", join(place, &e.field), e.message, e.code_str());
            }
            if let Some(id) = request_id {
                let _ = write!(out, "\n    request id: {id}");
            }
        }
        Error::Validation(errors) => {
            let _ = write!(out, "{what}: not sent, it breaks the server's rules:");
            for e in errors.errors() {
                let _ = write!(out, "\n    {}: {} ({})", join(place, &e.field), e.message, e.code_str());
            }
        }
        other => {
            let _ = write!(out, "{what}: {other}");
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                let _ = write!(out, ": {cause}");
                source = cause.source();
            }
        }
    }
    out
}
