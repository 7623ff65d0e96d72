//! Federated credentials (the contract's "Federated credentials"): a workload trades a
//! token minted by an outside issuer, as a Kubernetes API server mints a
//! projected service-account token, for a Casebook token. Each refusal is a
//! token that differs from an accepted one only in what the rule is about.

use crate::jose::{Key, b64, now, signed};
use crate::key_host::{Answer, KeyHost, ca_file};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_server::config::Backend;
use casebook_tests::{APPS, Spawn, TestApp, USER_PASSWORD, both_backends, expect, field_codes, id_of, pairs, problem};
use serde_json::{Value, json};

pub(crate) const CLUSTER: &str = "https://kubernetes.default.svc.cluster.local";
pub(crate) const EXPORTER: &str = "system:serviceaccount:payments:exporter";

/// An outside issuer: a key pair and the tokens it mints.
pub(crate) struct Issuer {
    key: Key,
}

impl Issuer {
    pub(crate) fn new() -> Self {
        Self { key: Key::rsa() }
    }

    pub(crate) fn jwks(&self) -> Value {
        json!({"keys": [self.key.public_jwk("cluster-1")]})
    }

    /// What the API server puts in a projected token for `audience`.
    pub(crate) fn claims(&self, subject: &str, audience: &str) -> Value {
        json!({"iss": CLUSTER, "sub": subject, "aud": [audience], "iat": now(), "nbf": now(), "exp": now() + 3600,
            "kubernetes.io": {"namespace": "payments", "serviceaccount": {"name": "exporter"}}})
    }

    pub(crate) fn mint(&self, claims: &Value) -> String {
        signed(&self.key, "RS256", Some("cluster-1"), claims)
    }
}

pub(crate) async fn exchange(app: &TestApp, client_id: &str, token: &str) -> (u16, Value) {
    crate::private_key_jwt::exchange(app, token, Some(client_id)).await
}

/// Signs in a new person whose one role holds `permissions`.
async fn person_with(app: &TestApp, admin: &str, email: &str, permissions: &[&str]) -> String {
    let role = app.create_role(admin, &format!("Role of {email}"), permissions).await;
    app.create_user(admin, email, email, &[&id_of(&role)]).await;
    app.sign_in(email, USER_PASSWORD).await
}

pub(crate) async fn refused(app: &TestApp, client_id: &str, token: &str, why: &str) {
    let (status, body) = exchange(app, client_id, token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{why}: {body}"
    );
}

pub(crate) fn credentials_path(app_id: &str) -> String {
    format!("{APPS}/{app_id}/federated-credentials")
}

pub(crate) async fn trust(app: &TestApp, admin: &str, app_id: &str, body: Value) -> Value {
    expect(app.post_json(&credentials_path(app_id), admin, &body).await, 201).await
}

pub(crate) fn credential(issuer: &Issuer, name: &str) -> Value {
    json!({"name": name, "issuer": CLUSTER, "jwks": issuer.jwks(), "subject": EXPORTER})
}

