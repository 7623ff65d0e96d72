//! The Rust SDK against the real server, on both backends: the partner flow,
//! the admin flow, token refresh, single-flight and the typed errors. Token
//! requests are counted by the server itself, from `GET /metrics`.

use casebook_sdk::records::{CaseChange, CaseForm, CaseStatus, ReportChange, ReportForm};
use casebook_sdk::{
    AccountKind, ApplicationChange, ApplicationForm, ApplicationId, CaseId, Client, ClientAuthMethod, ClientId,
    ClientSecret, Error, ErrorCode, OAuthErrorCode, Password, PermissionSet, RoleChange, RoleForm, TokenSource,
    UserChange, UserForm,
};
use casebook_tests::casebook_server::TestOptions;
use casebook_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Spawn, TestApp, both_backends};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const TOKENS_ISSUED: &str = "casebook_access_tokens_issued_total";
const CLIENT_AUTH_FAILURES: &str = "casebook_client_authentication_failures_total";

/// A sample of the server's Prometheus text, by its full name with labels.
async fn metric(app: &TestApp, sample: &str) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(name, _)| *name == sample)
        .map(|(_, value)| value.parse::<f64>().expect("number") as u64)
        .unwrap_or(0)
}

fn requests(method: &str, route: &str, status: u16) -> String {
    format!("casebook_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
}

fn partner(app: &TestApp, client_id: impl Into<String>, secret: &str) -> Client {
    Client::builder(&app.base_url)
        .client_credentials(client_id, ClientSecret::from_presented(secret))
        .build()
        .expect("client")
}

fn form(name: &str, roles: &[&str]) -> ApplicationForm {
    ApplicationForm::new(
        name,
        format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-")),
    )
    .application_url("https://partner.example.org")
    .roles(roles.iter().copied())
    .description("Registered by the SDK tests")
}

/// Registers and reveals through the SDK; returns `(application id, client id, secret)`.
async fn register(admin: &Client, name: &str, roles: &[&str]) -> (ApplicationId, ClientId, String) {
    let apps = admin.admin().applications();
    let app = apps.register(&form(name, roles)).await.expect("register");
    let revealed = apps
        .reveal_secret(&app.id, &Password::new(ADMIN_PASSWORD))
        .await
        .expect("reveal");
    assert_eq!(revealed.client_id, app.client_id);
    (app.id, app.client_id, revealed.client_secret.expose().to_owned())
}

fn codes(errors: &[casebook_sdk::FieldError]) -> BTreeSet<(String, &'static str)> {
    errors.iter().map(|e| (e.field.clone(), e.code.as_str())).collect()
}

fn expected(errors: &[(&str, ErrorCode)]) -> BTreeSet<(String, &'static str)> {
    errors
        .iter()
        .map(|(field, code)| (field.to_string(), code.as_str()))
        .collect()
}

both_backends!(partner_flow, |app: TestApp| async move {
    let admin = app.sdk_admin().await;
    let (_, client_id, secret) = register(&admin, "Partner Sync", &["engage-supervisor", "intake-screener"]).await;
    let client = partner(&app, &client_id, &secret);

    let me = client.me().await.expect("me");
    assert_eq!(me.kind, AccountKind::Application);
    assert_eq!(me.name, "Partner Sync");
    assert_eq!(me.client_id.as_ref(), Some(&client_id));
    assert_eq!(
        me.permissions,
        PermissionSet::parse_scope("engage:view engage:create engage:edit intake:view intake:create intake:edit")
            .unwrap()
    );

    // Cases: create, page through, get, change, and a refused removal.
    let cases = client.cases();
    let mut created = Vec::new();
    for title in ["First family", "Second family", "Third family"] {
        let case = cases
            .create(&CaseForm::new(title).description("from the SDK"))
            .await
            .expect("create case");
        assert_eq!(case.status, CaseStatus::Open);
        assert_eq!(case.created_by.name, "Partner Sync");
        assert_eq!(case.created_by.kind, AccountKind::Application);
        created.push(case.id);
    }
    let mut pages = cases.list().limit(2).pages();
    let first = pages.next_page().await.expect("a page").expect("page");
    assert_eq!(first.items.len(), 2);
    assert!(first.next_cursor.is_some());
    let mut seen: Vec<CaseId> = first.items.into_iter().map(|c| c.id).collect();
    while let Some(page) = pages.next_page().await {
        seen.extend(page.expect("page").items.into_iter().map(|c| c.id));
    }
    assert_eq!(seen, created);
    let all = cases.list().limit(1).all().await.expect("all");
    assert_eq!(all.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), created);
    let mut items = cases.list().limit(2).cursor(first.next_cursor.clone().unwrap()).items();
    assert_eq!(items.next_item().await.unwrap().unwrap().id, created[2]);
    assert!(items.next_item().await.is_none());

    let closed = cases
        .change(
            &created[0],
            &CaseChange::new().status(CaseStatus::Closed).clear_description(),
        )
        .await
        .expect("change case");
    assert_eq!(closed.status, CaseStatus::Closed);
    assert_eq!(closed.description, None);
    assert_eq!(closed.updated_by.name, "Partner Sync");
    assert_eq!(cases.get(&created[0]).await.expect("get").status, CaseStatus::Closed);
    match cases.remove(&created[0]).await {
        Err(Error::Api { status: 403, .. }) => {}
        other => panic!("engage:delete is not granted: {other:?}"),
    }
    match cases.get(&CaseId::new("no-such-case")).await {
        Err(Error::Api { status: 404, .. }) => {}
        other => panic!("expected 404: {other:?}"),
    }

    // The server's own rules refuse a bad form before it is sent.
    let before = metric(&app, &requests("POST", "/api/v1/engage/cases", 422)).await;
    // (A status other than open or closed cannot be written: it is a type.)
    let bad = cases
        .create(&CaseForm::new(" ").description("d".repeat(10_001)))
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::Validation(_)), "{bad:?}");
    assert_eq!(
        codes(bad.field_errors()),
        expected(&[("title", ErrorCode::Required), ("description", ErrorCode::TooLong)])
    );
    assert_eq!(
        metric(&app, &requests("POST", "/api/v1/engage/cases", 422)).await,
        before
    );
    let limit = cases.list().limit(0).send().await.unwrap_err();
    assert_eq!(
        codes(limit.field_errors()),
        expected(&[("limit", ErrorCode::InvalidValue)])
    );
    let cursor = cases.list().cursor("not a cursor").send().await.unwrap_err();
    assert_eq!(
        codes(cursor.field_errors()),
        expected(&[("cursor", ErrorCode::InvalidValue)])
    );

    // Reports, the same shape.
    let reports = client.reports();
    let report = reports
        .create(&ReportForm::new("Call from school").details("Teacher worried"))
        .await
        .expect("create report");
    assert_eq!(report.created_by.name, "Partner Sync");
    let changed = reports
        .change(
            &report.id,
            &ReportChange::new()
                .summary("Call from the school nurse")
                .clear_details(),
        )
        .await
        .expect("change report");
    assert_eq!(changed.summary, "Call from the school nurse");
    assert_eq!(changed.details, None);
    assert_eq!(reports.get(&report.id).await.expect("get").summary, changed.summary);
    assert_eq!(reports.list().all().await.expect("list").len(), 1);
    assert!(matches!(
        reports.remove(&report.id).await,
        Err(Error::Api { status: 403, .. })
    ));

    // One token served every call above.
    assert_eq!(metric(&app, TOKENS_ISSUED).await, 1);
});

