//! The admin console is served from the binary, under a strict policy, and
//! fetches nothing from outside.

use casebook_tests::{TestApp, both_backends};
use std::collections::BTreeSet;

/// `/admin/assets/NAME` and `./NAME` references in a page or module.
fn referenced(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for marker in ["/admin/assets/", "\"./", "'./"] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect();
            if name.ends_with(".js") || name.ends_with(".css") {
                names.push(name);
            }
        }
    }
    names
}

both_backends!(console_is_self_contained, |app: TestApp| async move {
    let r = app.http.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let mut text = r.text().await.unwrap();
    // The page and every file it loads, each under the page's policy.
    let mut pending = referenced(&text);
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let r = app
            .http
            .get(app.url(&format!("/admin/assets/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let headers = r.headers().clone();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe") && csp.contains("frame-ancestors 'none'"),
            "{name}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{name}");
        let body = r.text().await.unwrap();
        pending.extend(referenced(&body));
        text.push_str(&body);
    }
    assert!(
        seen.iter().any(|n| n.ends_with(".js")),
        "the page loads its script: {seen:?}"
    );
    // The flow admins know: New Application with its fields, Verify for the secret.
    for label in [
        "New Application",
        "Application name",
        "Email",
        "Application URL",
        "Roles",
        "Description",
        "Save",
        "Cancel",
        "Verify",
        "Client ID",
        "Callback URL",
    ] {
        assert!(text.contains(label), "the console lacks {label:?}");
    }
    // Addresses may appear in words (a hint's example issuer); nothing may
    // be loaded from one.
    for load in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "from \"http",
        "from 'http",
        "fetch(\"http",
        "import(\"http",
        "src=\"//",
        "href=\"//",
    ] {
        assert!(
            !text.contains(load),
            "the console must not load anything from outside: {load}"
        );
    }
    // Every API path it calls exists.
    for path in [
        "/admin/v1/sessions",
        "/admin/v1/external-applications",
        "/admin/v1/roles",
        "/api/v1/me",
    ] {
        assert!(text.contains(path), "the console does not call {path}");
    }
});

both_backends!(every_page_answer_carries_its_policy, |app: TestApp| async move {
    for path in [
        "/admin",
        "/admin/assets/console.css",
        "/admin/assets/missing.js",
        "/docs",
        "/docs/",
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        let headers = r.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.split(';').any(|d| d.contains("script-src") && d.contains("unsafe")),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
    let docs = app
        .http
        .get(app.url("/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(docs.contains("<title>Casebook API reference</title>"), "{docs}");
});

both_backends!(the_console_limits_are_the_domains, |app: TestApp| async move {
    use casebook_domain::{
        application, client_keys, credentials, email, federated, lockout, pagination, quota, secret_lifecycle, sources,
        user,
    };
    let r = app.http.get(app.url("/admin/assets/limits.js")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let module = r.text().await.unwrap();
    let expected: [(&str, i64); 21] = [
        ("APPLICATION_NAME_CHARS", application::APPLICATION_NAME.max_chars as i64),
        ("DESCRIPTION_CHARS", application::DESCRIPTION.max_chars as i64),
        ("MAX_URL_CHARS", application::MAX_URL_CHARS as i64),
        ("MAX_EMAIL_CHARS", email::MAX_EMAIL_CHARS as i64),
        ("MIN_PASSWORD_CHARS", user::MIN_PASSWORD_CHARS as i64),
        ("MAX_SOURCES", sources::MAX_SOURCES as i64),
        ("MIN_TOKEN_QUOTA", i64::from(quota::TokenQuota::LEAST.per_hour())),
        ("MAX_TOKEN_QUOTA", i64::from(quota::MAX_PER_HOUR)),
        ("SECRET_LABEL_CHARS", secret_lifecycle::SECRET_LABEL.max_chars as i64),
        ("MAX_ACTIVE_SECRETS", secret_lifecycle::MAX_ACTIVE_SECRETS as i64),
        ("MAX_GRACE_PERIOD_SECS", credentials::MAX_GRACE_PERIOD_SECS),
        ("LOCKOUT_FAILURES", lockout::MAX_FAILURES as i64),
        ("LOCKOUT_MINUTES", lockout::WINDOW_MICROS / 60_000_000),
        ("MAX_KEYS", client_keys::MAX_KEYS as i64),
        ("MIN_RSA_BITS", client_keys::MIN_RSA_BITS as i64),
        ("MAX_CLAIMS", federated::MAX_CLAIMS as i64),
        ("MAX_CLAIMS_BYTES", federated::MAX_CLAIMS_BYTES as i64),
        ("MIN_TOKEN_LIFETIME_SECS", federated::MIN_TOKEN_LIFETIME_SECS),
        ("MAX_TOKEN_LIFETIME_SECS", federated::MAX_TOKEN_LIFETIME_SECS),
        ("DEFAULT_PAGE_SIZE", i64::from(pagination::DEFAULT_PAGE_SIZE)),
        ("MAX_PAGE_SIZE", i64::from(pagination::MAX_PAGE_SIZE)),
    ];
    let exported: Vec<(&str, &str)> = module
        .lines()
        .filter_map(|l| l.strip_prefix("export const ")?.strip_suffix(';')?.split_once(" = "))
        .collect();
    assert_eq!(exported.len(), expected.len(), "{module}");
    for (name, value) in expected {
        assert!(
            exported.contains(&(name, value.to_string().as_str())),
            "{name} = {value} in {module}"
        );
    }

    // Every limit the page and its modules name is one the module exports.
    let names: BTreeSet<&str> = exported.iter().map(|(n, _)| *n).collect();
    let page = app
        .http
        .get(app.url("/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for attribute in ["data-limit=\"", "data-limit-min=\"", "data-limit-max=\""] {
        for (at, _) in page.match_indices(attribute) {
            let name = page[at + attribute.len()..].split('"').next().unwrap();
            assert!(names.contains(name), "index.html names {name}");
        }
    }
    for (file, _, text) in casebook_server::http::console::ASSETS {
        for (at, _) in text.match_indices("from \"./limits.js\"") {
            // `import { A, B } from`, or `import * as limits from` (no names).
            let clause = text[..at].rsplit_once("import ").unwrap().1.trim();
            let Some(list) = clause.strip_prefix('{').and_then(|c| c.strip_suffix('}')) else {
                continue;
            };
            for name in list.split(',').map(str::trim) {
                assert!(names.contains(name), "{file} imports {name}");
            }
        }
    }
});