both_backends!(
    a_workload_token_opens_the_api_and_each_mismatch_is_refused,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (view, client_id, _) = app.partner(&admin, "Payments Exporter", &["engage-worker"]).await;
        let app_id = id_of(&view);
        let mut body = credential(&cluster, "payments-prod");
        body["claims"] = json!({"kubernetes.io": {"namespace": "payments", "serviceaccount": {"name": "exporter"}}});
        let shown = trust(&app, &admin, &app_id, body).await;
        assert_eq!(
            shown["audience"],
            app.base_url.as_str(),
            "the default audience is the issuer identifier"
        );
        assert_eq!(shown["jwks"]["keys"][0]["kid"], "cluster-1");
        assert!(shown["jwks"]["keys"][0].get("d").is_none());

        let good = cluster.claims(EXPORTER, &app.base_url);
        let (status, body) = exchange(&app, &client_id, &cluster.mint(&good)).await;
        assert_eq!(status, 200, "{body}");
        let access = body["access_token"].as_str().expect("access_token");
        let me = expect(app.get("/api/v1/me", access).await, 200).await;
        assert_eq!(me["id"], app_id.as_str());
        // The outside token is not single-use: a workload may retry with it.
        assert_eq!(exchange(&app, &client_id, &cluster.mint(&good)).await.0, 200);

        let edit = |edit: &dyn Fn(&mut Value)| {
            let mut claims = good.clone();
            edit(&mut claims);
            cluster.mint(&claims)
        };
        let cases = [
            (
                "another service account",
                edit(&|c| c["sub"] = json!("system:serviceaccount:payments:other")),
            ),
            (
                "an audience of another server",
                edit(&|c| c["aud"] = json!(["https://vault.example.org"])),
            ),
            (
                "the token endpoint as audience",
                edit(&|c| c["aud"] = json!([app.url("/oauth2/token")])),
            ),
            (
                "another namespace",
                edit(&|c| c["kubernetes.io"]["namespace"] = json!("billing")),
            ),
            ("expired", edit(&|c| c["exp"] = json!(now() - 5))),
            (
                "another issuer",
                edit(&|c| c["iss"] = json!("https://other-cluster.example.org")),
            ),
        ];
        for (why, token) in &cases {
            refused(&app, &client_id, token, why).await;
        }
        // Signed by a key the credential does not name.
        let impostor = Issuer::new();
        refused(&app, &client_id, &impostor.mint(&good), "a key not registered").await;

        // The exchange is in the audit trail, with the application as actor.
        let trail = expect(
            app.get(
                "/admin/v1/audit-events?action=application.federated_token_issued",
                &admin,
            )
            .await,
            200,
        )
        .await;
        let events = trail["items"].as_array().expect("items");
        assert_eq!(events.len(), 2, "one event per exchange: {trail}");
        assert_eq!(events[0]["actor"]["id"], app_id.as_str());
        assert_eq!(events[0]["actor"]["kind"], "application");
        assert!(events[0]["detail"].as_str().unwrap().contains(EXPORTER));

        // Once removed, the identity opens nothing.
        let path = format!("{}/{}", credentials_path(&app_id), id_of(&shown));
        expect(app.delete(&path, &admin).await, 204).await;
        refused(&app, &client_id, &cluster.mint(&good), "a removed credential").await;
        expect(app.delete(&path, &admin).await, 404).await;
    }
);

both_backends!(
    one_outside_identity_is_trusted_by_two_applications,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (reader, reader_client, _) = app.partner(&admin, "Case Reader", &["engage-worker"]).await;
        let (intake, intake_client, _) = app.partner(&admin, "Intake Filer", &["engage-worker"]).await;
        let (stranger, stranger_client, _) = app.partner(&admin, "Stranger", &["engage-worker"]).await;
        for view in [&reader, &intake] {
            trust(&app, &admin, &id_of(view), credential(&cluster, "exporter")).await;
        }
        let token = cluster.mint(&cluster.claims(EXPORTER, &app.base_url));
        for (view, client) in [(&reader, &reader_client), (&intake, &intake_client)] {
            let (status, body) = exchange(&app, client, &token).await;
            assert_eq!(status, 200, "{body}");
            let me = expect(app.get("/api/v1/me", body["access_token"].as_str().unwrap()).await, 200).await;
            assert_eq!(
                me["id"], view["id"],
                "the client_id chooses which application the token is for"
            );
        }
        // An application that trusts nobody is not opened by the same token.
        refused(&app, &stranger_client, &token, "an application without the credential").await;
        assert!(stranger["id"].is_string());
        // Nor is a disabled one.
        let disabled = json!({"enabled": false});
        expect(
            app.patch_json(&format!("{APPS}/{}", id_of(&reader)), &admin, &disabled)
                .await,
            200,
        )
        .await;
        refused(&app, &reader_client, &token, "a disabled application").await;
    }
);

both_backends!(
    a_named_audience_is_required_instead_of_ours,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (view, client_id, _) = app.partner(&admin, "Audience Partner", &["engage-worker"]).await;
        let mut body = credential(&cluster, "kube-audience");
        body["audience"] = json!("casebook");
        let shown = trust(&app, &admin, &id_of(&view), body).await;
        assert_eq!(shown["audience"], "casebook");
        let ours = cluster.mint(&cluster.claims(EXPORTER, &app.base_url));
        refused(
            &app,
            &client_id,
            &ours,
            "our issuer where the credential names another audience",
        )
        .await;
        let named = cluster.mint(&cluster.claims(EXPORTER, "casebook"));
        assert_eq!(exchange(&app, &client_id, &named).await.0, 200);
    }
);

