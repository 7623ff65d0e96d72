//! Forward auth (the contract's "Forward auth"): `/authz/check` answers a
//! proxy for the request it forwards, with the same live rules as
//! `/api/v1`, and refuses only with 401 or 403.

use crate::jose::{Key, b64, compact, now};
use casebook_tests::*;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const POLICY: &str = r#"
[[route]]
method = ["GET", "HEAD"]
path = "/placements/v2/children/{id}"
permission = "placements:view"

[[route]]
method = "POST"
path = "/placements/v2/children"
permission = "placements:create"

[[route]]
method = "*"
path = "/status"
public = true

[[route]]
method = "GET"
path = "/"
public = true
"#;

fn spawn() -> Spawn {
    Spawn {
        gateway_policy: Some(POLICY.to_owned()),
        ..Spawn::default()
    }
}

/// How a proxy tells the check what it forwards.
#[derive(Clone, Copy, Debug)]
enum Proxy {
    /// Traefik and Caddy.
    Forwarded,
    /// nginx.
    Original,
    /// Envoy: the path after the check's, with the request's own method.
    Envoy,
}

async fn check(app: &TestApp, proxy: Proxy, method: &str, uri: &str, authorization: Option<&str>) -> reqwest::Response {
    let http_method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = match proxy {
        Proxy::Forwarded => app
            .http
            .get(app.url("/authz/check"))
            .header("X-Forwarded-Method", method)
            .header("X-Forwarded-Uri", uri),
        Proxy::Original => app
            .http
            .get(app.url("/authz/check"))
            .header("X-Original-Method", method)
            .header("X-Original-URI", uri),
        Proxy::Envoy => app
            .http
            .request(http_method, format!("{}/authz/check{uri}", app.root_url())),
    };
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.expect("send")
}

fn identity(r: &reqwest::Response) -> Value {
    let text = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    json!({
        "tenant": text("x-casebook-tenant"),
        "kind": text("x-casebook-account-kind"),
        "id": text("x-casebook-account-id"),
        "client_id": text("x-casebook-client-id"),
        "permissions": text("x-casebook-permissions"),
    })
}

