//! Attacks on tenant isolation (the contract, "Tenants"): each test plays
//! tenant A's credentials, ids, tokens and tricks against tenant B and the
//! root, at the doors `tenants.rs` does not already try. Every refusal is
//! compared with the answer for something that never existed, because an
//! answer that differs tells the attacker that A has it; and A's things are
//! checked again afterwards, because a refusal that changed them anyway is
//! no refusal.
//!
//! The tests under a `FINDING` heading show a fault of the server as it
//! stands: they fail until it is fixed.

use crate::federated::{EXPORTER, Issuer, credential, credentials_path, trust};
use crate::jose::{Key, signed};
use casebook_domain::ClientSecret;
use casebook_tests::{ADMIN_PASSWORD, APPS, TestApp, USER_PASSWORD, both_backends, expect, id_of, problem};
use serde_json::{Value, json};

const TENANT_ADMIN: &str = "admin@agency.example.org";

/// Ids that look like the real thing but name nothing anywhere.
const NO_SUCH_ID: &str = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee";
const NO_SUCH_CLIENT: &str = "cb_unknownclientid000000";

// ------------------------------------------------------------------ setting up

/// A tenant made from the root, and its first Administrator's session.
async fn tenant(root: &TestApp, root_admin: &str, slug: &str) -> (TestApp, String) {
    let (at, admin, _) = root.create_tenant(root_admin, slug, TENANT_ADMIN).await;
    (at, admin)
}

/// What an attacker may have learnt of a tenant: its ids, one client's
/// credentials and a live token, a user's session.
struct Loot {
    role_id: String,
    user_id: String,
    user_email: String,
    app_id: String,
    app_email: String,
    client_id: String,
    secret: String,
    token: String,
    admin: String,
    /// The session of a plain user (not the Administrator).
    session: String,
}

async fn fill(at: &TestApp, admin: &str, tag: &str) -> Loot {
    let role = at.create_role(admin, &format!("Role {tag}"), &["engage:view"]).await;
    let user_email = format!("{tag}@people.example.org");
    let user = at
        .create_user(admin, &user_email, &format!("Person {tag}"), &[&id_of(&role)])
        .await;
    let (app, client_id, secret) = at.partner(admin, &format!("App {tag}"), &[&id_of(&role)]).await;
    let token = at.access_token(&client_id, &secret).await;
    let session = at.sign_in(&user_email, USER_PASSWORD).await;
    Loot {
        role_id: id_of(&role),
        user_id: id_of(&user),
        user_email,
        app_id: id_of(&app),
        app_email: app["email"].as_str().unwrap().to_owned(),
        client_id,
        secret,
        token,
        admin: admin.to_owned(),
        session,
    }
}

/// Root, alpha and beta, each with its loot, and the root's admin session.
struct World {
    root: TestApp,
    root_admin: String,
    alpha: TestApp,
    beta: TestApp,
    a: Loot,
    b: Loot,
}

async fn world(root: TestApp) -> World {
    let root_admin = root.admin_token().await;
    let (alpha, alpha_admin) = tenant(&root, &root_admin, "alpha").await;
    let (beta, beta_admin) = tenant(&root, &root_admin, "beta").await;
    let a = fill(&alpha, &alpha_admin, "a").await;
    let b = fill(&beta, &beta_admin, "b").await;
    World {
        root,
        root_admin,
        alpha,
        beta,
        a,
        b,
    }
}

// ------------------------------------------------------------------ answers