both_backends!(
    the_admin_api_validates_lists_and_guards_credentials,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (view, _, _) = app.partner(&admin, "Guarded Partner", &["engage-worker"]).await;
        let app_id = id_of(&view);
        let path = credentials_path(&app_id);

        let mut private = credential(&cluster, "leaky");
        private["jwks"]["keys"][0]["d"] = json!("AQAB");
        let p = problem(app.post_json(&path, &admin, &private).await, 422).await;
        assert_eq!(field_codes(&p), pairs(&[("jwks", "private_key_material")]));
        assert!(!p.to_string().contains("\"AQAB\""), "no private value echoed: {p}");

        let blank = json!({"name": "", "issuer": "", "subject": "", "claims": {"sub": "x"}, "colour": "red"});
        let p = problem(app.post_json(&path, &admin, &blank).await, 422).await;
        assert_eq!(
            field_codes(&p),
            pairs(&[
                ("colour", "unknown_field"),
                ("name", "required"),
                ("issuer", "required"),
                ("subject", "required"),
                ("jwks", "required"),
                ("claims", "invalid_value"),
            ])
        );

        trust(&app, &admin, &app_id, credential(&cluster, "exporter")).await;
        let p = problem(
            app.post_json(&path, &admin, &credential(&cluster, "exporter")).await,
            422,
        )
        .await;
        assert_eq!(field_codes(&p), pairs(&[("name", "name_in_use")]));
        let listed = expect(app.get(&path, &admin).await, 200).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        assert_eq!(listed["items"][0]["subject"], EXPORTER);
        let missing = credentials_path("00000000-0000-7000-8000-000000000000");
        expect(app.get(&missing, &admin).await, 404).await;
        problem(app.post_json(&missing, &admin, &credential(&cluster, "x")).await, 404).await;

        // Trusting an identity hands out the application's permissions: an
        // admin who lacks them may not, as with revealing its secret.
        let clerk = person_with(&app, &admin, "clerk@agency.org", &["admin:view", "admin:edit"]).await;
        let p = problem(
            app.post_json(&path, &clerk, &credential(&cluster, "clerk's")).await,
            403,
        )
        .await;
        assert!(
            p["missing_permissions"].as_array().is_some_and(|m| !m.is_empty()),
            "{p}"
        );
        let first = id_of(&listed["items"][0]);
        problem(app.delete(&format!("{path}/{first}"), &clerk).await, 403).await;
        // Reading them needs only admin:view.
        expect(app.get(&path, &clerk).await, 200).await;

        let trail = expect(
            app.get(
                "/admin/v1/audit-events?action=application.federated_credential_added",
                &admin,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(trail["items"][0]["action"], "application.federated_credential_added");
    }
);

#[tokio::test]
async fn a_token_of_an_outside_issuer_never_passes_as_a_client_assertion() {
    // Without a client_id the token is read as the client's own assertion,
    // whose iss must be a Client ID: the outside issuer is not one.
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let admin = app.admin_token().await;
    let cluster = Issuer::new();
    let (view, _, _) = app.partner(&admin, "Lone Partner", &["engage-worker"]).await;
    trust(&app, &admin, &id_of(&view), credential(&cluster, "exporter")).await;
    let token = cluster.mint(&cluster.claims(EXPORTER, &app.base_url));
    let (status, body) = crate::private_key_jwt::exchange(&app, &token, None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
}

both_backends!(
    an_ec_point_off_the_curve_is_refused_where_keys_are_registered,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let mut jwk = Key::ec().public_jwk("bent");
        // Flipping one bit of y moves the point off P-256.
        let mut y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        y[31] ^= 1;
        jwk["y"] = json!(b64(&y));
        let keyed = json!({"name": "Bent Key", "email": "bent@partner.example.org", "roles": ["engage-worker"],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk.clone()]}});
        let p = problem(app.post_json(APPS, &admin, &keyed).await, 422).await;
        assert_eq!(field_codes(&p), pairs(&[("jwks", "invalid_value")]), "{p}");
        let (view, _, _) = app.partner(&admin, "Curve Partner", &["engage-worker"]).await;
        let body = json!({"name": "bent", "issuer": CLUSTER, "jwks": {"keys": [jwk]}, "subject": EXPORTER});
        let p = problem(
            app.post_json(&credentials_path(&id_of(&view)), &admin, &body).await,
            422,
        )
        .await;
        assert_eq!(field_codes(&p), pairs(&[("jwks", "invalid_value")]), "{p}");
    }
);

