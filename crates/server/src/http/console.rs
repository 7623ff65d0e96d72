//! cb Admin, the admin console: static files compiled into the binary and
//! served under a policy that lets them do nothing but talk to this server.
//!
//! Scripts and styles are files of their own (never inline), so the policy
//! needs no `'unsafe-inline'`: an injected `<script>` or `style` attribute
//! is refused by the browser even if some text ever reached the page
//! unescaped. A new file is one line in [`ASSETS`].
//!
//! One module is not a file: `limits.js`, the domain's limits that the
//! console names in its hints, checks and messages, rendered once from the
//! domain's constants ([`limits`]), so the console cannot drift from them.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casebook_domain::{
    application, client_keys, credentials, email, federated, lockout, pagination, quota, secret_lifecycle, sources,
    user,
};
use std::sync::LazyLock;

/// The console's policy: its own scripts, styles and API, nothing else.
pub const CONSOLE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Swagger UI sets inline styles from its script (React `style` props), so
/// styles there may be inline; scripts still come only from this server.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     connect-src 'self'; img-src 'self' data:; font-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

macro_rules! assets {
    ($($name:literal => $mime:literal),* $(,)?) => {
        &[$(($name, $mime, include_str!(concat!("../../assets/console/", $name)))),*]
    };
}

/// `(file name, media type, contents)` of every file under `/admin/assets/`.
pub const ASSETS: &[(&str, &str, &str)] = assets! {
    "console.css" => "text/css; charset=utf-8",
    "account.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "appform.js" => "text/javascript; charset=utf-8",
    "apps.js" => "text/javascript; charset=utf-8",
    "audit.js" => "text/javascript; charset=utf-8",
    "auditwords.js" => "text/javascript; charset=utf-8",
    "catalog.js" => "text/javascript; charset=utf-8",
    "clientsecrets.js" => "text/javascript; charset=utf-8",
    "confirm.js" => "text/javascript; charset=utf-8",
    "console.js" => "text/javascript; charset=utf-8",
    "tenants.js" => "text/javascript; charset=utf-8",
    "errors.js" => "text/javascript; charset=utf-8",
    "factor.js" => "text/javascript; charset=utf-8",
    "federated.js" => "text/javascript; charset=utf-8",
    "keyset.js" => "text/javascript; charset=utf-8",
    "passkeys.js" => "text/javascript; charset=utf-8",
    "passwords.js" => "text/javascript; charset=utf-8",
    "roles.js" => "text/javascript; charset=utf-8",
    "secrets.js" => "text/javascript; charset=utf-8",
    "settings.js" => "text/javascript; charset=utf-8",
    "ui.js" => "text/javascript; charset=utf-8",
    "usage.js" => "text/javascript; charset=utf-8",
    "users.js" => "text/javascript; charset=utf-8",
    "webhooks.js" => "text/javascript; charset=utf-8",
    "webauthn.js" => "text/javascript; charset=utf-8",
};

const INDEX: &str = include_str!("../../assets/console/index.html");

/// The name under `/admin/assets/` of the module rendered from [`limits`].
pub const LIMITS_MODULE: &str = "limits.js";

/// The domain's limits the console names, as `(export name, value)`.
pub fn limits() -> Vec<(&'static str, i64)> {
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    vec![
        ("APPLICATION_NAME_CHARS", n(application::APPLICATION_NAME.max_chars)),
        ("DESCRIPTION_CHARS", n(application::DESCRIPTION.max_chars)),
        ("MAX_URL_CHARS", n(application::MAX_URL_CHARS)),
        ("MAX_EMAIL_CHARS", n(email::MAX_EMAIL_CHARS)),
        ("MIN_PASSWORD_CHARS", n(user::MIN_PASSWORD_CHARS)),
        ("MAX_SOURCES", n(sources::MAX_SOURCES)),
        ("MIN_TOKEN_QUOTA", i64::from(quota::TokenQuota::LEAST.per_hour())),
        ("MAX_TOKEN_QUOTA", i64::from(quota::MAX_PER_HOUR)),
        ("SECRET_LABEL_CHARS", n(secret_lifecycle::SECRET_LABEL.max_chars)),
        ("MAX_ACTIVE_SECRETS", n(secret_lifecycle::MAX_ACTIVE_SECRETS)),
        ("MAX_GRACE_PERIOD_SECS", credentials::MAX_GRACE_PERIOD_SECS),
        ("LOCKOUT_FAILURES", n(lockout::MAX_FAILURES)),
        ("LOCKOUT_MINUTES", lockout::WINDOW_MICROS / 60_000_000),
        ("MAX_KEYS", n(client_keys::MAX_KEYS)),
        ("MIN_RSA_BITS", n(client_keys::MIN_RSA_BITS)),
        ("MAX_CLAIMS", n(federated::MAX_CLAIMS)),
        ("MAX_CLAIMS_BYTES", n(federated::MAX_CLAIMS_BYTES)),
        ("MIN_TOKEN_LIFETIME_SECS", federated::MIN_TOKEN_LIFETIME_SECS),
        ("MAX_TOKEN_LIFETIME_SECS", federated::MAX_TOKEN_LIFETIME_SECS),
        ("DEFAULT_PAGE_SIZE", i64::from(pagination::DEFAULT_PAGE_SIZE)),
        ("MAX_PAGE_SIZE", i64::from(pagination::MAX_PAGE_SIZE)),
    ]
}

