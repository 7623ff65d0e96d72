//! The setup requests, made with the HTTP client through the real admin and
//! OAuth APIs: signing in, registering applications, obtaining tokens.

use super::ADMIN_EMAIL;
use super::client::{FORM, JSON, expect, str_field};
use super::server::Server;
use std::net::SocketAddr;

pub(super) fn sign_in(server: &Server) -> Result<String, String> {
    let body = serde_json::json!({"email": ADMIN_EMAIL, "password": server.password}).to_string();
    let session = expect(
        server.addr,
        "POST",
        "/admin/v1/sessions",
        None,
        Some((JSON, &body)),
        201,
    )?;
    str_field(&session, "token")
}

pub(super) fn token_form(client_id: &str, secret: &str) -> String {
    // Both are URL-safe by construction (hex and unpadded base64url).
    format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}")
}

pub(super) fn get_token(addr: SocketAddr, client_id: &str, secret: &str) -> Result<String, String> {
    let form = token_form(client_id, secret);
    let token = expect(addr, "POST", "/oauth2/token", None, Some((FORM, &form)), 200)?;
    str_field(&token, "access_token")
}

/// The seeded role every benchmark application holds.
pub(super) const ROLE_ID: &str = "engage-supervisor";

/// Registers an application through the admin API and reveals its secret.
pub(super) fn register(server: &Server, session: &str, n: usize) -> Result<(String, String), String> {
    register_with(server, session, n, serde_json::json!({}))
}

/// The same, with further fields of the form (`extra`, an object).
pub(super) fn register_with(
    server: &Server,
    session: &str,
    n: usize,
    extra: serde_json::Value,
) -> Result<(String, String), String> {
    let mut form = serde_json::json!({
        "name": format!("Bench partner {n}"),
        "email": format!("bench-partner-{n}@example.com"),
        "application_url": "https://partner.example.com/",
        "roles": [ROLE_ID],
        "description": "Load benchmark",
    });
    if let (Some(form), Some(extra)) = (form.as_object_mut(), extra.as_object()) {
        form.extend(extra.clone());
    }
    let form = form.to_string();
    let app = expect(
        server.addr,
        "POST",
        "/admin/v1/external-applications",
        Some(session),
        Some((JSON, &form)),
        201,
    )?;
    let id = str_field(&app, "id")?;
    let reveal = serde_json::json!({"password": server.password}).to_string();
    let secret = expect(
        server.addr,
        "POST",
        &format!("/admin/v1/external-applications/{id}/client-secret/reveal"),
        Some(session),
        Some((JSON, &reveal)),
        200,
    )?;
    Ok((str_field(&app, "client_id")?, str_field(&secret, "client_secret")?))
}
