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