both_backends!(scope_and_body_authentication, |app: TestApp| async move {
    let admin = app.sdk_admin().await;
    let (_, client_id, secret) = register(&admin, "Narrow Partner", &["engage-supervisor"]).await;

    // The token source on its own, with client_secret_post and a scope.
    let tokens = TokenSource::builder(
        app.url("/oauth2/token"),
        &client_id,
        ClientSecret::from_presented(&secret),
    )
    .auth_method(ClientAuthMethod::ClientSecretPost)
    .scope("engage:view")
    .build()
    .expect("token source");
    let token = tokens.token().await.expect("token");
    assert_eq!(token.scope(), Some("engage:view"));
    assert!(token.expires_in() > Duration::from_secs(3500));
    let me: Value = app.get("/api/v1/me", token.secret()).await.json().await.unwrap();
    assert_eq!(me["permissions"], json!(["engage:view"]));

    // The client with a scope: the narrowed token is what the API sees.
    let narrow = Client::builder(&app.base_url)
        .client_credentials(&client_id, ClientSecret::from_presented(&secret))
        .auth_method(ClientAuthMethod::ClientSecretPost)
        .scope("engage:view")
        .build()
        .expect("client");
    assert_eq!(narrow.me().await.unwrap().permissions.to_scope(), "engage:view");
    let refused = narrow.cases().create(&CaseForm::new("Not allowed")).await.unwrap_err();
    assert!(matches!(refused, Error::Api { status: 403, .. }), "{refused:?}");

    // A scope beyond the roles: invalid_scope, typed, at once.
    let greedy = Client::builder(&app.base_url)
        .client_credentials(&client_id, ClientSecret::from_presented(&secret))
        .scope("engage:delete")
        .build()
        .expect("client");
    match greedy.me().await {
        Err(Error::OAuth {
            code: OAuthErrorCode::InvalidScope,
            status: 400,
            description: Some(_),
            ..
        }) => {}
        other => panic!("expected invalid_scope: {other:?}"),
    }
    assert_eq!(metric(&app, &requests("POST", "/oauth2/token", 400)).await, 1);
});

