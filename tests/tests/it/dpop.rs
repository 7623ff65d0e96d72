//! DPoP (RFC 9449; the contract's "Sender-constrained tokens"): a proof at
//! the token endpoint binds the token to the client's key, and the APIs
//! honour the token only beside a fresh proof with that key. Each refusal
//! sits beside a request that differs only in the rule, so every refusal
//! is the rule's doing. Proofs are made here with aws-lc-rs, not with the
//! server's or the SDK's code.

use crate::jose::{Key, b64, compact, now};
use casebook_tests::*;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A client's DPoP key and the algorithm it signs with.
struct Holder {
    key: Key,
    alg: &'static str,
}

/// What a proof says, each member open to a test that breaks one rule.
struct Claims<'a> {
    method: &'a str,
    url: String,
    token: Option<&'a str>,
    nonce: Option<&'a str>,
    iat: i64,
}

impl<'a> Claims<'a> {
    fn for_request(method: &'a str, url: String) -> Self {
        Self {
            method,
            url,
            token: None,
            nonce: None,
            iat: now(),
        }
    }
}

impl Holder {
    fn ec() -> Self {
        Self {
            key: Key::ec(),
            alg: "ES256",
        }
    }

    fn jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk("unused");
        jwk.as_object_mut().expect("object").remove("kid");
        jwk
    }

    /// RFC 7638, computed here from the JWK's required members.
    fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = match jwk["kty"].as_str() {
            Some("EC") => json!({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}),
            Some("RSA") => json!({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}),
            _ => json!({"crv": jwk["crv"], "kty": "OKP", "x": jwk["x"]}),
        };
        b64(&Sha256::digest(canonical.to_string()))
    }

    fn proof_with_header(&self, header: Value, claims: &Claims<'_>) -> String {
        let mut body = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": claims.method,
            "htu": claims.url, "iat": claims.iat});
        if let Some(token) = claims.token {
            body["ath"] = b64(&Sha256::digest(token)).into();
        }
        if let Some(nonce) = claims.nonce {
            body["nonce"] = nonce.into();
        }
        compact(&header, &body, |input| self.key.sign(self.alg, input))
    }

    fn proof(&self, claims: &Claims<'_>) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk()});
        self.proof_with_header(header, claims)
    }

    fn token_proof(&self, app: &TestApp) -> String {
        self.proof(&Claims::for_request("POST", app.url("/oauth2/token")))
    }

    fn api_proof(&self, app: &TestApp, method: &'static str, path: &str, token: &str) -> String {
        self.proof(&Claims {
            token: Some(token),
            ..Claims::for_request(method, app.url(path))
        })
    }
}