both_backends!(
    an_issuers_keys_are_fetched_from_its_jwks_uri,
    spawn = Spawn::trusting_ca(ca_file(), true),
    |app: TestApp| async move {
        let host = KeyHost::start().await;
        let cluster = Issuer::new();
        host.answer("/openid/v1/jwks", Answer::Jwks(cluster.jwks()));
        let admin = app.admin_token().await;
        let (view, client_id, _) = app.partner(&admin, "Fetched Issuer", &["engage-worker"]).await;
        let body =
            json!({"name": "cluster", "issuer": CLUSTER, "jwks_uri": host.url("/openid/v1/jwks"), "subject": EXPORTER});
        let shown = trust(&app, &admin, &id_of(&view), body).await;
        assert_eq!(shown["jwks_uri"], host.url("/openid/v1/jwks"));
        assert_eq!(shown["jwks"], Value::Null);
        let token = cluster.mint(&cluster.claims(EXPORTER, &app.base_url));
        assert_eq!(exchange(&app, &client_id, &token).await.0, 200);
        assert_eq!(exchange(&app, &client_id, &token).await.0, 200);
        assert_eq!(host.asked("/openid/v1/jwks"), 1, "the fetched set is cached");
        let impostor = Issuer::new();
        refused(
            &app,
            &client_id,
            &impostor.mint(&cluster.claims(EXPORTER, &app.base_url)),
            "a key the issuer does not publish",
        )
        .await;
    }
);

both_backends!(
    a_private_jwks_uri_needs_the_installs_opt_in,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, _, _) = app.partner(&admin, "Private Issuer", &["engage-worker"]).await;
        let body = json!({"name": "cluster", "issuer": CLUSTER, "jwks_uri": "https://10.96.0.1/openid/v1/jwks", "subject": EXPORTER});
        let p = problem(
            app.post_json(&credentials_path(&id_of(&view)), &admin, &body).await,
            422,
        )
        .await;
        assert_eq!(field_codes(&p), pairs(&[("jwks_uri", "private_address")]));
    }
);

both_backends!(
    the_sdk_reads_a_projected_token_file_afresh_for_each_token,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (view, client_id, _) = app.partner(&admin, "Projected Token", &["engage-worker"]).await;
        trust(&app, &admin, &id_of(&view), credential(&cluster, "exporter")).await;
        let dir = std::env::temp_dir().join(format!("casebook-projected-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, cluster.mint(&cluster.claims(EXPORTER, &app.base_url))).unwrap();
        let source = || {
            casebook_sdk::TokenSource::with_federated_token_file(app.url("/oauth2/token"), &client_id, &file)
                .allow_insecure_http(true)
                .build()
                .expect("source")
        };
        let projected = source();
        let first = projected.token().await.expect("a token for the projected identity");
        // The platform rotates the file: the next token is asked with what it holds now.
        let other = cluster.claims("system:serviceaccount:payments:other", &app.base_url);
        std::fs::write(&file, cluster.mint(&other)).unwrap();
        projected.invalidate(&first);
        let refused = projected.token().await.expect_err("another identity is not trusted");
        assert!(refused.to_string().contains("invalid_client"), "{refused}");
        std::fs::write(&file, cluster.mint(&cluster.claims(EXPORTER, &app.base_url))).unwrap();
        // A new source, since a refused request is remembered for a few seconds.
        let again = source().token().await.expect("the trusted identity again");
        let me = expect(app.get("/api/v1/me", again.secret()).await, 200).await;
        assert_eq!(me["id"], view["id"]);
        std::fs::remove_dir_all(&dir).ok();
    }
);

both_backends!(
    only_admin_view_reads_and_only_admin_edit_changes_federated_credentials,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (view, _, _) = app.partner(&admin, "Access Partner", &["engage-worker"]).await;
        let path = credentials_path(&id_of(&view));
        let added = trust(&app, &admin, &id_of(&view), credential(&cluster, "exporter")).await;
        let one = format!("{path}/{}", id_of(&added));
        let reader = person_with(&app, &admin, "reader@agency.org", &["engage:view"]).await;
        for (r, needs) in [
            (app.get(&path, &reader).await, "admin:view"),
            (
                app.post_json(&path, &reader, &credential(&cluster, "more")).await,
                "admin:edit",
            ),
            (app.delete(&one, &reader).await, "admin:edit"),
        ] {
            let challenge = casebook_tests::header(&r, reqwest::header::WWW_AUTHENTICATE);
            assert_eq!(r.status(), 403);
            assert!(challenge.contains(&format!("scope=\"{needs}\"")), "{challenge}");
        }
        expect(app.get(&path, "not-a-token").await, 401).await;
        // Nothing changed.
        let listed = expect(app.get(&path, &admin).await, 200).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    }
);