both_backends!(admin_flow, |app: TestApp| async move {
    let anonymous = Client::builder(&app.base_url).build().expect("client");
    assert!(matches!(anonymous.me().await, Err(Error::Api { status: 401, .. })));
    match anonymous.sign_in(ADMIN_EMAIL, &Password::new("not the password")).await {
        Err(Error::Api { status: 401, .. }) => {}
        other => panic!("wrong password must be refused: {other:?}"),
    }
    let admin = app.sdk_admin().await;
    let me = admin.me().await.expect("me");
    assert_eq!(me.kind, AccountKind::User);
    assert_eq!(me.permissions, PermissionSet::all());

    // Roles.
    let roles = admin.admin().roles();
    let catalog = roles.list().all().await.expect("roles");
    assert_eq!(catalog.len(), 5);
    let worker = catalog.iter().find(|r| r.id == "engage-worker").expect("seeded");
    assert_eq!(worker.permissions.to_scope(), "engage:view engage:create");
    // A permission no module has cannot be a `Permission`; as text it is
    // caught offline all the same.
    let mut unknown = RoleForm::new("", []);
    unknown.permissions = vec!["engage:approve".into()];
    let offline = roles.create(&unknown).await.unwrap_err();
    assert_eq!(
        codes(offline.field_errors()),
        expected(&[
            ("name", ErrorCode::Required),
            ("permissions", ErrorCode::InvalidPermission)
        ])
    );
    let night = roles
        .create(&RoleForm::new("Night Shift", ["engage:view".parse().unwrap()]))
        .await
        .expect("create role");
    let night = roles
        .change(
            &night.id,
            &RoleChange::new().permissions(PermissionSet::parse_scope("engage:view intake:view").unwrap().iter()),
        )
        .await
        .expect("change role");
    assert_eq!(
        roles.get(&night.id).await.unwrap().permissions.to_scope(),
        "engage:view intake:view"
    );

    // Users.
    let users = admin.admin().users();
    let short = users
        .create(&UserForm::new("jo@agency.org", "Jo", Password::new("short")))
        .await
        .unwrap_err();
    assert_eq!(
        codes(short.field_errors()),
        expected(&[("password", ErrorCode::TooShort)])
    );
    let jo = users
        .create(&UserForm::new("jo@agency.org", "Jo", Password::new("a long enough password")).roles([&night.id]))
        .await
        .expect("create user");
    let taken = users
        .create(&UserForm::new(
            "JO@agency.org",
            "Jo Again",
            Password::new("a long enough password"),
        ))
        .await
        .unwrap_err();
    assert!(matches!(taken, Error::Api { status: 422, .. }), "{taken:?}");
    assert_eq!(
        codes(taken.field_errors()),
        expected(&[("email", ErrorCode::EmailInUse)])
    );
    let jo = users
        .change(&jo.id, &UserChange::new().name("Jo Lee"))
        .await
        .expect("change user");
    assert_eq!(users.get(&jo.id).await.unwrap().name, "Jo Lee");
    assert_eq!(users.list().all().await.unwrap().len(), 2);
    assert!(matches!(
        roles.remove(&night.id).await,
        Err(Error::Api { status: 409, .. })
    ));
    users.remove(&jo.id).await.expect("remove user");
    roles.remove(&night.id).await.expect("remove role");
    assert!(matches!(
        roles.get(&night.id).await,
        Err(Error::Api { status: 404, .. })
    ));

    // Registration: the offline errors are the server's errors.
    let apps = admin.admin().applications();
    let bad = ApplicationForm::new("  ", "not-an-address")
        .application_url("ftp://partner.example.org")
        .description("d".repeat(1001));
    let offline = apps.register(&bad).await.unwrap_err();
    assert!(matches!(offline, Error::Validation(_)), "{offline:?}");
    let server: Value = app
        .post_json(
            "/admin/v1/external-applications",
            &app.admin_token().await,
            &serde_json::to_value(&bad).unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    let server: Vec<casebook_sdk::FieldError> = serde_json::from_value(server["errors"].clone()).unwrap();
    assert_eq!(codes(offline.field_errors()), codes(&server));
    assert_eq!(codes(&server).len(), 5);
    assert!(apps.list().all().await.unwrap().is_empty(), "nothing was registered");
    let unknown = apps
        .register(&form("Unknown Role App", &["no-such-role"]))
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::Api { status: 422, .. }));
    assert_eq!(
        codes(unknown.field_errors()),
        expected(&[("roles", ErrorCode::UnknownRole)])
    );

    // Register, look, change, reveal, rotate.
    let registered = apps
        .register(&form("Records Bridge", &["engage-worker"]))
        .await
        .expect("register");
    assert_eq!(registered.callback_url, app.base_url);
    assert!(registered.enabled);
    apps.register(&form("Other Bridge", &["auditor"]))
        .await
        .expect("register");
    let found = apps.list().name_contains("records").all().await.unwrap();
    assert_eq!(
        found.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [registered.id.as_str()]
    );
    assert_eq!(apps.list().email_contains("OTHER-bridge").all().await.unwrap().len(), 1);
    assert_eq!(apps.list().all().await.unwrap().len(), 2);
    let changed = apps
        .change(&registered.id, &ApplicationChange::new().description("Nightly export"))
        .await
        .expect("change");
    assert_eq!(changed.description.as_deref(), Some("Nightly export"));
    assert_eq!(apps.get(&registered.id).await.unwrap().client_id, registered.client_id);

    match apps
        .reveal_secret(&registered.id, &Password::new("not the password"))
        .await
    {
        Err(Error::Api { status: 403, .. }) => {}
        other => panic!("a wrong password must be refused: {other:?}"),
    }
    let password = Password::new(ADMIN_PASSWORD);
    let revealed = apps.reveal_secret(&registered.id, &password).await.expect("reveal");
    assert!(!format!("{revealed:?}").contains(revealed.client_secret.expose()));
    let old = revealed.client_secret.expose().to_owned();
    let bridge = partner(&app, &registered.client_id, &old);
    assert_eq!(bridge.me().await.expect("old secret works").name, "Records Bridge");

    let rotated = apps
        .rotate_secret(&registered.id, &password, Duration::ZERO)
        .await
        .expect("rotate");
    assert_ne!(rotated.client_secret.expose(), old);
    assert_eq!(rotated.previous_secret_valid_until, None);
    let stale = partner(&app, &registered.client_id, &old);
    assert_eq!(
        stale.me().await.unwrap_err().oauth_code(),
        Some(OAuthErrorCode::InvalidClient)
    );
    let fresh = partner(&app, &registered.client_id, rotated.client_secret.expose());
    assert_eq!(fresh.me().await.expect("new secret works").name, "Records Bridge");
    let graced = apps
        .rotate_secret(&registered.id, &password, Duration::from_secs(600))
        .await
        .expect("rotate with grace");
    assert!(graced.previous_secret_valid_until.is_some());

    // An application with admin permissions may use the admin API, but only a
    // person may see a secret.
    let (_, admin_app_id, admin_app_secret) = register(&admin, "Provisioner", &["administrator"]).await;
    let provisioner = partner(&app, &admin_app_id, &admin_app_secret);
    assert_eq!(provisioner.admin().roles().list().all().await.unwrap().len(), 5);
    match provisioner
        .admin()
        .applications()
        .reveal_secret(&registered.id, &password)
        .await
    {
        Err(Error::Api { status: 403, .. }) => {}
        other => panic!("an application cannot reveal secrets: {other:?}"),
    }

    // Disabling refuses new tokens, with the typed error.
    apps.change(&registered.id, &ApplicationChange::new().enabled(false))
        .await
        .expect("disable");
    let disabled = partner(&app, &registered.client_id, rotated.client_secret.expose());
    assert_eq!(
        disabled.me().await.unwrap_err().oauth_code(),
        Some(OAuthErrorCode::InvalidClient)
    );

    // The audit trail saw it all, with no secret in it.
    let events = admin.admin().audit_events().limit(100).all().await.expect("audit");
    let actions: BTreeSet<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "application.registered",
        "application.secret_revealed",
        "application.secret_rotated",
        "application.disabled",
    ] {
        assert!(actions.contains(action), "{action} missing from {actions:?}");
    }
    let trail = serde_json::to_string(&events).unwrap();
    assert!(!trail.contains(&old) && !trail.contains(rotated.client_secret.expose()));
    // Filtered as the server filters: the disable, found by the Client ID.
    let disables = admin
        .admin()
        .audit_events()
        .action("application.disabled")
        .search(registered.client_id.as_str())
        .all()
        .await
        .expect("filtered audit");
    assert_eq!(disables.len(), 1, "{disables:?}");
    assert_eq!(
        disables[0].changes,
        Some(serde_json::json!({"enabled": {"from": true, "to": false}}))
    );

    apps.remove(&registered.id).await.expect("remove");
    assert!(matches!(
        apps.get(&registered.id).await,
        Err(Error::Api { status: 404, .. })
    ));

    // Signing out ends the session for every clone.
    let clone = admin.clone();
    admin.sign_out().await.expect("sign out");
    assert!(matches!(clone.me().await, Err(Error::Api { status: 401, .. })));
});