/// Status and body text.
async fn answer(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// An answer with `id` written out of it, so that the answer about A's
/// thing and the one about a thing that never existed can be compared
/// whole (a 422 names the id it refused).
fn without(answer: (u16, String), id: &str, stand_in: &str) -> (u16, String) {
    (answer.0, answer.1.replace(id, stand_in))
}

/// Still A's, after an attack on it: its token, credentials and session
/// work, and its role, user and application are there, the application
/// enabled.
async fn still_intact(alpha: &TestApp, a: &Loot) {
    assert_eq!(alpha.get("/api/v1/me", &a.token).await.status(), 200, "A's token");
    alpha.access_token(&a.client_id, &a.secret).await;
    assert_eq!(alpha.get("/api/v1/me", &a.session).await.status(), 200, "A's session");
    expect(
        alpha.get(&format!("/admin/v1/roles/{}", a.role_id), &a.admin).await,
        200,
    )
    .await;
    expect(
        alpha.get(&format!("/admin/v1/users/{}", a.user_id), &a.admin).await,
        200,
    )
    .await;
    let app = expect(alpha.get(&format!("{APPS}/{}", a.app_id), &a.admin).await, 200).await;
    assert_eq!(app["enabled"], true);
}

/// A request written byte for byte, as no HTTP library would send it: dot
/// segments, doubled slashes and encoded slashes reach the server as typed.
async fn raw_get(app: &TestApp, target: &str, bearer: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The token endpoint's answer to a client ID and secret, from `from` (a
/// loopback address) so that each test's source budgets are its own.
async fn token_from(at: &TestApp, from: &str, client_id: &str, secret: &str) -> (u16, Value) {
    let r = at
        .client_from(from)
        .post(at.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A secret of the right shape that opens nothing.
fn wrong_secret() -> String {
    ClientSecret::from_random([7; casebook_domain::credentials::CLIENT_SECRET_BYTES])
        .expose()
        .to_owned()
}

// ------------------------------------------------------------------ paths

both_backends!(path_tricks_reach_no_other_tenant, |root: TestApp| async move {
    let w = world(root).await;
    let (root, alpha, beta) = (&w.root, &w.alpha, &w.beta);
    // A path that does not exist anywhere, as the router answers it.
    let nowhere = raw_get(root, "/no/such/path", Some(&w.b.token)).await;
    assert_eq!(nowhere.0, 404);

    // Each is sent with the credential of the tenant it tries to sneak into:
    // if the path were read as that tenant's, the answer would be 200.
    let beta_token = Some(w.b.token.as_str());
    let alpha_token = Some(w.a.token.as_str());
    for (target, bearer) in [
        // Another spelling of a slug is no slug.
        ("/t/ALPHA/api/v1/me", alpha_token),
        ("/t/alph%61/api/v1/me", alpha_token),
        ("/t//alpha/api/v1/me", alpha_token),
        ("/t/alpha;x/api/v1/me", alpha_token),
        // Dot segments and encoded slashes are not resolved into beta's path.
        ("/t/alpha/../beta/api/v1/me", beta_token),
        ("/t/alpha/%2E%2E/beta/api/v1/me", beta_token),
        ("/t/alpha%2F..%2Fbeta/api/v1/me", beta_token),
        ("/t/alpha%2Fbeta/api/v1/me", beta_token),
        ("/t/alpha/t/beta/api/v1/me", beta_token),
        ("/t/alpha//api/v1/me", alpha_token),
        ("/t/alpha/./api/v1/me", alpha_token),
        ("/t/alpha/api%2Fv1/me", alpha_token),
        // `/t/root` is not an alias of the root.
        ("/t/root/api/v1/me", Some(w.root_admin.as_str())),
        ("/t/root/admin/v1/roles", Some(w.root_admin.as_str())),
        // The RFC 8414 §3.1 form takes exactly one slug and nothing after it.
        ("/.well-known/oauth-authorization-server/t/alpha/extra", None),
        ("/.well-known/oauth-authorization-server/t/alpha/", None),
        ("/.well-known/oauth-authorization-server/t/root", None),
        ("/.well-known/oauth-authorization-server/t/ALPHA", None),
        ("/.well-known/oauth-protected-resource/t/alpha/../beta", None),
        ("/.well-known/jwks.json/t/alpha", None),
        ("/t/beta/.well-known/oauth-authorization-server/t/alpha", None),
    ] {
        let got = raw_get(root, target, bearer).await;
        assert_eq!(got.0, 404, "{target}: {}", got.1);
        assert_eq!(got, nowhere, "{target} must answer as a path that does not exist");
    }

    // A tenant named in the query string is no tenant: the root answers,
    // and refuses alpha's token as one it never signed.
    let (status, _) = raw_get(root, "/api/v1/me?/t/alpha", alpha_token).await;
    assert_eq!(status, 401);
    let (status, _) = raw_get(root, "/t/beta/api/v1/me?t=alpha&/t/alpha/", beta_token).await;
    assert_eq!(status, 200, "the query string is beta's own business");

    // Managing tenants is the root's, whatever spelling a tenant tries, and
    // whoever's credential it carries.
    for target in [
        "/t/alpha/admin/v1/tenants",
        "/t/alpha/admin/v1/tenants/",
        "/t/alpha/admin/v1/tenants/alpha",
        "/t/alpha/admin/v1/tenants/beta",
        "/t/alpha/admin/v1/tenants/root",
        "/t/alpha/admin/v1/%74enants",
        "/t/alpha/admin/v1//tenants",
        "/t/alpha/admin/v1/./tenants",
        "/t/alpha/admin/v1/tenants?limit=100",
    ] {
        for bearer in [w.a.admin.as_str(), w.root_admin.as_str()] {
            let got = raw_get(root, target, Some(bearer)).await;
            assert_eq!(got.0, 404, "{target}: {}", got.1);
            assert!(!got.1.contains("\"slug\""), "{target} listed tenants: {}", got.1);
        }
    }

    // The forms that do name a tenant answer for that tenant only.
    let inserted = root.public_json("/.well-known/oauth-protected-resource/t/beta").await;
    assert_eq!(inserted["resource"], beta.base_url);
    let (status, body) = raw_get(root, "/t/alpha/api/v1/me", alpha_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(alpha.get("/api/v1/me", &w.b.token).await.status(), 401);
});

// ------------------------------------------------------------------ roles

both_backends!(
    a_role_of_another_tenant_is_given_by_no_form,
    |root: TestApp| async move {
        let w = world(root).await;
        let (root, alpha, beta, a, b) = (&w.root, &w.alpha, &w.beta, &w.a, &w.b);
        // The seeded ids are guessable: `alpha.administrator`, and the root's
        // `administrator`.
        let seeded = |at: &TestApp, admin: String| {
            let at = at.clone();
            async move {
                let roles = expect(at.get("/admin/v1/roles?limit=100", &admin).await, 200).await;
                roles["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["name"] == "Administrator")
                    .map(id_of)
                    .expect("a seeded Administrator")
            }
        };
        let alpha_administrator = seeded(alpha, a.admin.clone()).await;
        let root_administrator = seeded(root, w.root_admin.clone()).await;
        assert_eq!(alpha_administrator, "alpha.administrator");
        let never = "gamma.administrator";

        // Every form that takes roles, at beta, with each foreign id; and
        // the same form with an id that never existed, for comparison.
        let forms = |role: &str| {
            vec![
                (
                    "POST",
                    "/admin/v1/users".to_owned(),
                    json!({"email": "new@people.example.org", "name": "New", "password": USER_PASSWORD, "roles": [role]}),
                ),
                (
                    "PATCH",
                    format!("/admin/v1/users/{}", b.user_id),
                    json!({"roles": [role]}),
                ),
                (
                    "POST",
                    APPS.to_owned(),
                    json!({"name": "New App", "email": "new@partner.example.org", "roles": [role]}),
                ),
                ("PATCH", format!("{APPS}/{}", b.app_id), json!({"roles": [role]})),
            ]
        };
        let send = |at: &TestApp, admin: &str, method: &str, path: &str, body: &Value| {
            let (at, admin, method, path, body) = (
                at.clone(),
                admin.to_owned(),
                method.to_owned(),
                path.to_owned(),
                body.clone(),
            );
            async move {
                let r = if method == "POST" {
                    at.post_json(&path, &admin, &body).await
                } else {
                    at.patch_json(&path, &admin, &body).await
                };
                answer(r).await
            }
        };
        for (at, admin, foreign) in [
            (
                beta,
                &b.admin,
                vec![
                    a.role_id.as_str(),
                    alpha_administrator.as_str(),
                    root_administrator.as_str(),
                ],
            ),
            (
                root,
                &w.root_admin,
                vec![a.role_id.as_str(), alpha_administrator.as_str()],
            ),
        ] {
            for role in foreign {
                for ((method, path, body), (_, _, control)) in forms(role).into_iter().zip(forms(never)) {
                    let got = without(send(at, admin, method, &path, &body).await, role, "ROLE");
                    let unknown = without(send(at, admin, method, &path, &control).await, never, "ROLE");
                    assert_eq!(got.0, 422, "{method} {path} with {role} at {}: {}", at.base_url, got.1);
                    assert!(got.1.contains("unknown_role"), "{}", got.1);
                    assert_eq!(got, unknown, "{method} {path}: {role} answers unlike an unknown role");
                }
            }
        }
        // Nothing changed at beta: its user and application keep their role.
        let user = expect(beta.get(&format!("/admin/v1/users/{}", b.user_id), &b.admin).await, 200).await;
        assert_eq!(user["roles"], json!([b.role_id]));
        let app = expect(beta.get(&format!("{APPS}/{}", b.app_id), &b.admin).await, 200).await;
        assert_eq!(app["roles"], json!([b.role_id]));

        // The roles themselves, by id, at beta: as absent as one never made.
        for role in [
            a.role_id.as_str(),
            alpha_administrator.as_str(),
            root_administrator.as_str(),
        ] {
            let path = format!("/admin/v1/roles/{role}");
            let unknown_path = format!("/admin/v1/roles/{never}");
            assert_eq!(
                answer(beta.get(&path, &b.admin).await).await,
                answer(beta.get(&unknown_path, &b.admin).await).await
            );
            let change = json!({"name": "Taken over", "permissions": ["engage:view"]});
            assert_eq!(
                answer(beta.patch_json(&path, &b.admin, &change).await).await,
                answer(beta.patch_json(&unknown_path, &b.admin, &change).await).await
            );
            problem(beta.delete(&path, &b.admin).await, 404).await;
        }
        let role = expect(
            alpha.get(&format!("/admin/v1/roles/{}", a.role_id), &a.admin).await,
            200,
        )
        .await;
        assert_eq!(role["name"], "Role a");
        still_intact(alpha, a).await;
    }
);

// ------------------------------------------------------------------ secrets and credentials

both_backends!(
    secrets_and_federated_credentials_of_another_tenant_are_not_found,
    |root: TestApp| async move {
        let w = world(root).await;
        let (alpha, beta, a, b) = (&w.alpha, &w.beta, &w.a, &w.b);
        let cluster = Issuer::new();
        let a_credential = id_of(&trust(alpha, &a.admin, &a.app_id, credential(&cluster, "exporter")).await);
        let b_credential = id_of(&trust(beta, &b.admin, &b.app_id, credential(&cluster, "exporter")).await);
        let a_secrets = expect(
            alpha
                .get(&format!("{APPS}/{}/client-secrets", a.app_id), &a.admin)
                .await,
            200,
        )
        .await;
        let a_secret_id = id_of(&a_secrets["items"][0]);
        let b_secrets = expect(
            beta.get(&format!("{APPS}/{}/client-secrets", b.app_id), &b.admin).await,
            200,
        )
        .await;
        let b_secret_id = id_of(&b_secrets["items"][0]);

        let password = json!({"password": ADMIN_PASSWORD});
        // Every door that takes an application id, a secret id or a
        // credential id: `{app}`, `{secret}` and `{credential}` are filled
        // with A's ids, or with B's own application and A's secret or
        // credential, and then with ids that never existed.
        let doors: Vec<(&str, &str, Value)> = vec![
            ("POST", "{app}/client-secret/reveal", password.clone()),
            ("POST", "{app}/client-secret/rotate", password.clone()),
            ("GET", "{app}/client-secrets", Value::Null),
            (
                "POST",
                "{app}/client-secrets",
                json!({"password": ADMIN_PASSWORD, "label": "mine now"}),
            ),
            ("POST", "{app}/client-secrets/{secret}/reveal", password.clone()),
            ("DELETE", "{app}/client-secrets/{secret}", Value::Null),
            ("GET", "{app}/federated-credentials", Value::Null),
            ("POST", "{app}/federated-credentials", credential(&cluster, "hijack")),
            ("DELETE", "{app}/federated-credentials/{credential}", Value::Null),
        ];
        let call = |method: &str, path: String, body: &Value| {
            let (beta, admin, method, body) = (beta.clone(), b.admin.clone(), method.to_owned(), body.clone());
            async move {
                let r = match method.as_str() {
                    "GET" => beta.get(&path, &admin).await,
                    "DELETE" => beta.delete(&path, &admin).await,
                    _ => beta.post_json(&path, &admin, &body).await,
                };
                answer(r).await
            }
        };
        for (method, template, body) in &doors {
            let fill_in = |app: &str, secret: &str, cred: &str| {
                let path = template
                    .replace("{app}", app)
                    .replace("{secret}", secret)
                    .replace("{credential}", cred);
                format!("{APPS}/{path}")
            };
            let unknown = call(method, fill_in(NO_SUCH_ID, NO_SUCH_ID, NO_SUCH_ID), body).await;
            let foreign = call(method, fill_in(&a.app_id, &a_secret_id, &a_credential), body).await;
            assert_eq!(foreign.0, 404, "{method} {template} with A's ids: {}", foreign.1);
            assert_eq!(
                foreign, unknown,
                "{method} {template}: A's ids answer unlike unknown ones"
            );
            // B's own application, A's secret or credential under it.
            if template.contains("{secret}") || template.contains("{credential}") {
                let mixed = call(method, fill_in(&b.app_id, &a_secret_id, &a_credential), body).await;
                let mixed_unknown = call(method, fill_in(&b.app_id, NO_SUCH_ID, NO_SUCH_ID), body).await;
                assert_eq!(mixed.0, 404, "{method} {template} under B's app: {}", mixed.1);
                assert_eq!(mixed, mixed_unknown, "{method} {template} under B's app");
            }
        }
        // A 404 before the password is checked costs no lockout attempt:
        // B's admin can still reveal B's own secret.
        beta.reveal(&b.admin, &b.app_id).await;
        // A's secret and credential are as they were, and B's too.
        still_intact(alpha, a).await;
        let listed = expect(alpha.get(&credentials_path(&a.app_id), &a.admin).await, 200).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        assert_eq!(id_of(&listed["items"][0]), a_credential);
        let secrets = expect(
            alpha
                .get(&format!("{APPS}/{}/client-secrets", a.app_id), &a.admin)
                .await,
            200,
        )
        .await;
        assert_eq!(secrets["items"].as_array().unwrap().len(), 1, "{secrets}");
        let listed = expect(beta.get(&credentials_path(&b.app_id), &b.admin).await, 200).await;
        assert_eq!(id_of(&listed["items"][0]), b_credential);
        let secrets = expect(
            beta.get(&format!("{APPS}/{}/client-secrets", b.app_id), &b.admin).await,
            200,
        )
        .await;
        assert_eq!(id_of(&secrets["items"][0]), b_secret_id);
        // Nothing of A in B's trail from all that.
        let trail = beta
            .get("/admin/v1/audit-events?limit=100", &b.admin)
            .await
            .text()
            .await
            .unwrap();
        for id in [&a.app_id, &a_secret_id, &a_credential, &a.client_id] {
            assert!(!trail.contains(id.as_str()), "B's trail names A's {id}");
        }
    }
);

// ------------------------------------------------------------------ records by id

both_backends!(
    records_of_another_tenant_are_changed_by_no_path,
    |root: TestApp| async move {
        let w = world(root).await;
        let (alpha, beta, a, b) = (&w.alpha, &w.beta, &w.a, &w.b);
        let case = expect(
            alpha
                .post_json("/api/v1/engage/cases", &a.admin, &json!({"title": "A's case"}))
                .await,
            201,
        )
        .await;
        let report = expect(
            alpha
                .post_json("/api/v1/intake/reports", &a.admin, &json!({"summary": "A's report"}))
                .await,
            201,
        )
        .await;
        // Changes B's admin (or B's own token) might try on A's records, each
        // beside the same change to an id that never existed. The password
        // and email changes would take A's person over; `enabled: false`
        // would cut A's partner off.
        let b_address = b.user_email.as_str();
        let attempts: Vec<(&str, String, Value)> = vec![
            (
                "PATCH",
                "/admin/v1/users/{}".to_owned(),
                json!({"password": "a takeover password!"}),
            ),
            (
                "PATCH",
                "/admin/v1/users/{}".to_owned(),
                json!({"email": "taken@over.example.org", "name": "Mine"}),
            ),
            ("PATCH", "/admin/v1/users/{}".to_owned(), json!({"email": b_address})),
            ("PATCH", format!("{APPS}/{{}}"), json!({"enabled": false})),
            (
                "PATCH",
                format!("{APPS}/{{}}"),
                json!({"allowed_sources": ["203.0.113.0/24"], "token_quota_per_hour": 1}),
            ),
            (
                "PATCH",
                format!("{APPS}/{{}}"),
                json!({"email": "taken@over.example.org"}),
            ),
            ("GET", "/api/v1/engage/cases/{}".to_owned(), Value::Null),
            (
                "PATCH",
                "/api/v1/engage/cases/{}".to_owned(),
                json!({"title": "Mine now"}),
            ),
            ("DELETE", "/api/v1/engage/cases/{}".to_owned(), Value::Null),
            ("GET", "/api/v1/intake/reports/{}".to_owned(), Value::Null),
            (
                "PATCH",
                "/api/v1/intake/reports/{}".to_owned(),
                json!({"summary": "Mine now"}),
            ),
            ("DELETE", "/api/v1/intake/reports/{}".to_owned(), Value::Null),
        ];
        let target = |path: &str| {
            if path.contains("/users/") {
                a.user_id.clone()
            } else if path.contains("/cases/") {
                id_of(&case)
            } else if path.contains("/reports/") {
                id_of(&report)
            } else {
                a.app_id.clone()
            }
        };
        for credential in [&b.admin, &b.token] {
            for (method, template, body) in &attempts {
                let send = |id: String| {
                    let (path, method, body, credential) =
                        (template.replace("{}", &id), *method, body.clone(), credential.clone());
                    async move {
                        let r = match method {
                            "GET" => beta.get(&path, &credential).await,
                            "DELETE" => beta.delete(&path, &credential).await,
                            _ => beta.patch_json(&path, &credential, &body).await,
                        };
                        answer(r).await
                    }
                };
                let foreign = send(target(template)).await;
                let unknown = send(NO_SUCH_ID.to_owned()).await;
                assert_ne!(foreign.0 / 100, 2, "{method} {template} {body}: {}", foreign.1);
                assert_eq!(foreign, unknown, "{method} {template} {body}");
            }
        }
        // A's person still signs in with their own password, their session
        // lives, and A's partner and records are as they were.
        alpha.sign_in(&a.user_email, USER_PASSWORD).await;
        still_intact(alpha, a).await;
        let user = expect(
            alpha.get(&format!("/admin/v1/users/{}", a.user_id), &a.admin).await,
            200,
        )
        .await;
        assert_eq!(user["email"], a.user_email.as_str());
        let app = expect(alpha.get(&format!("{APPS}/{}", a.app_id), &a.admin).await, 200).await;
        assert_eq!(app["allowed_sources"], Value::Null, "{app}");
        let case = expect(
            alpha
                .get(&format!("/api/v1/engage/cases/{}", id_of(&case)), &a.admin)
                .await,
            200,
        )
        .await;
        assert_eq!(case["title"], "A's case");
        let report = expect(
            alpha
                .get(&format!("/api/v1/intake/reports/{}", id_of(&report)), &a.admin)
                .await,
            200,
        )
        .await;
        assert_eq!(report["summary"], "A's report");
    }
);

// ------------------------------------------------------------------ tokens at the OAuth endpoints

/// A form POST to an OAuth endpoint of `at`, authenticated as `client_id`.
async fn oauth_post(at: &TestApp, path: &str, client_id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, String) {
    answer(
        at.http
            .post(at.url(path))
            .basic_auth(client_id, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

both_backends!(
    a_token_is_neither_revoked_nor_described_by_another_tenant,
    |root: TestApp| async move {
        let w = world(root).await;
        let (root, alpha, beta, a, b) = (&w.root, &w.alpha, &w.beta, &w.a, &w.b);
        // The most privileged clients B and the root can have: admin:view
        // lets a client introspect any token of its own tenant.
        let (_, b_auditor, b_auditor_secret) = beta.partner(&b.admin, "B Auditor", &["beta.administrator"]).await;
        let (_, r_auditor, r_auditor_secret) = root.partner(&w.root_admin, "Root Auditor", &["administrator"]).await;
        // A's token is in the verified-token cache, as a live one would be;
        // another of A's tokens was never seen anywhere. B answers both as
        // tokens it never signed, the cache telling nothing.
        let unseen = alpha.access_token(&a.client_id, &a.secret).await;
        assert_eq!(alpha.get("/api/v1/me", &a.token).await.status(), 200);
        let refusal = |r: reqwest::Response| async move {
            let challenge = casebook_tests::header(&r, reqwest::header::WWW_AUTHENTICATE);
            (answer(r).await, challenge)
        };
        for path in ["/api/v1/me", "/admin/v1/users"] {
            let cached = refusal(beta.get(path, &a.token).await).await;
            let never_seen = refusal(beta.get(path, &unseen).await).await;
            assert_eq!(cached.0.0, 401);
            assert_eq!(cached, never_seen, "{path}");
        }
        let garbage = "not-a-token";
        for (at, client, secret) in [
            (beta, b_auditor.as_str(), b_auditor_secret.as_str()),
            (beta, b.client_id.as_str(), b.secret.as_str()),
            (root, r_auditor.as_str(), r_auditor_secret.as_str()),
        ] {
            for accept in ["application/json", "application/token-introspection+jwt"] {
                let r = at
                    .http
                    .post(at.url("/oauth2/introspect"))
                    .basic_auth(client, Some(secret))
                    .header("accept", accept)
                    .form(&[("token", a.token.as_str())])
                    .send()
                    .await
                    .unwrap();
                let text = expect(r, 200).await;
                let said = match accept {
                    "application/json" => text,
                    _ => casebook_tests::jwt_part(text.as_str().unwrap(), 1)["token_introspection"].clone(),
                };
                assert_eq!(said, json!({"active": false}), "{client} at {}", at.base_url);
            }
            // Revocation: 200 as for any token that is not the caller's…
            let foreign = oauth_post(at, "/oauth2/revoke", client, secret, &[("token", &a.token)]).await;
            let unknown = oauth_post(at, "/oauth2/revoke", client, secret, &[("token", garbage)]).await;
            assert_eq!(foreign, unknown);
            assert_eq!(foreign.0, 200);
        }
        // … and the token lives on at its own tenant.
        assert_eq!(alpha.get("/api/v1/me", &a.token).await.status(), 200);
        let own = oauth_post(
            alpha,
            "/oauth2/introspect",
            &a.client_id,
            &a.secret,
            &[("token", &a.token)],
        )
        .await;
        assert!(own.1.contains("\"active\":true"), "{}", own.1);

        // A's client at B's and the root's introspection and revocation:
        // invalid_client, exactly as a Client ID that does not exist.
        for at in [beta, root] {
            for path in ["/oauth2/introspect", "/oauth2/revoke"] {
                let foreign = oauth_post(at, path, &a.client_id, &a.secret, &[("token", &a.token)]).await;
                let unknown = oauth_post(at, path, NO_SUCH_CLIENT, &a.secret, &[("token", &a.token)]).await;
                assert_eq!(foreign.0, 401, "{path}: {}", foreign.1);
                assert_eq!(foreign, unknown, "{path} at {}", at.base_url);
            }
        }
        still_intact(alpha, a).await;
        assert_eq!(beta.get("/api/v1/me", &b.token).await.status(), 200);
    }
);

// ------------------------------------------------------------------ client assertions

both_backends!(
    client_assertions_and_workload_tokens_are_bound_to_their_tenant,
    |root: TestApp| async move {
        use crate::private_key_jwt::{claims, exchange};
        let w = world(root).await;
        let (root, alpha, beta, a, b) = (&w.root, &w.alpha, &w.beta, &w.a, &w.b);

        // private_key_jwt: an application of A with an inline key.
        let key = Key::ec();
        let registered = expect(
            alpha
                .post_json(
                    APPS,
                    &a.admin,
                    &json!({"name": "Keyed A", "email": "keyed@partner.example.org", "roles": [a.role_id],
                        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk("k")]}}),
                )
                .await,
            201,
        )
        .await;
        let keyed = registered["client_id"].as_str().unwrap().to_owned();
        let assertion_for = |aud: &TestApp, iss: &str| signed(&key, "ES256", Some("k"), &claims(aud, iss));
        // The well-formed assertion for A, sent to B and to the root, and
        // assertions for B or the root sent to A: all invalid_client.
        let unknown = exchange(beta, &assertion_for(beta, NO_SUCH_CLIENT), None).await;
        assert_eq!(unknown.0, 401);
        for (at, aud) in [(beta, alpha), (root, alpha), (beta, beta), (alpha, beta), (alpha, root)] {
            let got = exchange(at, &assertion_for(aud, &keyed), None).await;
            assert_eq!(got, unknown, "an assertion for {} at {}", aud.base_url, at.base_url);
        }
        // The token endpoint's own URL as `aud`, of another tenant: refused too.
        let mut wrong_endpoint = claims(alpha, &keyed);
        wrong_endpoint["aud"] = json!(format!("{}/oauth2/token", beta.base_url));
        let got = exchange(alpha, &signed(&key, "ES256", Some("k"), &wrong_endpoint), None).await;
        assert_eq!(got.0, 401);
        // The right one works: the refusals above were the tenant's doing.
        let (status, body) = exchange(alpha, &assertion_for(alpha, &keyed), None).await;
        assert_eq!(status, 200, "{body}");

        // Federated credentials: one cluster trusted by an application of
        // each tenant. A workload token minted for A's audience (A's issuer)
        // opens A only; B's application does not take it, nor does B's
        // token endpoint take A's client with it.
        let cluster = Issuer::new();
        trust(alpha, &a.admin, &a.app_id, credential(&cluster, "exporter")).await;
        trust(beta, &b.admin, &b.app_id, credential(&cluster, "exporter")).await;
        let for_alpha = cluster.mint(&cluster.claims(EXPORTER, &alpha.base_url));
        let for_beta = cluster.mint(&cluster.claims(EXPORTER, &beta.base_url));
        let unknown = crate::federated::exchange(beta, NO_SUCH_CLIENT, &for_beta).await;
        assert_eq!(unknown.0, 401);
        for (at, client, token, what) in [
            (beta, &b.client_id, &for_alpha, "A's audience with B's client"),
            (beta, &a.client_id, &for_alpha, "A's client at B"),
            (beta, &a.client_id, &for_beta, "A's client at B with B's audience"),
            (root, &a.client_id, &for_alpha, "A's client at the root"),
            (alpha, &a.client_id, &for_beta, "B's audience at A"),
        ] {
            let got = crate::federated::exchange(at, client, token).await;
            assert_eq!(got, unknown, "{what}");
        }
        let (status, body) = crate::federated::exchange(alpha, &a.client_id, &for_alpha).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = crate::federated::exchange(beta, &b.client_id, &for_beta).await;
        assert_eq!(status, 200, "{body}");
    }
);

// ------------------------------------------------------------------ people

both_backends!(sessions_and_sign_in_stay_in_their_tenant, |root: TestApp| async move {
    let w = world(root).await;
    let (root, alpha, beta, a, b) = (&w.root, &w.alpha, &w.beta, &w.a, &w.b);
    let sign_in = |at: &TestApp, email: String, password: &str| {
        let (at, password) = (at.clone(), password.to_owned());
        async move {
            answer(
                at.http
                    .post(at.url("/admin/v1/sessions"))
                    .json(&json!({"email": email, "password": password}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let unknown = sign_in(root, "nobody@people.example.org".into(), USER_PASSWORD).await;
    assert_eq!(unknown.0, 401);
    // A's person, with the right password, at the root and at B: as
    // unknown as nobody. At the root, also in the form the shared email
    // table keys A's address by (its tenant id, U+001F, the address).
    let alpha_id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'alpha'")
        .fetch_one(root.running.state.db().pool())
        .await
        .unwrap();
    for (at, email) in [
        (root, a.user_email.clone()),
        (beta, a.user_email.clone()),
        (root, format!("{alpha_id}\u{1f}{}", a.user_email)),
        (beta, format!("{alpha_id}\u{1f}{}", a.user_email)),
        (root, format!("{}\u{1f}{}", "root", a.user_email)),
    ] {
        let got = sign_in(at, email.clone(), USER_PASSWORD).await;
        assert_eq!(got, unknown, "{email:?} at {}", at.base_url);
    }
    // Nor can anyone make such an address to sit on A's key.
    let squatter = format!("{alpha_id}\u{1f}squat@people.example.org");
    let r = root
        .post_json(
            "/admin/v1/users",
            &w.root_admin,
            &json!({"email": squatter, "name": "Squatter", "password": USER_PASSWORD, "roles": []}),
        )
        .await;
    let refused = problem(r, 422).await;
    assert_eq!(refused["errors"][0]["field"], "email", "{refused}");
    // A refused sign-in is the trail's business only where the account is:
    // none of the attempts above may have reached A's trail.
    let trail = alpha
        .get("/admin/v1/audit-events?limit=100", &a.admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(!trail.contains("sign_in_refused"), "{trail}");

    // A's sessions at B and the root, on every kind of door; signing out
    // there must not end them either.
    for at in [beta, root] {
        for session in [&a.session, &a.admin] {
            for path in ["/api/v1/me", "/admin/v1/users", "/api/v1/engage/cases"] {
                assert_eq!(at.get(path, session).await.status(), 401, "{path} at {}", at.base_url);
            }
            assert_eq!(at.delete("/admin/v1/sessions/current", session).await.status(), 401);
        }
    }
    // B's session is no key to A's console either.
    assert_eq!(alpha.get("/admin/v1/users", &b.admin).await.status(), 401);
    assert_eq!(alpha.get("/admin/v1/users", &w.root_admin).await.status(), 401);
    still_intact(alpha, a).await;
    // The same address is two people: each signs in only to their own tenant.
    beta.create_user(&b.admin, &a.user_email, "Namesake", &[]).await;
    let namesake = beta.sign_in(&a.user_email, USER_PASSWORD).await;
    let me = expect(beta.get("/api/v1/me", &namesake).await, 200).await;
    assert_ne!(me["id"], a.user_id.as_str());
    assert_eq!(alpha.get("/api/v1/me", &namesake).await.status(), 401);
});

// ------------------------------------------------------------------ lists, searches and filters

both_backends!(
    searches_filters_and_cursors_hold_to_their_tenant,
    |root: TestApp| async move {
        let w = world(root).await;
        let (root, alpha, beta, a, b) = (&w.root, &w.alpha, &w.beta, &w.a, &w.b);
        let alpha_id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'alpha'")
            .fetch_one(root.running.state.db().pool())
            .await
            .unwrap();
        let mentions_a = |text: &str| {
            [&a.app_id, &a.client_id, &a.user_id, &a.role_id, &a.app_email]
                .into_iter()
                .filter(|needle| text.contains(needle.as_str()))
                .cloned()
                .collect::<Vec<_>>()
        };
        // The application list's email search reads the shared address
        // table, where A's keys are `<alpha id>\u001f<address>`. Whole
        // addresses, parts of the prefix, the separator and LIKE's own
        // characters: nothing of A matches at B or at the root.
        let prefix_part = &alpha_id[..8];
        let searches = [
            format!("email={}", a.app_email),
            "email=a%40partner".to_owned(),
            "email=partner".to_owned(),
            format!("email={prefix_part}"),
            format!("email={alpha_id}"),
            "email=%1F".to_owned(),
            format!("email={alpha_id}%1Fapp-a"),
            "email=%25".to_owned(),
            "email=_".to_owned(),
            "email=%5C".to_owned(),
            "name=App%20a".to_owned(),
            "name=%25".to_owned(),
            format!("cursor={}", a.app_id),
        ];
        for (at, admin) in [(beta, &b.admin), (root, &w.root_admin)] {
            for search in &searches {
                let r = at.get(&format!("{APPS}?{search}"), admin).await;
                let (status, text) = answer(r).await;
                assert!(
                    matches!(status, 200 | 400 | 422),
                    "{search} at {}: {status} {text}",
                    at.base_url
                );
                assert_eq!(mentions_a(&text), Vec::<String>::new(), "{search} at {}", at.base_url);
            }
        }
        // At A, its own search still finds it: the searches above were fair.
        let found = expect(alpha.get(&format!("{APPS}?email=app-a"), &a.admin).await, 200).await;
        assert_eq!(found["items"][0]["id"], a.app_id.as_str());

        // The audit trail's filters and cursors naming A's ids, at B and the root.
        let a_event = expect(alpha.get("/admin/v1/audit-events?limit=1", &a.admin).await, 200).await;
        let a_event_id = id_of(&a_event["items"][0]);
        for (at, admin) in [(beta, &b.admin), (root, &w.root_admin)] {
            for filter in [
                format!("actor_id={}", a.app_id),
                format!("target_id={}", a.app_id),
                format!("target_id={}", a.user_id),
                format!("target_id={}", a.role_id),
                format!("cursor={a_event_id}"),
                "action=application.".to_owned(),
                "action=user.".to_owned(),
            ] {
                let listed = expect(at.get(&format!("/admin/v1/audit-events?{filter}"), admin).await, 200).await;
                assert_eq!(mentions_a(&listed.to_string()), Vec::<String>::new(), "{filter}");
                assert!(!listed.to_string().contains(&a_event_id), "{filter}");
            }
        }
        // Every list with A's ids as its cursor: the cursor is only a place
        // in B's own rows, never a way into A's.
        for path in ["/admin/v1/users", "/admin/v1/roles", APPS, "/api/v1/engage/cases"] {
            for cursor in [&a.user_id, &a.role_id, &a.app_id] {
                let text = beta
                    .get(&format!("{path}?cursor={cursor}&limit=100"), &b.admin)
                    .await
                    .text()
                    .await
                    .unwrap();
                assert_eq!(mentions_a(&text), Vec::<String>::new(), "{path}");
            }
        }
    }
);

// ------------------------------------------------------------------ a tenant's admin and the platform

both_backends!(
    a_tenant_administrator_never_holds_the_platform,
    |root: TestApp| async move {
        let w = world(root).await;
        let (root, alpha, a) = (&w.root, &w.alpha, &w.a);
        // Giving tenants:* at a tenant: a new role, the seeded
        // Administrator changed, and a role of its own changed.
        for (method, path) in [
            ("POST", "/admin/v1/roles".to_owned()),
            ("PATCH", "/admin/v1/roles/alpha.administrator".to_owned()),
            ("PATCH", format!("/admin/v1/roles/{}", a.role_id)),
        ] {
            for permissions in [
                json!(["tenants:view"]),
                json!(["engage:view", "tenants:create", "tenants:delete"]),
            ] {
                let body = json!({"name": "Platform", "permissions": permissions});
                let r = if method == "POST" {
                    alpha.post_json(&path, &a.admin, &body).await
                } else {
                    alpha.patch_json(&path, &a.admin, &body).await
                };
                let (status, text) = answer(r).await;
                assert!(status == 403 || status == 422, "{method} {path}: {status} {text}");
            }
        }
        let me = expect(alpha.get("/api/v1/me", &a.admin).await, 200).await;
        assert!(!me.to_string().contains("tenants:"), "{me}");
        let roles = alpha
            .get("/admin/v1/roles?limit=100", &a.admin)
            .await
            .text()
            .await
            .unwrap();
        assert!(!roles.contains("tenants:"), "{roles}");
        // Nor does a token of the tenant get tenants:* by asking for it.
        let r = alpha
            .token_response(&a.client_id, &a.secret, Some("tenants:view tenants:create"))
            .await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
        // The root's list of tenants is unchanged and unseen from the tenant.
        let listed = expect(root.get("/admin/v1/tenants", &w.root_admin).await, 200).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 3);
        problem(alpha.get("/admin/v1/tenants", &a.admin).await, 404).await;
        problem(
            alpha
                .patch_json("/admin/v1/tenants/beta", &a.admin, &json!({"enabled": false}))
                .await,
            404,
        )
        .await;
        problem(alpha.delete("/admin/v1/tenants/beta", &a.admin).await, 404).await;
        assert_eq!(w.beta.get("/api/v1/me", &w.b.token).await.status(), 200);
    }
);

// ------------------------------------------------------------------ disabling, deleting, re-creating

both_backends!(
    a_tenant_disabled_or_deleted_leaves_the_others_and_its_successor_alone,
    |root: TestApp| async move {
        let w = world(root).await;
        let (root, alpha, beta, a, b) = (&w.root, &w.alpha, &w.beta, &w.a, &w.b);
        let old_kids = alpha.public_json("/.well-known/jwks.json").await.to_string();
        // Disabled: A's things stop, B's and the root's go on.
        expect(
            root.patch_json("/admin/v1/tenants/alpha", &w.root_admin, &json!({"enabled": false}))
                .await,
            200,
        )
        .await;
        assert_eq!(alpha.get("/api/v1/me", &a.token).await.status(), 401);
        assert_eq!(alpha.get("/api/v1/me", &a.session).await.status(), 401);
        assert_eq!(beta.get("/api/v1/me", &b.token).await.status(), 200);
        assert_eq!(beta.get("/admin/v1/users", &b.admin).await.status(), 200);
        beta.access_token(&b.client_id, &b.secret).await;
        root.get("/admin/v1/users", &w.root_admin)
            .await
            .error_for_status()
            .unwrap();
        // A disabled tenant's token is no better anywhere else.
        assert_eq!(beta.get("/api/v1/me", &a.token).await.status(), 401);
        assert_eq!(root.get("/api/v1/me", &a.token).await.status(), 401);
        expect(
            root.patch_json("/admin/v1/tenants/alpha", &w.root_admin, &json!({"enabled": true}))
                .await,
            200,
        )
        .await;
        assert_eq!(
            alpha.get("/api/v1/me", &a.token).await.status(),
            401,
            "a token from before stays dead"
        );

        // Deleted and made again under the same slug: the successor is
        // another tenant, and nothing of the first opens anything of it.
        assert_eq!(
            root.delete("/admin/v1/tenants/alpha", &w.root_admin).await.status(),
            204
        );
        let (again, again_admin) = tenant(root, &w.root_admin, "alpha").await;
        let again_token = {
            let role = again.create_role(&again_admin, "Role again", &["engage:view"]).await;
            let (_, client, secret) = again.partner(&again_admin, "App again", &[&id_of(&role)]).await;
            again.access_token(&client, &secret).await
        };
        for credential in [&a.token, &a.session, &a.admin] {
            assert_eq!(again.get("/api/v1/me", credential).await.status(), 401);
        }
        let (status, body) = token_from(&again, "127.0.0.1", &a.client_id, &a.secret).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
        for path in [
            format!("/admin/v1/roles/{}", a.role_id),
            format!("/admin/v1/users/{}", a.user_id),
            format!("{APPS}/{}", a.app_id),
        ] {
            problem(again.get(&path, &again_admin).await, 404).await;
        }
        let refused = again
            .post_json(
                "/admin/v1/users",
                &again_admin,
                &json!({"email": "x@people.example.org", "name": "X", "password": USER_PASSWORD, "roles": [a.role_id]}),
            )
            .await;
        problem(refused, 422).await;
        // Its own seeded roles, made afresh, are its own.
        let me = expect(again.get("/api/v1/me", &again_admin).await, 200).await;
        assert!(me.to_string().contains("admin:delete"), "{me}");
        // No key of the first alpha signs for the second.
        let new_kids = again.public_json("/.well-known/jwks.json").await;
        for key in new_kids["keys"].as_array().unwrap() {
            assert!(!old_kids.contains(key["kid"].as_str().unwrap()));
        }
        assert_eq!(again.get("/api/v1/me", &again_token).await.status(), 200);
        // The first alpha's token is refused at the second, whose issuer is
        // the same URL: by the key, not by the address.
        assert_eq!(
            casebook_tests::jwt_part(&a.token, 1)["iss"],
            casebook_tests::jwt_part(&again_token, 1)["iss"]
        );
        assert_eq!(beta.get("/api/v1/me", &b.token).await.status(), 200);
    }
);

// ------------------------------------------------------------------ leak reports

both_backends!(
    a_leak_report_at_another_tenants_url_tells_that_tenant_nothing,
    spawn = crate::leaks::with_scanning(),
    |root: TestApp| async move {
        use crate::leaks::{KEY_ID, alert, report, sign};
        let w = world(root).await;
        let (alpha, beta, a, b) = (&w.alpha, &w.beta, &w.a, &w.b);
        // A report is GitHub's, signed: it names no tenant, and a secret is
        // ended wherever it lives. Sent to B's base URL, A's secret ends in
        // A, written in A's trail only.
        let body = alert(&[&a.secret]);
        let verdicts = expect(report(beta, &body, Some(KEY_ID), Some(&sign(&body))).await, 200).await;
        assert_eq!(verdicts[0]["label"], "true_positive");
        let (status, _) = token_from(alpha, "127.0.0.1", &a.client_id, &a.secret).await;
        assert_eq!(status, 401);
        let a_trail = alpha
            .get("/admin/v1/audit-events?limit=100", &a.admin)
            .await
            .text()
            .await
            .unwrap();
        assert!(a_trail.contains("application.secret_leaked"), "{a_trail}");
        let b_trail = beta
            .get("/admin/v1/audit-events?limit=100", &b.admin)
            .await
            .text()
            .await
            .unwrap();
        assert!(!b_trail.contains("secret_leaked"), "{b_trail}");
        assert!(!b_trail.contains(&a.app_id), "{b_trail}");
        // B's own secret, and B's tokens, were not touched.
        beta.access_token(&b.client_id, &b.secret).await;
        assert_eq!(beta.get("/api/v1/me", &b.token).await.status(), 200);
    }
);

// ------------------------------------------------------------------ throttles

both_backends!(
    source_and_sign_in_budgets_spent_at_one_tenant_leave_another_alone,
    |root: TestApp| async move {
        let w = world(root).await;
        let (alpha, beta, a, b) = (&w.alpha, &w.beta, &w.a, &w.b);
        let attacker = "127.0.0.2";
        // A source that guessed at A until blocked there…
        let mut blocked = false;
        for _ in 0..40 {
            let (status, _) = token_from(alpha, attacker, "not-a-client-id", "guess").await;
            if status == 429 {
                blocked = true;
                break;
            }
        }
        assert!(blocked, "the source was never blocked at A");
        let (status, _) = token_from(alpha, attacker, &a.client_id, &a.secret).await;
        assert_eq!(status, 429, "blocked at A even with the right secret");
        // … is a stranger at B: B's client, from the same source, is served.
        let (status, body) = token_from(beta, attacker, &b.client_id, &b.secret).await;
        assert_eq!(status, 200, "{body}");

        // Sign-in budgets: the same address in both tenants, guessed at in A
        // from one source until refused; B's namesake still signs in from it.
        let shared = "shared@people.example.org";
        alpha.create_user(&a.admin, shared, "Shared A", &[]).await;
        beta.create_user(&b.admin, shared, "Shared B", &[]).await;
        let try_at = |at: &TestApp, password: &str| {
            let (at, password) = (at.clone(), password.to_owned());
            async move {
                at.client_from(attacker)
                    .post(at.url("/admin/v1/sessions"))
                    .json(&json!({"email": shared, "password": password}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        let mut refused = false;
        for _ in 0..12 {
            if try_at(alpha, "a wrong password guess").await == 429 {
                refused = true;
                break;
            }
        }
        assert!(refused, "sign-in was never throttled at A");
        assert_eq!(try_at(beta, USER_PASSWORD).await, 201);
    }
);

// ------------------------------------------------------------------ FINDING: the per-client failure budget

both_backends!(
    a_client_ids_failure_budget_is_not_shared_across_tenants,
    |root: TestApp| async move {
        // RFC 6749 §10.10's budget of failed authentications per Client ID
        // is one map for the whole install, keyed by the Client ID alone,
        // and a failure is counted against the ID presented wherever it was
        // presented. The contract wants throttles counted per tenant, and
        // A's Client ID at B answered exactly as an unknown one: a shared
        // budget breaks both, as the two halves below show.
        let w = world(root).await;
        let (root, alpha, beta, a) = (&w.root, &w.alpha, &w.beta, &w.a);
        let mut violations = Vec::new();

        // 1. What A's client did at A shows at B. A's client fails ten
        //    times at A (a deployment with a stale secret, say); B then asks
        //    about A's Client ID, from elsewhere.
        for _ in 0..10 {
            token_from(alpha, "127.0.0.2", &a.client_id, &wrong_secret()).await;
        }
        let foreign = token_from(beta, "127.0.0.3", &a.client_id, &wrong_secret()).await;
        let unknown = token_from(beta, "127.0.0.3", NO_SUCH_CLIENT, &wrong_secret()).await;
        if foreign != unknown {
            violations.push(format!(
                "A's Client ID at B answers {} {} where an unknown one answers {} {}",
                foreign.0, foreign.1, unknown.0, unknown.1
            ));
        }

        // 2. What anyone does with A's Client ID at the root (or at B) spends
        //    A's budget: a fresh source at A then gets 429 for its first
        //    mistake instead of invalid_client.
        let (_, victim, _) = alpha.partner(&a.admin, "Victim", &[&a.role_id]).await;
        for _ in 0..10 {
            token_from(root, "127.0.0.4", &victim, &wrong_secret()).await;
        }
        let (status, body) = token_from(alpha, "127.0.0.5", &victim, &wrong_secret()).await;
        if status != 401 {
            violations.push(format!(
                "failures at the root throttle A's client at A: its first failure from a fresh source is {status} {body}"
            ));
        }
        assert!(violations.is_empty(), "{}", violations.join("\n"));
    }
);

// ------------------------------------------------------------------ FINDING (low): a deleted tenant's key, made again

both_backends!(
    a_deleted_tenant_gets_no_signing_key_from_another_replica,
    |root: TestApp| async move {
        // Deleting a tenant removes all of its rows, but only the replica
        // that deleted it forgets its key ring. Another replica still holds
        // the ring (and, until its next poll, the tenant): a token there with
        // a `kid` the ring does not know makes the ring read its keys again,
        // find none, and make the dead tenant a new one. The periodic
        // refresh of old rings does the same within minutes, with no
        // request at all; this test takes the quick way.
        use base64::Engine;
        let w = world(root).await;
        let (root, a) = (&w.root, &w.a);
        let other = root.replica().await;
        let alpha_elsewhere = other.at_tenant("alpha");
        assert_eq!(alpha_elsewhere.get("/api/v1/me", &a.token).await.status(), 200);
        let db = root.running.state.db().pool();
        let alpha_id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'alpha'")
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(
            root.delete("/admin/v1/tenants/alpha", &w.root_admin).await.status(),
            204
        );
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"ES256","kid":"no-such-key","typ":"at+jwt"}"#);
        let claims = a.token.split('.').nth(1).unwrap();
        let forged = format!("{header}.{claims}.AAAA");
        assert_eq!(alpha_elsewhere.get("/api/v1/me", &forged).await.status(), 401);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE tenant_id = $1")
            .bind(&alpha_id)
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(left, 0, "a signing key was made for the deleted tenant {alpha_id}");
    }
);