both_backends!(
    an_applications_token_may_not_hand_out_a_lasting_way_in,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (target, _, _) = app.partner(&admin, "Target Partner", &["engage-worker"]).await;
        let (_, mighty_id, mighty_secret) = app.partner(&admin, "Mighty Automation", &["administrator"]).await;
        let mighty = app.access_token(&mighty_id, &mighty_secret).await;
        let path = credentials_path(&id_of(&target));
        // Even with every permission, an application's token neither trusts
        // an outside identity nor removes one...
        problem(
            app.post_json(&path, &mighty, &credential(&cluster, "planted")).await,
            403,
        )
        .await;
        let added = trust(&app, &admin, &id_of(&target), credential(&cluster, "exporter")).await;
        problem(app.delete(&format!("{path}/{}", id_of(&added)), &mighty).await, 403).await;
        expect(app.get(&path, &mighty).await, 200).await;
        // ...nor registers keys of its own choosing for an application.
        let keyed = json!({"name": "Planted Keys", "email": "planted@partner.example.org", "roles": ["engage-worker"],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": cluster.jwks()});
        problem(app.post_json(APPS, &mighty, &keyed).await, 403).await;
        let change = json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": cluster.jwks()});
        problem(
            app.patch_json(&format!("{APPS}/{}", id_of(&target)), &mighty, &change)
                .await,
            403,
        )
        .await;
        // The same changes from a signed-in administrator go through.
        expect(
            app.patch_json(&format!("{APPS}/{}", id_of(&target)), &admin, &change)
                .await,
            200,
        )
        .await;
        let listed = expect(app.get(&path, &admin).await, 200).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    }
);

both_backends!(
    the_sdk_adds_lists_and_removes_federated_credentials,
    |app: TestApp| async move {
        use casebook_sdk::{ApplicationId, Error, FederatedCredentialForm};
        let admin = app.sdk_admin().await;
        let token = app.admin_token().await;
        let cluster = Issuer::new();
        let (view, client_id, _) = app.partner(&token, "Sdk Federated", &["engage-worker"]).await;
        let id = ApplicationId::new(id_of(&view));
        let apps = admin.admin().applications();

        // A reserved claim is refused before sending: nothing is added.
        let reserved = FederatedCredentialForm::new("exporter", CLUSTER, EXPORTER)
            .jwks(cluster.jwks())
            .claim("sub", "someone else");
        match apps.add_federated_credential(&id, &reserved).await {
            Err(Error::Validation(errors)) => assert_eq!(errors.errors()[0].field, "claims"),
            other => panic!("a reserved claim is refused offline: {other:?}"),
        }
        assert!(apps.list_federated_credentials(&id).await.unwrap().is_empty());

        let form = FederatedCredentialForm::new("exporter", CLUSTER, EXPORTER)
            .jwks(cluster.jwks())
            .claim(
                "kubernetes.io",
                json!({"namespace": "payments", "serviceaccount": {"name": "exporter"}}),
            );
        let added = apps.add_federated_credential(&id, &form).await.expect("add");
        assert_eq!((added.name.as_str(), added.subject.as_str()), ("exporter", EXPORTER));
        let workload = cluster.mint(&cluster.claims(EXPORTER, &app.base_url));
        assert_eq!(
            exchange(&app, &client_id, &workload).await.0,
            200,
            "the trusted identity opens the API"
        );

        let listed = apps.list_federated_credentials(&id).await.unwrap();
        assert_eq!(listed.iter().map(|c| &c.id).collect::<Vec<_>>(), [&added.id]);
        // The name is taken: only the server knows, and says so.
        match apps.add_federated_credential(&id, &form).await {
            Err(Error::Api {
                status: 422, errors, ..
            }) => {
                assert_eq!(
                    (errors[0].field.as_str(), errors[0].code_str()),
                    ("name", "name_in_use")
                )
            }
            other => panic!("a second credential of the same name is refused: {other:?}"),
        }

        apps.remove_federated_credential(&id, &added.id).await.expect("remove");
        assert!(apps.list_federated_credentials(&id).await.unwrap().is_empty());
        refused(&app, &client_id, &workload, "the removed trust").await;
    }
);