both_backends!(
    the_check_allows_refuses_and_names_the_caller,
    spawn = spawn(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let reader = app.create_role(&admin, "Placement reader", &["placements:view"]).await;
        let (view, client_id, secret) = app.partner(&admin, "Placements partner", &[&id_of(&reader)]).await;
        let token = app.access_token(&client_id, &secret).await;
        let bearer = format!("Bearer {token}");
        let child = "/placements/v2/children/42?include=history";

        for proxy in [Proxy::Forwarded, Proxy::Original, Proxy::Envoy] {
            let r = check(&app, proxy, "GET", child, Some(&bearer)).await;
            assert_eq!(r.status(), 200, "{proxy:?}");
            assert_eq!(header(&r, reqwest::header::CACHE_CONTROL), "no-store");
            assert_eq!(
                identity(&r),
                json!({"tenant": "root", "kind": "application", "id": view["id"], "client_id": client_id,
                "permissions": "placements:view"}),
                "{proxy:?}"
            );
            // No token: 401 with a challenge.
            let r = check(&app, proxy, "GET", child, None).await;
            assert_eq!(r.status(), 401, "{proxy:?}");
            assert!(header(&r, WWW_AUTHENTICATE).starts_with("Bearer"), "{proxy:?}");
            // A permission the caller lacks: 403 naming it.
            let r = check(&app, proxy, "POST", "/placements/v2/children", Some(&bearer)).await;
            assert_eq!(r.status(), 403, "{proxy:?}");
            assert!(
                header(&r, WWW_AUTHENTICATE).contains("error=\"insufficient_scope\", scope=\"placements:create\""),
                "{proxy:?}"
            );
            // A public route: 200 without identity.
            let r = check(&app, proxy, "DELETE", "/status", None).await;
            assert_eq!(r.status(), 200, "{proxy:?}");
            assert_eq!(identity(&r)["kind"], Value::Null);
            // No route: 403, token or not.
            for authorization in [None, Some(bearer.as_str())] {
                let r = check(&app, proxy, "GET", "/investigations/1", authorization).await;
                assert_eq!(r.status(), 403, "{proxy:?}");
            }
            // A public route's prefix does not make what follows public, and an
            // encoded slash or a bad token is no other 4xx.
            let r = check(&app, proxy, "GET", "/status/../placements/v2/children/1", None).await;
            assert_eq!(r.status(), 401, "{proxy:?}: a traversal is judged as where it leads");
            let r = check(&app, proxy, "GET", "/status/%2e%2e/placements/v2/children/1", None).await;
            assert_eq!(r.status(), 401, "{proxy:?}: an encoded traversal too");
            let r = check(&app, proxy, "GET", "/placements%2Fv2/children/1", Some(&bearer)).await;
            assert_eq!(r.status(), 403, "{proxy:?}: an encoded slash");
            let r = check(&app, proxy, "GET", child, Some("Bearer not-a-token")).await;
            assert_eq!(r.status(), 401, "{proxy:?}");
        }
        // Two Authorization headers: a 400 at the APIs, a 401 here.
        let r = app
            .http
            .get(app.url("/authz/check"))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", child)
            .header("Authorization", &bearer)
            .header("Authorization", &bearer)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401);
        // A client's own X-Forwarded-* beside the X-Original-* nginx sets: two
        // requests named, none believed.
        let r = app
            .http
            .get(app.url("/authz/check"))
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", child)
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", "/status")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 403, "a forged second request");
        let r = app
            .http
            .get(format!("{}/authz/check/placements/v2/children/1", app.root_url()))
            .header("X-Original-URI", "/status")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 403, "a forged header beside Envoy's path");
        // The same request named twice, as the shipped nginx configuration does.
        let r = app
            .http
            .get(app.url("/authz/check"))
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", child)
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", child)
            .header("Authorization", &bearer)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        // Envoy asking about `/`.
        let r = check(&app, Proxy::Envoy, "GET", "/", None).await;
        assert_eq!(r.status(), 200, "the root path through Envoy");
        // Without the original request: 403, not 400.
        let r = app
            .http
            .get(app.url("/authz/check"))
            .header("Authorization", &bearer)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 403);

        // The live rules: a role taken away, the application disabled, the token revoked.
        let role_path = format!("/admin/v1/roles/{}", id_of(&reader));
        expect(
            app.patch_json(&role_path, &admin, &json!({"permissions": ["providers:view"]}))
                .await,
            200,
        )
        .await;
        let r = check(&app, Proxy::Forwarded, "GET", child, Some(&bearer)).await;
        assert_eq!(r.status(), 403, "a role taken away");
        expect(
            app.patch_json(&role_path, &admin, &json!({"permissions": ["placements:view"]}))
                .await,
            200,
        )
        .await;
        assert_eq!(
            check(&app, Proxy::Forwarded, "GET", child, Some(&bearer))
                .await
                .status(),
            200
        );
        let r = app
            .http
            .post(app.url("/oauth2/revoke"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        assert_eq!(
            check(&app, Proxy::Forwarded, "GET", child, Some(&bearer))
                .await
                .status(),
            401,
            "revoked"
        );
        let fresh = app.access_token(&client_id, &secret).await;
        let app_path = format!("{APPS}/{}", id_of(&view));
        expect(app.patch_json(&app_path, &admin, &json!({"enabled": false})).await, 200).await;
        let r = check(&app, Proxy::Forwarded, "GET", child, Some(&format!("Bearer {fresh}"))).await;
        assert_eq!(r.status(), 401, "disabled");
    }
);