both_backends!(
    refresh_after_expiry,
    spawn = Spawn {
        options: TestOptions {
            token_lifetime_secs: 2,
            ..TestOptions::default()
        },
        ..Spawn::default()
    },
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let (_, client_id, secret) = register(&admin, "Short Lived", &["engage-worker"]).await;
        let client = partner(&app, &client_id, &secret);
        client.me().await.expect("me");
        client.me().await.expect("me");
        assert_eq!(metric(&app, TOKENS_ISSUED).await, 1);
        for round in 2..=3 {
            tokio::time::sleep(Duration::from_millis(2_100)).await;
            client.me().await.expect("me after expiry");
            client.cases().list().send().await.expect("list after expiry");
            assert_eq!(metric(&app, TOKENS_ISSUED).await, round);
        }
        // Never did a call go out with an expired token.
        assert_eq!(metric(&app, &requests("GET", "/api/v1/me", 401)).await, 0);
    }
);

both_backends!(
    a_thousand_calls_on_a_cold_cache_cost_one_token,
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let (_, client_id, secret) = register(&admin, "Busy Partner", &["engage-worker"]).await;
        let client = partner(&app, &client_id, &secret);
        let before = metric(&app, TOKENS_ISSUED).await;
        let calls: Vec<_> = (0..1000)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.me().await })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.expect("task").expect("me").name, "Busy Partner");
        }
        assert_eq!(metric(&app, TOKENS_ISSUED).await - before, 1);
        assert_eq!(metric(&app, &requests("POST", "/oauth2/token", 200)).await, 1);
    }
);

