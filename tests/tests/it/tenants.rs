//! Tenants (the contract, "Tenants"): one install, many agencies, and
//! nothing of one seen, used or changed from another. Each credential,
//! token and session of tenant A is tried at tenant B's every door and must
//! be refused exactly as an unknown one; B's answers must hold nothing of A.

use casebook_tests::{ADMIN_PASSWORD, APPS, TestApp, both_backends, expect, id_of, problem};
use serde_json::{Value, json};

const TENANT_ADMIN: &str = "admin@agency.example.org";

/// Creates a tenant from the root and returns its view, signed in as its
/// first Administrator.
async fn tenant(root: &TestApp, root_admin: &str, slug: &str) -> (TestApp, String) {
    let (at, admin, created) = root.create_tenant(root_admin, slug, TENANT_ADMIN).await;
    assert_eq!(created["slug"], slug);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["base_url"], format!("{}/t/{slug}", root.root_url()));
    assert!(
        created.get("admin_password").is_none(),
        "a given password is not echoed"
    );
    (at, admin)
}

/// What a tenant has after a little use: a role, a user, an application
/// with a live token.
struct Holdings {
    role_id: String,
    user_id: String,
    app_id: String,
    client_id: String,
    secret: String,
    token: String,
    admin: String,
}

async fn fill(at: &TestApp, admin: &str, tag: &str) -> Holdings {
    let role = at.create_role(admin, &format!("Role {tag}"), &["engage:view"]).await;
    let user = at
        .create_user(
            admin,
            &format!("{tag}@people.example.org"),
            &format!("Person {tag}"),
            &[role["id"].as_str().unwrap()],
        )
        .await;
    let (app, client_id, secret) = at
        .partner(admin, &format!("App {tag}"), &[role["id"].as_str().unwrap()])
        .await;
    let token = at.access_token(&client_id, &secret).await;
    Holdings {
        role_id: id_of(&role),
        user_id: id_of(&user),
        app_id: id_of(&app),
        client_id,
        secret,
        token,
        admin: admin.to_owned(),
    }
}

/// Every list a tenant's admin can read, as one text.
async fn everything_listed(at: &TestApp, admin: &str) -> String {
    let mut all = String::new();
    for path in [
        "/admin/v1/roles",
        "/admin/v1/users",
        APPS,
        "/admin/v1/audit-events",
        "/api/v1/engage/cases",
    ] {
        let r = at.get(&format!("{path}?limit=100"), admin).await;
        if r.status() == 200 {
            all.push_str(&r.text().await.unwrap());
        }
    }
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
    ] {
        all.push_str(&at.public_json(path).await.to_string());
    }
    all
}

fn mentions_any(text: &str, holdings: &Holdings) -> Vec<String> {
    [
        &holdings.role_id,
        &holdings.user_id,
        &holdings.app_id,
        &holdings.client_id,
    ]
    .into_iter()
    .filter(|needle| text.contains(needle.as_str()))
    .cloned()
    .collect()
}

/// The answer to a request, status and body, for comparing two refusals.
async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