/// A token request with a client secret and the given `DPoP` headers.
async fn token_request(app: &TestApp, client_id: &str, secret: &str, proofs: &[&str]) -> reqwest::Response {
    let mut request = app.http.post(app.url("/oauth2/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ]);
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.send().await.expect("send")
}

async fn dpop_token(app: &TestApp, client_id: &str, secret: &str, holder: &Holder) -> String {
    let r = token_request(app, client_id, secret, &[&holder.token_proof(app)]).await;
    let body = expect(r, 200).await;
    assert_eq!(body["token_type"], "DPoP", "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

async fn call(app: &TestApp, path: &str, authorization: &str, proofs: &[&str]) -> reqwest::Response {
    let mut request = app.http.get(app.url(path)).header("Authorization", authorization);
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.send().await.expect("send")
}

async fn refused_at_token_endpoint(r: reqwest::Response, code: &str, why: &str) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("json");
    assert_eq!((status, body["error"].as_str()), (400, Some(code)), "{why}: {body}");
}

/// A 401 at an API with a DPoP challenge naming `code`.
async fn refused_at_api(r: reqwest::Response, code: &str, why: &str) -> Value {
    let status = r.status().as_u16();
    let challenges: Vec<String> = r
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let body: Value = r.json().await.expect("json");
    assert_eq!(status, 401, "{why}: {body}");
    assert!(
        challenges
            .iter()
            .any(|c| c.starts_with("DPoP ") && c.contains(&format!("error=\"{code}\"")) && c.contains("algs=\"")),
        "{why}: {challenges:?}"
    );
    body
}

both_backends!(
    a_proof_binds_the_token_to_the_key_and_every_call_must_prove_it,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Bound Partner", &["auditor"]).await;
        let holder = Holder::ec();
        let token = dpop_token(&app, &client_id, &secret, &holder).await;
        assert_eq!(jwt_part(&token, 1)["cnf"], json!({"jkt": holder.thumbprint()}));

        // The Casebook API and the admin API, each with a proof for itself.
        for path in ["/api/v1/me", "/admin/v1/roles"] {
            let proof = holder.api_proof(&app, "GET", path, &token);
            let r = call(&app, path, &format!("DPoP {token}"), &[&proof]).await;
            assert_eq!(r.status(), 200, "{path}");
        }
        // The query is no part of htu.
        let proof = holder.api_proof(&app, "GET", "/admin/v1/roles", &token);
        let r = call(&app, "/admin/v1/roles?limit=1", &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(r.status(), 200);

        // A downgrade: the bound token as a bearer token, with or without a proof.
        for proofs in [vec![], vec![holder.api_proof(&app, "GET", "/api/v1/me", &token)]] {
            let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
            let r = call(&app, "/api/v1/me", &format!("Bearer {token}"), &proofs).await;
            assert_eq!(r.status(), 401);
            assert!(header(&r, WWW_AUTHENTICATE).contains("invalid_token"));
        }
        // No proof, a proof replayed, made for another request or token, or by another key.
        let me = "/api/v1/me";
        refused_at_api(
            call(&app, me, &format!("DPoP {token}"), &[]).await,
            "invalid_dpop_proof",
            "no proof",
        )
        .await;
        let used = holder.api_proof(&app, "GET", me, &token);
        assert_eq!(call(&app, me, &format!("DPoP {token}"), &[&used]).await.status(), 200);
        refused_at_api(
            call(&app, me, &format!("DPoP {token}"), &[&used]).await,
            "invalid_dpop_proof",
            "replayed",
        )
        .await;
        let other_path = holder.api_proof(&app, "GET", "/admin/v1/roles", &token);
        refused_at_api(
            call(&app, me, &format!("DPoP {token}"), &[&other_path]).await,
            "invalid_dpop_proof",
            "htu",
        )
        .await;
        let other_method = holder.api_proof(&app, "POST", me, &token);
        refused_at_api(
            call(&app, me, &format!("DPoP {token}"), &[&other_method]).await,
            "invalid_dpop_proof",
            "htm",
        )
        .await;
        let no_hash = holder.proof(&Claims::for_request("GET", app.url(me)));
        refused_at_api(
            call(&app, me, &format!("DPoP {token}"), &[&no_hash]).await,
            "invalid_dpop_proof",
            "no ath",
        )
        .await;
        let stranger = Holder::ec().api_proof(&app, "GET", me, &token);
        refused_at_api(
            call(&app, me, &format!("DPoP {token}"), &[&stranger]).await,
            "invalid_dpop_proof",
            "other key",
        )
        .await;
        let (a, b) = (
            holder.api_proof(&app, "GET", me, &token),
            holder.api_proof(&app, "GET", me, &token),
        );
        refused_at_api(
            call(&app, me, &format!("DPoP {token}"), &[&a, &b]).await,
            "invalid_dpop_proof",
            "two proofs",
        )
        .await;
        // htu is judged against the public URL, never the Host header: a proof
        // for the address a client reached is refused when the install's public
        // URL names another host.
        let by_host = holder.proof(&Claims {
            token: Some(&token),
            ..Claims::for_request("GET", format!("http://localhost:{}{me}", app.addr.port()))
        });
        let r = app
            .http
            .get(app.url(me))
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", &by_host)
            .header("Host", format!("localhost:{}", app.addr.port()))
            .send()
            .await
            .expect("send");
        refused_at_api(r, "invalid_dpop_proof", "the Host header's URL").await;

        // A bearer token sent as DPoP is refused too: it is bound to nothing.
        let bearer = app.access_token(&client_id, &secret).await;
        let proof = holder.api_proof(&app, "GET", me, &bearer);
        let r = call(&app, me, &format!("DPoP {bearer}"), &[&proof]).await;
        assert_eq!(r.status(), 401);
        assert_eq!(call(&app, me, &format!("Bearer {bearer}"), &[]).await.status(), 200);

        // Introspection names the binding.
        let r = app
            .http
            .post(app.url("/oauth2/introspect"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .expect("send");
        let answer = expect(r, 200).await;
        assert_eq!(answer["token_type"], "DPoP", "{answer}");
        assert_eq!(answer["cnf"]["jkt"], holder.thumbprint());

        // Metadata and every 401 name the algorithms.
        let metadata = app.public_json("/.well-known/oauth-authorization-server").await;
        assert_eq!(
            metadata["dpop_signing_alg_values_supported"],
            json!(["ES256", "EdDSA", "PS256", "RS256"])
        );
        let resource = app.public_json("/.well-known/oauth-protected-resource").await;
        assert_eq!(
            resource["dpop_signing_alg_values_supported"],
            metadata["dpop_signing_alg_values_supported"]
        );
        let r = app.http.get(app.url(me)).send().await.expect("send");
        let challenges: Vec<_> = r.headers().get_all(WWW_AUTHENTICATE).iter().collect();
        assert!(
            challenges
                .iter()
                .any(|c| c.to_str().unwrap() == "DPoP algs=\"ES256 EdDSA PS256 RS256\""),
            "{challenges:?}"
        );
    }
);

both_backends!(
    a_bad_proof_at_the_token_endpoint_is_invalid_dpop_proof,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Proving Partner", &["engage-worker"]).await;
        let holder = Holder::ec();
        let token_url = app.url("/oauth2/token");
        let good = || Claims::for_request("POST", token_url.clone());
        let jwk = holder.jwk();
        let cases: Vec<(&str, String)> = vec![
        ("htm GET", holder.proof(&Claims { method: "GET", ..good() })),
        ("htu of another endpoint", holder.proof(&Claims { url: app.url("/oauth2/revoke"), ..good() })),
        ("iat 2 minutes ago", holder.proof(&Claims { iat: now() - 120, ..good() })),
        ("iat 2 minutes ahead", holder.proof(&Claims { iat: now() + 120, ..good() })),
        ("typ JWT", holder.proof_with_header(json!({"typ": "JWT", "alg": "ES256", "jwk": jwk}), &good())),
        ("no jwk", holder.proof_with_header(json!({"typ": "dpop+jwt", "alg": "ES256"}), &good())),
        (
            "another key's jwk",
            holder.proof_with_header(json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": Holder::ec().jwk()}), &good()),
        ),
        (
            "an Ed25519 point of small order",
            holder.proof_with_header(
                json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(&[0; 32])}}),
                &good(),
            ),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
        for (why, proof) in cases {
            let r = token_request(&app, &client_id, &secret, &[&proof]).await;
            refused_at_token_endpoint(r, "invalid_dpop_proof", why).await;
        }
        // Two proofs, and one replayed.
        let proof = holder.token_proof(&app);
        let r = token_request(&app, &client_id, &secret, &[&proof, &holder.token_proof(&app)]).await;
        refused_at_token_endpoint(r, "invalid_dpop_proof", "two proofs").await;
        assert_eq!(token_request(&app, &client_id, &secret, &[&proof]).await.status(), 200);
        let r = token_request(&app, &client_id, &secret, &[&proof]).await;
        refused_at_token_endpoint(r, "invalid_dpop_proof", "replayed").await;

        // Every algorithm the metadata lists.
        for holder in [
            Holder {
                key: Key::rsa(),
                alg: "RS256",
            },
            Holder {
                key: Key::rsa(),
                alg: "PS256",
            },
            Holder {
                key: Key::ed(),
                alg: "EdDSA",
            },
        ] {
            let token = dpop_token(&app, &client_id, &secret, &holder).await;
            let proof = holder.api_proof(&app, "GET", "/api/v1/me", &token);
            let r = call(&app, "/api/v1/me", &format!("DPoP {token}"), &[&proof]).await;
            assert_eq!(r.status(), 200, "{}", holder.alg);
        }
    }
);

both_backends!(
    a_dpop_bound_application_gets_no_token_without_a_proof,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, secret) = app.partner(&admin, "Strict Partner", &["engage-worker"]).await;
        let bearer = app.access_token(&client_id, &secret).await;
        assert_eq!(
            call(&app, "/api/v1/me", &format!("Bearer {bearer}"), &[])
                .await
                .status(),
            200
        );
        let path = format!("{APPS}/{}", id_of(&view));
        expect(
            app.patch_json(&path, &admin, &json!({"dpop_bound_access_tokens": true}))
                .await,
            200,
        )
        .await;
        // The bearer token already out ends with the requirement.
        let r = call(&app, "/api/v1/me", &format!("Bearer {bearer}"), &[]).await;
        assert_eq!(r.status(), 401, "a bearer token outliving the requirement");
        let r = token_request(&app, &client_id, &secret, &[]).await;
        refused_at_token_endpoint(r, "invalid_dpop_proof", "no proof").await;
        let holder = Holder::ec();
        let bound = dpop_token(&app, &client_id, &secret, &holder).await;
        // Saying it again ends nothing.
        expect(
            app.patch_json(&path, &admin, &json!({"dpop_bound_access_tokens": true}))
                .await,
            200,
        )
        .await;
        let proof = holder.api_proof(&app, "GET", "/api/v1/me", &bound);
        assert_eq!(
            call(&app, "/api/v1/me", &format!("DPoP {bound}"), &[&proof])
                .await
                .status(),
            200
        );

        // An application's token may require DPoP, never drop it.
        let (_, tool_id, tool_secret) = app.partner(&admin, "Admin Tool", &["administrator"]).await;
        let tool = app.access_token(&tool_id, &tool_secret).await;
        let r = app
            .patch_json(&path, &tool, &json!({"dpop_bound_access_tokens": false}))
            .await;
        assert_eq!(r.status(), 403);
        expect(
            app.patch_json(&path, &tool, &json!({"dpop_bound_access_tokens": true}))
                .await,
            200,
        )
        .await;
        expect(
            app.patch_json(&path, &admin, &json!({"dpop_bound_access_tokens": false}))
                .await,
            200,
        )
        .await;
    }
);

both_backends!(a_proof_is_spent_on_every_replica, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (_, client_id, secret) = app.partner(&admin, "Replicated Partner", &["engage-worker"]).await;
    let second = app.replica().await;
    let holder = Holder::ec();
    // The same public URL: a proof made for one replica is good at the other.
    let proof = holder.token_proof(&app);
    assert_eq!(token_request(&app, &client_id, &secret, &[&proof]).await.status(), 200);
    let r = token_request(&second, &client_id, &secret, &[&proof]).await;
    refused_at_token_endpoint(r, "invalid_dpop_proof", "replayed at the second replica").await;

    let token = dpop_token(&app, &client_id, &secret, &holder).await;
    let proof = holder.api_proof(&app, "GET", "/api/v1/me", &token);
    assert_eq!(
        call(&app, "/api/v1/me", &format!("DPoP {token}"), &[&proof])
            .await
            .status(),
        200
    );
    let r = call(&second, "/api/v1/me", &format!("DPoP {token}"), &[&proof]).await;
    refused_at_api(r, "invalid_dpop_proof", "replayed at the second replica").await;
});

both_backends!(
    a_tenant_judges_htu_against_its_own_base_url,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (tenant, tenant_admin, _) = app.create_tenant(&admin, "agency", "admin@agency.example.org").await;
        let (_, client_id, secret) = tenant
            .partner(&tenant_admin, "Tenant Partner", &["agency.engage-worker"])
            .await;
        let holder = Holder::ec();
        // A proof for the root's token endpoint is not one for the tenant's.
        let root_proof = holder.token_proof(&app);
        let r = token_request(&tenant, &client_id, &secret, &[&root_proof]).await;
        refused_at_token_endpoint(r, "invalid_dpop_proof", "the root's htu at a tenant").await;
        let token = dpop_token(&tenant, &client_id, &secret, &holder).await;
        let proof = holder.api_proof(&tenant, "GET", "/api/v1/me", &token);
        assert_eq!(
            call(&tenant, "/api/v1/me", &format!("DPoP {token}"), &[&proof])
                .await
                .status(),
            200
        );
        let root_path = holder.api_proof(&app, "GET", "/api/v1/me", &token);
        let r = call(&tenant, "/api/v1/me", &format!("DPoP {token}"), &[&root_path]).await;
        refused_at_api(r, "invalid_dpop_proof", "the root's htu at a tenant").await;
    }
);