both_backends!(
    a_revoked_token_is_renewed_and_the_call_retried,
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let (_, client_id, secret) = register(&admin, "Revoked Partner", &["engage-worker"]).await;
        let client = partner(&app, &client_id, &secret);
        client.me().await.expect("me");
        let token = client
            .token_source()
            .expect("application")
            .token()
            .await
            .expect("token");
        let revoked = app
            .http
            .post(app.url("/oauth2/revoke"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("token", token.secret())])
            .send()
            .await
            .expect("revoke");
        assert_eq!(revoked.status(), 200);

        assert_eq!(client.me().await.expect("renewed").name, "Revoked Partner");
        assert_eq!(metric(&app, &requests("GET", "/api/v1/me", 401)).await, 1);
        assert_eq!(metric(&app, &requests("GET", "/api/v1/me", 200)).await, 2);
        assert_eq!(metric(&app, TOKENS_ISSUED).await, 2);
        let renewed = client.token_source().unwrap().token().await.unwrap();
        assert_ne!(renewed.secret(), token.secret());
    }
);

both_backends!(invalid_client_is_typed_and_not_retried, |app: TestApp| async move {
    let admin = app.sdk_admin().await;
    let (_, client_id, _) = register(&admin, "Mistyped Partner", &["engage-worker"]).await;
    let not_the_secret = ClientSecret::from_random([3; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
    let wrong = partner(&app, &client_id, not_the_secret.expose());
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let client = wrong.clone();
            tokio::spawn(async move { client.me().await })
        })
        .collect();
    for call in calls {
        match call.await.expect("task") {
            Err(Error::OAuth {
                code: OAuthErrorCode::InvalidClient,
                status: 401,
                ..
            }) => {}
            other => panic!("expected invalid_client: {other:?}"),
        }
    }
    // One request, shared by all fifty callers, and no retry of it.
    assert_eq!(metric(&app, CLIENT_AUTH_FAILURES).await, 1);
    assert_eq!(metric(&app, &requests("POST", "/oauth2/token", 401)).await, 1);
    assert_eq!(metric(&app, TOKENS_ISSUED).await, 0);

    let whatever = ClientSecret::from_random([4; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
    let unknown = partner(&app, "cb_00000000000000000000000000000000", whatever.expose());
    let error = unknown.me().await.unwrap_err();
    assert_eq!(error.oauth_code(), Some(OAuthErrorCode::InvalidClient));
    assert!(!error.is_transient());
    assert!(!format!("{error:?} {error}").contains(whatever.expose()));
    assert_eq!(metric(&app, CLIENT_AUTH_FAILURES).await, 2);
});