both_backends!(
    a_tenant_s_token_is_judged_by_its_issuer,
    spawn = spawn(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (tenant, tenant_admin, _) = app.create_tenant(&admin, "agency", "admin@agency.example.org").await;
        let reader = tenant
            .create_role(&tenant_admin, "Placement reader", &["placements:view"])
            .await;
        let (_, client_id, secret) = tenant
            .partner(&tenant_admin, "Agency partner", &[&id_of(&reader)])
            .await;
        let token = tenant.access_token(&client_id, &secret).await;
        // Asked at the root's URL, as a proxy in front of every agency would.
        let r = check(
            &app,
            Proxy::Original,
            "GET",
            "/placements/v2/children/1",
            Some(&format!("Bearer {token}")),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(identity(&r)["tenant"], "agency");
        assert_eq!(identity(&r)["client_id"], client_id);
        // The tenant disabled: its tokens are refused here too.
        expect(
            app.patch_json("/admin/v1/tenants/agency", &admin, &json!({"enabled": false}))
                .await,
            200,
        )
        .await;
        let r = check(
            &app,
            Proxy::Original,
            "GET",
            "/placements/v2/children/1",
            Some(&format!("Bearer {token}")),
        )
        .await;
        assert_eq!(r.status(), 401);
    }
);

/// A DPoP proof by `key` for `method` on `url`, hashing `token`.
fn proof(key: &Key, method: &str, url: &str, token: &str) -> String {
    let mut jwk = key.public_jwk("k");
    jwk.as_object_mut().unwrap().remove("kid");
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": method, "htu": url, "iat": now(),
        "ath": b64(&Sha256::digest(token))});
    compact(&header, &claims, |input| key.sign("ES256", input))
}

both_backends!(
    a_dpop_bound_token_needs_its_proof_at_the_check,
    spawn = spawn(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let reader = app.create_role(&admin, "Placement reader", &["placements:view"]).await;
        let (_, client_id, secret) = app.partner(&admin, "Bound partner", &[&id_of(&reader)]).await;
        let key = Key::ec();
        let mut jwk = key.public_jwk("k");
        jwk.as_object_mut().unwrap().remove("kid");
        let token_proof = {
            let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
            let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": app.url("/oauth2/token"), "iat": now()});
            compact(&header, &claims, |input| key.sign("ES256", input))
        };
        let r = app
            .http
            .post(app.url("/oauth2/token"))
            .header("DPoP", token_proof)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &secret),
            ])
            .send()
            .await
            .expect("send");
        let token = expect(r, 200).await["access_token"].as_str().unwrap().to_owned();
        let path = "/placements/v2/children/7";
        // The proof names the URL the client called: the public URL's origin
        // and the forwarded path, never the check's own.
        let origin = app.root_url();
        let ask = |proof: Option<String>, scheme: &'static str| {
            let mut request = app
                .http
                .get(app.url("/authz/check"))
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-Uri", format!("{path}?page=2"))
                .header("Authorization", format!("{scheme} {token}"));
            if let Some(proof) = proof {
                request = request.header("DPoP", proof);
            }
            request.send()
        };
        let good = proof(&key, "GET", &format!("{origin}{path}"), &token);
        assert_eq!(ask(Some(good.clone()), "DPoP").await.expect("send").status(), 200);
        // Replayed, made for the check's URL, missing, or the token as Bearer.
        assert_eq!(ask(Some(good), "DPoP").await.expect("send").status(), 401);
        let for_check = proof(&key, "GET", &app.url("/authz/check"), &token);
        assert_eq!(ask(Some(for_check), "DPoP").await.expect("send").status(), 401);
        assert_eq!(ask(None, "DPoP").await.expect("send").status(), 401);
        let fresh = proof(&key, "GET", &format!("{origin}{path}"), &token);
        assert_eq!(ask(Some(fresh), "Bearer").await.expect("send").status(), 401);
    }
);

#[tokio::test]
async fn without_a_policy_the_check_is_not_there() {
    let app = TestApp::spawn(casebook_server::config::Backend::Sqlite)
        .await
        .expect("sqlite");
    let r = app.http.get(app.url("/authz/check")).send().await.expect("send");
    assert_eq!(r.status(), 404);
}