both_backends!(
    server_nonces_are_demanded_and_any_replica_takes_any_replicas,
    spawn = Spawn {
        dpop_nonce: true,
        ..Spawn::default()
    },
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Nonce Partner", &["engage-worker"]).await;
        let second = app.replica().await;
        let holder = Holder::ec();

        // The token endpoint: 400 use_dpop_nonce with the nonce to use.
        let r = token_request(&app, &client_id, &secret, &[&holder.token_proof(&app)]).await;
        let nonce = header(&r, "dpop-nonce".parse().unwrap());
        refused_at_token_endpoint(r, "use_dpop_nonce", "no nonce").await;
        for forged in ["made-up", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let proof = holder.proof(&Claims {
                nonce: Some(forged),
                ..Claims::for_request("POST", app.url("/oauth2/token"))
            });
            let r = token_request(&app, &client_id, &secret, &[&proof]).await;
            refused_at_token_endpoint(r, "use_dpop_nonce", forged).await;
        }
        // The nonce one replica gave is good at the other.
        let proof = holder.proof(&Claims {
            nonce: Some(&nonce),
            ..Claims::for_request("POST", app.url("/oauth2/token"))
        });
        let r = token_request(&second, &client_id, &secret, &[&proof]).await;
        assert!(!header(&r, "dpop-nonce".parse().unwrap()).is_empty());
        let token = expect(r, 200).await["access_token"].as_str().expect("token").to_owned();

        // The APIs: 401 use_dpop_nonce, then the call with it.
        let me = "/api/v1/me";
        let r = call(
            &app,
            me,
            &format!("DPoP {token}"),
            &[&holder.api_proof(&app, "GET", me, &token)],
        )
        .await;
        let api_nonce = header(&r, "dpop-nonce".parse().unwrap());
        refused_at_api(r, "use_dpop_nonce", "no nonce at the API").await;
        let proof = holder.proof(&Claims {
            token: Some(&token),
            nonce: Some(&api_nonce),
            ..Claims::for_request("GET", app.url(me))
        });
        let r = call(&second, me, &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(r.status(), 200);
        // Bearer tokens need no nonce.
        let bearer = app.access_token(&client_id, &secret).await;
        assert_eq!(call(&app, me, &format!("Bearer {bearer}"), &[]).await.status(), 200);
    }
);
