//! The admin console is served from the binary and fetches nothing from outside.

use casebook_tests::{TestApp, both_backends};

both_backends!(console_is_self_contained, |app: TestApp| async move {
    let r = app.http.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("connect-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    // The flow admins know: New Application with its fields, Verify for the secret.
    for label in [
        "New Application",
        "Application name *",
        "Email *",
        "Application URL",
        "Roles *",
        "Description",
        "Save",
        "Cancel",
        "Verify",
        "Client ID",
        "Callback URL",
    ] {
        assert!(html.contains(label), "page lacks {label:?}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page must not load anything from outside"
    );
    // Every API path it calls exists.
    for path in [
        "/admin/v1/sessions",
        "/admin/v1/external-applications",
        "/admin/v1/roles",
        "/api/v1/me",
    ] {
        assert!(html.contains(path), "page does not call {path}");
    }
});