/// `limits.js`: one `export const NAME = value;` line per limit.
static LIMITS_JS: LazyLock<String> = LazyLock::new(|| {
    let mut module = String::from("// The domain's limits, rendered by the server from its constants.\n");
    for (name, value) in limits() {
        module.push_str(&format!("export const {name} = {value};\n"));
    }
    module
});

/// `GET /admin`: the page.
pub async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /admin/assets/{name}`: one of [`ASSETS`].
pub async fn asset(Path(name): Path<String>) -> Response {
    if name == LIMITS_MODULE {
        return page("text/javascript; charset=utf-8", LIMITS_JS.as_str());
    }
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, mime, body)) => page(mime, body),
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}

fn page(mime: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Revalidated on every load: a new binary's console replaces the old at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Whether a path is one of the pages (the console and the API reference),
/// whose every answer carries [`page_headers`].
pub fn is_page(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/assets/") || path == "/docs" || path.starts_with("/docs/")
}

/// The headers every answer of a page carries: its policy, no sniffing, no
/// framing, no referrer.
pub fn page_headers(path: &str, headers: &mut axum::http::HeaderMap) {
    let policy = if path.starts_with("/docs") {
        DOCS_POLICY
    } else {
        CONSOLE_POLICY
    };
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// The API reference's page: Swagger UI's own, under this product's title.
const DOCS_INDEX: &str = include_str!("../../assets/docs.html");

/// Middleware: [`page_headers`] on every answer under the pages' paths,
/// errors and redirects included; and the reference's page in place of
/// Swagger UI's, which would be titled "Swagger UI".
pub async fn secure_pages(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path().to_owned();
    let docs_index = matches!(path.as_str(), "/docs/" | "/docs/index.html");
    let mut response = if docs_index && request.method() == axum::http::Method::GET {
        page("text/html; charset=utf-8", DOCS_INDEX)
    } else {
        next.run(request).await
    };
    if is_page(&path) {
        page_headers(&path, response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_policy_allows_inline_scripts_and_the_console_allows_no_inline_styles() {
        for policy in [CONSOLE_POLICY, DOCS_POLICY] {
            let scripts = policy.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
            assert!(!scripts.contains("unsafe"), "{policy}");
            assert!(policy.contains("frame-ancestors 'none'"));
        }
        assert!(!CONSOLE_POLICY.contains("unsafe"));
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let lower = INDEX.to_ascii_lowercase();
        assert!(!lower.contains("<script>") && !lower.contains("<style"), "inline block");
        assert!(!lower.contains(" style="), "inline style attribute");
        let handler = lower.match_indices(" on").any(|(at, _)| {
            let rest = &lower[at + 3..];
            let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            name_len > 0 && rest[name_len..].starts_with('=')
        });
        assert!(!handler, "inline event handler");
        for (name, _, _) in ASSETS {
            assert!(!name.contains('/') && !name.starts_with('.'), "{name}");
            assert_ne!(*name, LIMITS_MODULE, "limits.js is rendered, not a file");
        }
    }

    #[test]
    fn the_limits_module_exports_each_limit_once() {
        let mut names = std::collections::BTreeSet::new();
        for (name, value) in limits() {
            assert!(names.insert(name), "{name} twice");
            assert!(value >= 0, "{name}");
            assert!(
                LIMITS_JS.contains(&format!("export const {name} = {value};\n")),
                "{name}"
            );
        }
    }
}