both_backends!(nothing_of_one_tenant_reaches_another, |root: TestApp| async move {
    let root_admin = root.admin_token().await;
    let (alpha, alpha_admin) = tenant(&root, &root_admin, "alpha").await;
    let (beta, beta_admin) = tenant(&root, &root_admin, "beta").await;
    let a = fill(&alpha, &alpha_admin, "a").await;
    let b = fill(&beta, &beta_admin, "b").await;
    let r = fill(&root, &root_admin, "r").await;

    // Lists, audit, metadata and keys: nothing of the others.
    for (view, admin, own, others) in [
        (&alpha, &alpha_admin, &a, [&b, &r]),
        (&beta, &beta_admin, &b, [&a, &r]),
        (&root, &root_admin, &r, [&a, &b]),
    ] {
        let listed = everything_listed(view, admin).await;
        assert!(!mentions_any(&listed, own).is_empty(), "a tenant sees its own rows");
        for other in others {
            assert_eq!(
                mentions_any(&listed, other),
                Vec::<String>::new(),
                "at {}",
                view.base_url
            );
        }
    }

    // Keys: no `kid` shared, and each tenant's issuer is its base URL.
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let alpha_kids = kids(alpha.public_json("/.well-known/jwks.json").await);
    let beta_kids = kids(beta.public_json("/.well-known/jwks.json").await);
    let root_kids = kids(root.public_json("/.well-known/jwks.json").await);
    assert!(
        alpha_kids
            .iter()
            .all(|k| !beta_kids.contains(k) && !root_kids.contains(k))
    );
    let metadata = alpha.public_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(metadata["issuer"], alpha.base_url);
    assert_eq!(metadata["token_endpoint"], format!("{}/oauth2/token", alpha.base_url));
    assert!(
        !metadata["scopes_supported"].to_string().contains("tenants:"),
        "tenants:* only at the root"
    );
    // RFC 8414 §3.1 / RFC 9728 §3.1: the well-known path before the issuer's path.
    let inserted = root
        .public_json("/.well-known/oauth-authorization-server/t/alpha")
        .await;
    assert_eq!(inserted, metadata);
    let resource = root.public_json("/.well-known/oauth-protected-resource/t/alpha").await;
    assert_eq!(resource["resource"], alpha.base_url);

    // A's Client ID at B's token endpoint: exactly as an unknown one.
    let foreign = answer(beta.token_response(&a.client_id, &a.secret, None).await).await;
    let unknown = answer(beta.token_response("cb_unknownclientid000000", &a.secret, None).await).await;
    assert_eq!(foreign.0, 401);
    assert_eq!(foreign, unknown);
    assert_eq!(
        answer(root.token_response(&a.client_id, &a.secret, None).await).await,
        unknown
    );

    // A's token at B's API and admin API, and in B's introspection.
    for (path, what) in [("/api/v1/me", "api"), (APPS, "admin api")] {
        let r = beta.get(path, &a.token).await;
        assert_eq!(r.status(), 401, "{what}");
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
        assert!(challenge.contains(&format!("{}/.well-known/oauth-protected-resource", beta.base_url)));
        assert_eq!(root.get(path, &a.token).await.status(), 401, "{what} at the root");
    }
    let introspected = beta
        .http
        .post(beta.url("/oauth2/introspect"))
        .basic_auth(&b.client_id, Some(&b.secret))
        .form(&[("token", a.token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(expect(introspected, 200).await, json!({"active": false}));
    // … while at its own tenant it is alive, with the tenant's issuer.
    assert_eq!(alpha.get("/api/v1/me", &a.token).await.status(), 200);
    let claims = casebook_tests::jwt_part(&a.token, 1);
    assert_eq!(claims["iss"], alpha.base_url);
    assert_eq!(claims["aud"], alpha.base_url);

    // A's admin session at B and at the root.
    assert_eq!(beta.get("/admin/v1/roles", &a.admin).await.status(), 401);
    assert_eq!(root.get("/admin/v1/roles", &a.admin).await.status(), 401);
    assert_eq!(alpha.get("/admin/v1/roles", &root_admin).await.status(), 401);

    // A's records by id at B: not found, as records that do not exist.
    for path in [
        format!("/admin/v1/roles/{}", a.role_id),
        format!("/admin/v1/users/{}", a.user_id),
        format!("{APPS}/{}", a.app_id),
    ] {
        problem(beta.get(&path, &b.admin).await, 404).await;
        problem(beta.delete(&path, &b.admin).await, 404).await;
    }
    // A role of A cannot be given at B.
    let refused = beta
        .post_json(
            "/admin/v1/users",
            &b.admin,
            &json!({"email": "x@people.example.org", "name": "X", "password": ADMIN_PASSWORD, "roles": [a.role_id]}),
        )
        .await;
    problem(refused, 422).await;

    // The same address serves two agencies; emails are unique per tenant.
    alpha
        .create_user(&a.admin, "shared@partner.example.org", "Shared", &[])
        .await;
    beta.create_user(&b.admin, "shared@partner.example.org", "Shared", &[])
        .await;

    // Tenants are managed at the root only.
    problem(alpha.get("/admin/v1/tenants", &a.admin).await, 404).await;
    problem(alpha.get("/admin/v1/tenants", &root_admin).await, 404).await;
    let listed = expect(root.get("/admin/v1/tenants", &root_admin).await, 200).await;
    let slugs: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["alpha", "beta", "root"]);
    // A tenant's Administrator holds no tenants:* permission.
    let me = expect(alpha.get("/api/v1/me", &a.admin).await, 200).await;
    assert!(!me.to_string().contains("tenants:"), "{me}");
    // An unknown tenant is a path that does not exist.
    problem(root.at_tenant("gamma").get("/api/v1/me", &a.token).await, 404).await;
    problem(root.at_tenant("root").get("/api/v1/me", &r.token).await, 404).await;
});

both_backends!(
    the_sdk_takes_a_tenants_base_url_as_its_callback_url,
    |root: TestApp| async move {
        use casebook_sdk::{Client, ClientSecret};
        let root_admin = root.admin_token().await;
        let (alpha, alpha_admin) = tenant(&root, &root_admin, "alpha").await;
        let a = fill(&alpha, &alpha_admin, "a").await;
        // The Callback URL the console shows for the application.
        let shown = expect(alpha.get(&format!("{APPS}/{}", a.app_id), &alpha_admin).await, 200).await;
        assert_eq!(shown["callback_url"], alpha.base_url);
        let client = Client::builder(shown["callback_url"].as_str().unwrap())
            .client_credentials(&a.client_id, ClientSecret::from_presented(&a.secret))
            .build()
            .expect("client");
        let me = client.me().await.expect("me at the tenant");
        assert_eq!(me.client_id.map(|id| id.to_string()), Some(a.client_id.clone()));
        // The same credentials with the root as Callback URL are unknown there.
        let lost = Client::builder(&root.base_url)
            .client_credentials(&a.client_id, ClientSecret::from_presented(&a.secret))
            .build()
            .expect("client");
        assert!(lost.me().await.is_err());
        // The seed's `callbackUrl + '/oauth2/token'` is the tenant's token endpoint.
        let r = alpha
            .http
            .post(format!("{}/oauth2/token", shown["callback_url"].as_str().unwrap()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &a.client_id),
                ("client_secret", &a.secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
);

both_backends!(
    a_disabled_tenant_refuses_and_a_deleted_one_is_gone,
    |root: TestApp| async move {
        let root_admin = root.admin_token().await;
        let (alpha, alpha_admin) = tenant(&root, &root_admin, "alpha").await;
        let a = fill(&alpha, &alpha_admin, "a").await;

        let disabled = expect(
            root.patch_json("/admin/v1/tenants/alpha", &root_admin, &json!({"enabled": false}))
                .await,
            200,
        )
        .await;
        assert_eq!(disabled["enabled"], false);
        let refused = answer(alpha.token_response(&a.client_id, &a.secret, None).await).await;
        assert_eq!((refused.0, refused.1["error"].clone()), (401, json!("invalid_client")));
        assert_eq!(alpha.get("/api/v1/me", &a.token).await.status(), 401);
        assert_eq!(alpha.get("/admin/v1/roles", &a.admin).await.status(), 401);
        let sign_in = alpha
            .http
            .post(alpha.url("/admin/v1/sessions"))
            .json(&json!({"email": TENANT_ADMIN, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(sign_in.status(), 401);

        // Enabled again: new tokens work, the old one stays dead.
        expect(
            root.patch_json("/admin/v1/tenants/alpha", &root_admin, &json!({"enabled": true}))
                .await,
            200,
        )
        .await;
        let fresh = alpha.access_token(&a.client_id, &a.secret).await;
        assert_eq!(alpha.get("/api/v1/me", &fresh).await.status(), 200);
        assert_eq!(alpha.get("/api/v1/me", &a.token).await.status(), 401);

        // The root can be neither disabled nor deleted.
        problem(
            root.patch_json("/admin/v1/tenants/root", &root_admin, &json!({"enabled": false}))
                .await,
            409,
        )
        .await;
        problem(root.delete("/admin/v1/tenants/root", &root_admin).await, 409).await;

        // Deleted: every row goes in one transaction, and its paths are gone.
        assert_eq!(root.delete("/admin/v1/tenants/alpha", &root_admin).await.status(), 204);
        problem(alpha.get("/api/v1/me", &fresh).await, 404).await;
        problem(root.get("/admin/v1/tenants/alpha", &root_admin).await, 404).await;
        assert_eq!(root.get("/api/v1/me", &fresh).await.status(), 401);
        // A tenant of the same slug made later starts empty, with other keys.
        let (again, again_admin) = tenant(&root, &root_admin, "alpha").await;
        let listed = everything_listed(&again, &again_admin).await;
        assert_eq!(mentions_any(&listed, &a), Vec::<String>::new());
        assert_eq!(again.get("/api/v1/me", &fresh).await.status(), 401);
    }
);

both_backends!(
    managing_tenants_takes_the_tenants_permissions,
    |root: TestApp| async move {
        let admin = root.admin_token().await;
        // A root user with every agency permission but no tenants:*.
        let agency: Vec<String> = ["engage", "intake", "investigations", "placements", "providers", "admin"]
            .iter()
            .flat_map(|m| ["view", "create", "edit", "delete"].map(|a| format!("{m}:{a}")))
            .collect();
        let agency: Vec<&str> = agency.iter().map(String::as_str).collect();
        let role = root.create_role(&admin, "Agency only", &agency).await;
        root.create_user(
            &admin,
            "agency@people.example.org",
            "Agency",
            &[role["id"].as_str().unwrap()],
        )
        .await;
        let agency_admin = root
            .sign_in("agency@people.example.org", casebook_tests::USER_PASSWORD)
            .await;
        let form = json!({"slug": "acme", "name": "Acme", "admin_email": "a@acme.example.org"});
        problem(root.get("/admin/v1/tenants", &agency_admin).await, 403).await;
        problem(root.post_json("/admin/v1/tenants", &agency_admin, &form).await, 403).await;
        // Granting tenants:* takes holding it: the grant rule, as everywhere.
        let viewer = root.create_role(&admin, "Tenant viewer", &["tenants:view"]).await;
        let refused = root
            .patch_json(
                &format!("/admin/v1/roles/{}", id_of(&viewer)),
                &agency_admin,
                &json!({"permissions": ["tenants:view", "tenants:create"]}),
            )
            .await;
        problem(refused, 403).await;
        // An application with tenants:view lists them; it cannot create one.
        let (_, client_id, secret) = root
            .partner(&admin, "Platform tool", &[viewer["id"].as_str().unwrap()])
            .await;
        let token = root.access_token(&client_id, &secret).await;
        expect(root.get("/admin/v1/tenants", &token).await, 200).await;
        problem(root.post_json("/admin/v1/tenants", &token, &form).await, 403).await;
        // A role at a tenant cannot carry tenants:* (its Administrator holds none).
        let (acme, acme_admin) = tenant(&root, &admin, "acme").await;
        let r = acme
            .post_json(
                "/admin/v1/roles",
                &acme_admin,
                &json!({"name": "Sneaky", "permissions": ["tenants:view"]}),
            )
            .await;
        problem(r, 403).await;
    }
);

both_backends!(tenant_forms_are_checked, |root: TestApp| async move {
    let admin = root.admin_token().await;
    let bad = problem(
        root.post_json(
            "/admin/v1/tenants",
            &admin,
            &json!({"slug": "-Bad", "name": "", "admin_email": "nope"}),
        )
        .await,
        422,
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["slug", "name", "admin_email"]);
    let taken = problem(
        root.post_json(
            "/admin/v1/tenants",
            &admin,
            &json!({"slug": "root", "name": "R", "admin_email": "a@b.example.org"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(taken["errors"][0]["code"], "name_in_use");
    // A generated password is shown once, and works.
    let created = expect(
        root.post_json(
            "/admin/v1/tenants",
            &admin,
            &json!({"slug": "gen", "name": "Gen", "admin_email": "a@gen.example.org"}),
        )
        .await,
        201,
    )
    .await;
    let password = created["admin_password"]
        .as_str()
        .expect("generated password")
        .to_owned();
    root.at_tenant("gen").sign_in("a@gen.example.org", &password).await;
    let again = problem(
        root.post_json(
            "/admin/v1/tenants",
            &admin,
            &json!({"slug": "gen", "name": "Gen", "admin_email": "a@gen.example.org"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(again["errors"][0]["field"], "slug");
    assert!(
        expect(root.get("/admin/v1/tenants/gen", &admin).await, 200)
            .await
            .get("admin_password")
            .is_none()
    );
});

/// One operation of the property below, in tenant 0 or 1.
#[derive(Debug, Clone)]
enum Op {
    Role(usize),
    User(usize, usize),
    App(usize),
    Case(usize),
    RemoveRole(usize, usize),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..2usize).prop_map(Op::Role),
        (0..2usize, 0..3usize).prop_map(|(t, e)| Op::User(t, e)),
        (0..2usize).prop_map(Op::App),
        (0..2usize).prop_map(Op::Case),
        (0..2usize, 0..4usize).prop_map(|(t, i)| Op::RemoveRole(t, i)),
    ]
}

/// What each tenant made, by id, as the model the server must agree with.
#[derive(Default)]
struct Made {
    ids: [Vec<String>; 2],
    roles: [Vec<String>; 2],
    counter: usize,
}

async fn apply(views: &[(TestApp, String); 2], made: &mut Made, op: &Op) {
    made.counter += 1;
    let n = made.counter;
    match *op {
        Op::Role(t) => {
            let (at, admin) = &views[t];
            let role = at.create_role(admin, &format!("Prop role {n}"), &["engage:view"]).await;
            made.roles[t].push(id_of(&role));
            made.ids[t].push(id_of(&role));
        }
        Op::User(t, e) => {
            // A small pool of addresses: the same one may land in both
            // tenants (allowed) or twice in one (422).
            let (at, admin) = &views[t];
            let email = format!("pool{e}@people.example.org");
            let r = at
                .post_json(
                    "/admin/v1/users",
                    admin,
                    &json!({"email": email, "name": format!("Prop {n}"), "password": ADMIN_PASSWORD, "roles": made.roles[t]}),
                )
                .await;
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            match status {
                201 => made.ids[t].push(id_of(&body)),
                422 => assert_eq!(body["errors"][0]["code"], "email_in_use", "{body}"),
                other => panic!("creating a user: {other} {body}"),
            }
        }
        Op::App(t) => {
            let (at, admin) = &views[t];
            // An application needs a role: the tenant's own seeded one.
            let role = format!("{}.engage-worker", ["prop-a", "prop-b"][t]);
            let app = at
                .register(
                    admin,
                    &format!("Prop app {n}"),
                    &format!("app{n}@partner.example.org"),
                    &[&role],
                )
                .await;
            made.ids[t].push(id_of(&app));
            made.ids[t].push(app["client_id"].as_str().unwrap().to_owned());
        }
        Op::Case(t) => {
            let (at, admin) = &views[t];
            let case = expect(
                at.post_json("/api/v1/engage/cases", admin, &json!({"title": format!("Case {n}")}))
                    .await,
                201,
            )
            .await;
            made.ids[t].push(id_of(&case));
        }
        Op::RemoveRole(t, i) => {
            // A role of the *other* tenant, by id: as unknown here as none.
            let other = 1 - t;
            if let Some(id) = made.roles[other].get(i) {
                let (at, admin) = &views[t];
                problem(at.delete(&format!("/admin/v1/roles/{id}"), admin).await, 404).await;
            }
        }
    }
}

both_backends!(
    no_read_of_one_tenant_returns_a_row_of_the_other,
    |root: TestApp| async move {
        use proptest::strategy::Strategy;
        use proptest::test_runner::{Config, TestRunner};
        let root_admin = root.admin_token().await;
        let views = [
            tenant(&root, &root_admin, "prop-a").await,
            tenant(&root, &root_admin, "prop-b").await,
        ];
        let handle = tokio::runtime::Handle::current();
        let made = tokio::sync::Mutex::new(Made::default());
        // Few cases, each a sequence: every case runs against the same two
        // tenants, so what earlier cases made is still there to leak.
        let mut runner = TestRunner::new(Config {
            cases: 12,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&proptest::collection::vec(op(), 1..10).boxed(), |ops| {
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let mut made = made.lock().await;
                    for op in &ops {
                        apply(&views, &mut made, op).await;
                    }
                    for (t, (at, admin)) in views.iter().enumerate() {
                        let listed = everything_listed(at, admin).await;
                        let leaked: Vec<&String> = made.ids[1 - t]
                            .iter()
                            .filter(|id| listed.contains(id.as_str()))
                            .collect();
                        assert!(
                            leaked.is_empty(),
                            "tenant {t} lists the other's {leaked:?} after {ops:?}"
                        );
                        let missing: Vec<&String> =
                            made.ids[t].iter().filter(|id| !listed.contains(id.as_str())).collect();
                        assert!(missing.is_empty(), "tenant {t} lost its own {missing:?}");
                    }
                })
            });
            Ok(())
        });
        result.unwrap();
    }
);

/// Polls until `path` answers `status` with `token` at `at`, for at most
/// the contract's 5 seconds; returns how long it took.
async fn refused_within(at: &TestApp, path: &str, token: &str, status: u16) -> std::time::Duration {
    let start = std::time::Instant::now();
    loop {
        if at.get(path, token).await.status() == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{path} still not {status} after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

both_backends!(
    a_tenant_disabled_or_deleted_on_one_replica_is_refused_on_every_other,
    |root: TestApp| async move {
        let other = root.replica().await;
        let root_admin = root.admin_token().await;
        let (alpha, alpha_admin) = tenant(&root, &root_admin, "alpha").await;
        let a = fill(&alpha, &alpha_admin, "a").await;
        let alpha_elsewhere = other.at_tenant("alpha");
        // Cached there: the token and the tenant are both known to the other replica.
        assert_eq!(alpha_elsewhere.get("/api/v1/me", &a.token).await.status(), 200);
        assert_eq!(alpha_elsewhere.get("/admin/v1/roles", &a.admin).await.status(), 200);

        expect(
            root.patch_json("/admin/v1/tenants/alpha", &root_admin, &json!({"enabled": false}))
                .await,
            200,
        )
        .await;
        refused_within(&alpha_elsewhere, "/api/v1/me", &a.token, 401).await;
        refused_within(&alpha_elsewhere, "/admin/v1/roles", &a.admin, 401).await;
        let r = alpha_elsewhere.token_response(&a.client_id, &a.secret, None).await;
        assert_eq!(answer(r).await.1["error"], "invalid_client");

        expect(
            root.patch_json("/admin/v1/tenants/alpha", &root_admin, &json!({"enabled": true}))
                .await,
            200,
        )
        .await;
        let fresh = alpha.access_token(&a.client_id, &a.secret).await;
        refused_within(&alpha_elsewhere, "/api/v1/me", &fresh, 200).await;
        assert_eq!(root.delete("/admin/v1/tenants/alpha", &root_admin).await.status(), 204);
        refused_within(&alpha_elsewhere, "/api/v1/me", &fresh, 404).await;
    }
);

both_backends!(
    no_tenant_is_made_while_a_replica_of_the_release_before_serves,
    |root: TestApp| async move {
        let admin = root.admin_token().await;
        let db = root.running.state.db();
        // What a replica of 0.2.0 leaves: a quota heartbeat, and no release row.
        sqlx::query("INSERT INTO token_quota_replicas (replica_id, seen_at) VALUES ('an-old-replica', $1)")
            .bind(db.now_micros())
            .execute(db.pool())
            .await
            .unwrap();
        let form = json!({"slug": "acme", "name": "Acme", "admin_email": "a@acme.example.org"});
        let refused = problem(root.post_json("/admin/v1/tenants", &admin, &form).await, 409).await;
        assert!(
            refused["detail"].as_str().unwrap().contains("upgrade every replica"),
            "{refused}"
        );
        problem(root.get("/admin/v1/tenants/acme", &admin).await, 404).await;
        // Once it has gone quiet (or been upgraded), tenants can be made.
        sqlx::query("DELETE FROM token_quota_replicas WHERE replica_id = 'an-old-replica'")
            .execute(db.pool())
            .await
            .unwrap();
        expect(root.post_json("/admin/v1/tenants", &admin, &form).await, 201).await;
    }
);
