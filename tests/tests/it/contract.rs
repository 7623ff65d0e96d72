//! Contract tests: the real server, on both backends, answers every
//! operation the way the committed `openapi/openapi.json` says it does. Each
//! response's status must be documented for its operation, its content type
//! must be one the document lists for that status, and its body must validate
//! against the documented schema, with one strictness added: an object may
//! not carry a field the document does not name. The run ends by checking
//! that every operation was seen succeeding, and failing when it documents
//! a client error.

use base64::Engine;
use casebook_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Spawn, TestApp, both_backends};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};

// ---------------------------------------------------------------- the contract

/// The committed document, as partners download it.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("openapi.json is JSON")
    })
}

/// `components`, with every plain object schema closed to undocumented
/// fields (`additionalProperties: false`), so a field the server sends but
/// the document does not name fails the test.
fn strict_components() -> &'static Value {
    static COMPONENTS: OnceLock<Value> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        let mut components = spec()["components"].clone();
        close_objects(&mut components);
        components
    })
}

fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let composed = ["allOf", "anyOf", "oneOf"].iter().any(|k| map.contains_key(*k));
            if map.contains_key("properties") && !map.contains_key("additionalProperties") && !composed {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Validates `instance` against a schema of the document, `$ref`s resolved
/// by embedding the components at the root of the schema being compiled.
fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    let mut root = schema.clone();
    close_objects(&mut root);
    let Value::Object(map) = &mut root else {
        return Err(format!("schema is not an object: {schema}"));
    };
    map.insert("components".into(), strict_components().clone());
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("the document's schema does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().to_string()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// A checked answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// Every `(operation, status)` the run has checked.
#[derive(Debug, Default)]
struct Seen(Mutex<BTreeSet<(String, u16)>>);

impl Seen {
    /// Checks one response against the document and records it.
    async fn check(&self, method: &Method, template: &str, response: Response) -> Answer {
        let op_name = format!("{method} {template}");
        let operation = &spec()["paths"][template][method.as_str().to_ascii_lowercase()];
        assert!(operation.is_object(), "{op_name} is not in the document");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let documented = &operation["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{op_name} answered {status}, which the document does not list; body: {}",
            String::from_utf8_lossy(&bytes)
        );
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let body = match documented.get("content").and_then(Value::as_object) {
            None => {
                assert!(
                    bytes.is_empty(),
                    "{op_name} {status} documents no body, but sent {:?}",
                    String::from_utf8_lossy(&bytes)
                );
                Value::Null
            }
            Some(contents) => {
                let content_type = content_type.unwrap_or_else(|| panic!("{op_name} {status} sent no Content-Type"));
                let media = contents.get(&content_type).unwrap_or_else(|| {
                    panic!(
                        "{op_name} {status} sent {content_type}; the document lists {:?}",
                        contents.keys().collect::<Vec<_>>()
                    )
                });
                let body = if content_type.ends_with("json") {
                    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                        panic!(
                            "{op_name} {status}: body is not JSON ({e}): {}",
                            String::from_utf8_lossy(&bytes)
                        )
                    })
                } else {
                    Value::String(String::from_utf8(bytes.to_vec()).expect("text body is UTF-8"))
                };
                if let Some(schema) = media.get("schema")
                    && let Err(e) = validate(schema, &body)
                {
                    panic!("{op_name} {status}: the body does not match the document:\n{e}\nbody: {body:#}");
                }
                body
            }
        };
        self.0.lock().expect("lock").insert((op_name, status));
        Answer { status, headers, body }
    }

    /// Every operation of the document succeeded at least once, and failed
    /// at least once when it documents a client error.
    fn assert_complete(&self) {
        let seen = self.0.lock().expect("lock");
        let mut by_op: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
        for (op, status) in seen.iter() {
            by_op.entry(op).or_default().push(*status);
        }
        let mut missing = Vec::new();
        for (path, item) in spec()["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let op = format!("{} {path}", method.to_ascii_uppercase());
                let statuses = by_op.get(op.as_str()).cloned().unwrap_or_default();
                let documented: Vec<u16> = operation["responses"]
                    .as_object()
                    .expect("responses")
                    .keys()
                    .filter_map(|k| k.parse().ok())
                    .collect();
                if !statuses.iter().any(|s| (200..300).contains(s)) {
                    missing.push(format!("{op}: no success checked"));
                }
                if documented.iter().any(|s| (400..500).contains(s)) && !statuses.iter().any(|s| (400..500).contains(s))
                {
                    missing.push(format!("{op}: no client error checked"));
                }
            }
        }
        assert!(missing.is_empty(), "operations not exercised:\n{}", missing.join("\n"));
    }
}

// ---------------------------------------------------------------- requests

/// A request to one operation, checked against the document when sent.
struct Call<'a> {
    seen: &'a Seen,
    method: Method,
    template: &'static str,
    builder: reqwest::RequestBuilder,
}

impl<'a> Call<'a> {
    fn bearer(mut self, token: &str) -> Self {
        self.builder = self.builder.bearer_auth(token);
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.builder = self.builder.json(&body);
        self
    }

    fn form(mut self, form: &[(&str, &str)]) -> Self {
        self.builder = self.builder.form(form);
        self
    }

    fn basic(mut self, id: &str, secret: &str) -> Self {
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        self.builder = self.builder.header("Authorization", format!("Basic {pair}"));
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    fn raw(mut self, content_type: &str, body: impl Into<reqwest::Body>) -> Self {
        self.builder = self.builder.header("Content-Type", content_type).body(body);
        self
    }

    async fn send(self) -> Answer {
        let response = self.builder.send().await.expect("send");
        self.seen.check(&self.method, self.template, response).await
    }

    /// Sends, checks, and asserts the status.
    async fn expect(self, status: u16) -> Answer {
        let what = format!("{} {}", self.method, self.template);
        let answer = self.send().await;
        assert_eq!(answer.status, status, "{what}: {:#}", answer.body);
        answer
    }
}

struct Client<'a> {
    app: &'a TestApp,
    seen: &'a Seen,
}

impl<'a> Client<'a> {
    /// `template` names the operation; `{id}` in it is replaced by `id`.
    fn call(&self, method: Method, template: &'static str, id: &str) -> Call<'a> {
        self.call_with(method, template, &[("{id}", id)])
    }

    /// `template` names the operation; each placeholder is replaced by its value.
    fn call_with(&self, method: Method, template: &'static str, values: &[(&str, &str)]) -> Call<'a> {
        let path = values.iter().fold(template.to_owned(), |path, (placeholder, value)| {
            path.replace(placeholder, value)
        });
        Call {
            seen: self.seen,
            builder: self.app.http.request(method.clone(), self.app.url(&path)),
            method,
            template,
        }
    }

    fn get(&self, template: &'static str) -> Call<'a> {
        self.call(Method::GET, template, "")
    }

    fn post(&self, template: &'static str) -> Call<'a> {
        self.call(Method::POST, template, "")
    }
}

fn str_of<'v>(value: &'v Value, key: &str) -> &'v str {
    value[key].as_str().unwrap_or_else(|| panic!("{key} in {value}"))
}

// ---------------------------------------------------------------- the run

both_backends!(
    every_operation_conforms,
    spawn = Spawn {
        public_host: Some("localhost".into()),
        ..crate::leaks::with_scanning()
    },
    |app: TestApp| async move {
        let seen = Seen::default();
        let c = Client { app: &app, seen: &seen };
        operations(&c).await;
        let admin = sessions(&c).await;
        roles(&c, &admin).await;
        users(&c, &admin).await;
        let partner = applications(&c, &admin).await;
        federated_credentials(&c, &admin).await;
        webhooks(&c, &admin).await;
        client_secrets(&c, &admin).await;
        oauth(&c, &admin, &partner).await;
        casebook_api(&c, &admin).await;
        audit(&c, &admin).await;
        usage(&c, &admin).await;
        tenants(&c, &admin).await;
        strong_sign_in(&c, &admin).await;
        seen.assert_complete();
    }
);

async fn operations(c: &Client<'_>) {
    let health = c.get("/healthz").expect(200).await;
    assert_eq!(health.body, "ok");
    c.get("/readyz").expect(200).await;
    let metrics = c.get("/metrics").expect(200).await;
    assert!(
        metrics.body.as_str().unwrap_or("").contains("# TYPE"),
        "Prometheus text"
    );
    let meta = c.get("/.well-known/oauth-authorization-server").expect(200).await;
    assert_eq!(meta.body["issuer"], c.app.base_url.as_str());
    let jwks = c.get("/.well-known/jwks.json").expect(200).await;
    assert!(!jwks.body["keys"].as_array().expect("keys").is_empty());
    let resource = c.get("/.well-known/oauth-protected-resource").expect(200).await;
    assert_eq!(resource.body["resource"], c.app.base_url.as_str());
}

/// Signs in (and out), returns an admin session.
async fn sessions(c: &Client<'_>) -> String {
    const AT: &str = "/admin/v1/sessions";
    let wrong = c
        .post(AT)
        .json(json!({"email": ADMIN_EMAIL, "password": "not the password"}))
        .expect(401)
        .await;
    assert!(wrong.header("www-authenticate").starts_with("Bearer"));
    c.post(AT).raw("application/json", "{\"email\":").expect(400).await;
    c.post(AT)
        .json(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "remember": true}))
        .expect(422)
        .await;
    c.post(AT).raw("application/json", "[]").expect(422).await;
    c.post(AT).raw("text/plain", "hello").expect(415).await;
    let huge = json!({"email": ADMIN_EMAIL, "password": "x".repeat(70 * 1024)}).to_string();
    c.post(AT).raw("application/json", huge).expect(413).await;

    let throwaway = str_of(
        &c.post(AT)
            .json(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .expect(201)
            .await
            .body,
        "token",
    )
    .to_owned();
    const CURRENT: &str = "/admin/v1/sessions/current";
    c.call(Method::DELETE, CURRENT, "").bearer(&throwaway).expect(204).await;
    let gone = c.call(Method::DELETE, CURRENT, "").bearer(&throwaway).expect(401).await;
    assert!(gone.header("www-authenticate").contains("invalid_token"));

    let session = c
        .post(AT)
        .json(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .expect(201)
        .await;
    str_of(&session.body, "token").to_owned()
}

/// A second person enrols TOTP and signs in in two steps; an invitation is
/// accepted; a reset is asked for; the tenant's setting.
async fn strong_sign_in(c: &Client<'_>, admin: &str) {
    const TOTP: &str = "/admin/v1/users/me/totp";
    const PASSWORD: &str = "a second person's passphrase";
    c.post("/admin/v1/users")
        .bearer(admin)
        .json(json!({"email": "second.person@agency.org", "name": "Second", "password": PASSWORD, "roles": ["administrator"]}))
        .expect(201)
        .await;
    let person = c.app.sign_in("second.person@agency.org", PASSWORD).await;
    c.post(TOTP)
        .bearer(&person)
        .json(json!({"password": "wrong"}))
        .expect(403)
        .await;
    let begun = c
        .post(TOTP)
        .bearer(&person)
        .json(json!({"password": PASSWORD}))
        .expect(201)
        .await;
    let confirm = "/admin/v1/users/me/totp/confirm";
    c.post(confirm)
        .bearer(&person)
        .json(json!({"code": "12"}))
        .expect(422)
        .await;
    let now = (c.app.running.state.db().now_micros() / 1_000_000) as u64;
    let code = casebook_server::totp::code_for_base32(str_of(&begun.body, "secret"), now).expect("code");
    let codes = c
        .post(confirm)
        .bearer(&person)
        .json(json!({"code": code}))
        .expect(200)
        .await
        .body;
    let recovery = |i: usize| codes["recovery_codes"][i].as_str().expect("a code").to_owned();

    const MFA: &str = "/admin/v1/sessions/mfa";
    let asked = c
        .post("/admin/v1/sessions")
        .json(json!({"email": "second.person@agency.org", "password": PASSWORD}))
        .expect(401)
        .await;
    let token = str_of(&asked.body, "mfa_token").to_owned();
    let refused = c
        .post(MFA)
        .json(json!({"mfa_token": token, "totp_code": "000000"}))
        .expect(401)
        .await;
    let token = str_of(&refused.body, "mfa_token").to_owned();
    c.post(MFA)
        .json(json!({"mfa_token": token, "recovery_code": recovery(0)}))
        .expect(201)
        .await;
    c.call(Method::DELETE, TOTP, "")
        .bearer(&person)
        .json(json!({"password": PASSWORD}))
        .expect(403)
        .await;

    const SETTINGS: &str = "/admin/v1/settings";
    c.get(SETTINGS).bearer(admin).expect(200).await;
    c.get(SETTINGS).bearer("cbsess_not-a-session").expect(401).await;
    c.call(Method::PATCH, SETTINGS, "")
        .bearer(admin)
        .json(json!({"require_mfa_for_admins": true}))
        .expect(409)
        .await;
    c.call(Method::PATCH, SETTINGS, "")
        .bearer(&person)
        .json(json!({"require_mfa_for_admins": false}))
        .expect(200)
        .await;
    c.call(Method::PATCH, SETTINGS, "")
        .bearer(admin)
        .json(json!({"require_mfa_for_admins": "yes"}))
        .expect(422)
        .await;
    c.call(Method::DELETE, TOTP, "")
        .bearer(&person)
        .json(json!({"password": PASSWORD, "recovery_code": recovery(1)}))
        .expect(204)
        .await;

    const PASSKEYS: &str = "/admin/v1/users/me/passkeys";
    const OPTIONS: &str = "/admin/v1/users/me/passkeys/options";
    const CHALLENGE: &str = "/admin/v1/users/me/passkeys/challenge";
    c.post(CHALLENGE).bearer(&person).expect(409).await;
    c.post(OPTIONS)
        .bearer(&person)
        .json(json!({"password": "wrong"}))
        .expect(403)
        .await;
    let begun = c
        .post(OPTIONS)
        .bearer(&person)
        .json(json!({"password": PASSWORD}))
        .expect(200)
        .await
        .body;
    let mut key = crate::soft_passkey::SoftPasskey::new(&c.app.base_url);
    let credential = key.register(&begun["options"]);
    c.post(PASSKEYS)
        .bearer(&person)
        .json(
            json!({"ceremony_id": "0195a0c4-0000-7000-8000-000000000000", "name": "Laptop", "credential": credential}),
        )
        .expect(400)
        .await;
    let passkey = c
        .post(PASSKEYS)
        .bearer(&person)
        .json(json!({"ceremony_id": begun["ceremony_id"], "name": "Laptop", "credential": credential}))
        .expect(201)
        .await
        .body;
    c.get(PASSKEYS).bearer(&person).expect(200).await;
    c.get(PASSKEYS).bearer("cbsess_not-a-session").expect(401).await;
    c.post(CHALLENGE).bearer(&person).expect(200).await;
    const MFA_PASSKEY: &str = "/admin/v1/sessions/mfa/passkey";
    c.post(MFA_PASSKEY)
        .json(json!({"mfa_token": "cbmfa_unknown"}))
        .expect(401)
        .await;
    let asked = c
        .post("/admin/v1/sessions")
        .json(json!({"email": "second.person@agency.org", "password": PASSWORD}))
        .expect(401)
        .await;
    let options = c
        .post(MFA_PASSKEY)
        .json(json!({"mfa_token": str_of(&asked.body, "mfa_token")}))
        .expect(200)
        .await
        .body;
    let proof = json!({"ceremony_id": options["ceremony_id"], "credential": key.assert(&options["options"])});
    c.post(MFA)
        .json(json!({"mfa_token": str_of(&asked.body, "mfa_token"), "passkey": proof}))
        .expect(201)
        .await;
    const ONE_PASSKEY: &str = "/admin/v1/users/me/passkeys/{id}";
    c.call(Method::DELETE, ONE_PASSKEY, "0195a0c4-0000-7000-8000-000000000000")
        .bearer(&person)
        .json(json!({"password": PASSWORD}))
        .expect(404)
        .await;
    let options = c.post(CHALLENGE).bearer(&person).expect(200).await.body;
    let proof = json!({"ceremony_id": options["ceremony_id"], "credential": key.assert(&options["options"])});
    c.call(Method::DELETE, ONE_PASSKEY, str_of(&passkey, "id"))
        .bearer(&person)
        .json(json!({"password": PASSWORD, "passkey": proof}))
        .expect(204)
        .await;

    c.post("/admin/v1/users")
        .bearer(admin)
        .json(json!({"email": "invited.person@agency.org", "name": "Invited", "roles": ["auditor"]}))
        .expect(201)
        .await;
    let token = crate::password_links::delivered_link_token(c.app).await;
    const SET: &str = "/admin/v1/set-password";
    c.post(SET)
        .json(json!({"token": "not-a-token", "password": PASSWORD}))
        .expect(400)
        .await;
    c.post(SET)
        .json(json!({"token": token, "password": PASSWORD}))
        .expect(204)
        .await;
    const RESETS: &str = "/admin/v1/password-resets";
    c.post(RESETS)
        .json(json!({"email": "second.person@agency.org"}))
        .expect(202)
        .await;
    c.post(RESETS)
        .json(json!({"address": "second.person@agency.org"}))
        .expect(422)
        .await;
}

async fn tenants(c: &Client<'_>, admin: &str) {
    const LIST: &str = "/admin/v1/tenants";
    const ONE: &str = "/admin/v1/tenants/{slug}";
    let one = |method: Method, slug: &str| c.call_with(method, ONE, &[("{slug}", slug)]);
    let page = c.get(LIST).bearer(admin).expect(200).await;
    assert_eq!(page.body["items"][0]["slug"], "root");
    c.get(LIST).expect(401).await;
    c.post(LIST)
        .bearer(admin)
        .json(json!({"slug": "-no-", "name": "", "admin_email": "nope"}))
        .expect(422)
        .await;
    let created = c
        .post(LIST)
        .bearer(admin)
        .json(json!({"slug": "contract", "name": "Contract County", "admin_email": "it@contract.example.org"}))
        .expect(201)
        .await
        .body;
    assert!(created["admin_password"].is_string(), "{created}");
    one(Method::GET, "contract").bearer(admin).expect(200).await;
    one(Method::GET, "no-such-tenant").bearer(admin).expect(404).await;
    one(Method::PATCH, "contract")
        .bearer(admin)
        .json(json!({"enabled": false}))
        .expect(200)
        .await;
    one(Method::PATCH, "contract")
        .bearer(admin)
        .json(json!({"name": 5}))
        .expect(422)
        .await;
    one(Method::PATCH, "root")
        .bearer(admin)
        .json(json!({"enabled": false}))
        .expect(409)
        .await;
    one(Method::DELETE, "root").bearer(admin).expect(409).await;
    one(Method::DELETE, "contract").bearer(admin).expect(204).await;
    one(Method::DELETE, "contract").bearer(admin).expect(404).await;
}

async fn roles(c: &Client<'_>, admin: &str) {
    const LIST: &str = "/admin/v1/roles";
    const ONE: &str = "/admin/v1/roles/{id}";
    let page = c.get(LIST).bearer(admin).expect(200).await;
    let ids: Vec<&str> = page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| str_of(r, "id"))
        .collect();
    assert!(ids.contains(&"administrator"), "{ids:?}");
    c.get(LIST).expect(401).await;
    let limit = c.app.http.get(c.app.url("/admin/v1/roles?limit=0")).bearer_auth(admin);
    let bad_limit = c
        .seen
        .check(&Method::GET, LIST, limit.send().await.expect("send"))
        .await;
    assert_eq!(bad_limit.status, 422);
    let unknown = c
        .app
        .http
        .get(c.app.url("/admin/v1/roles?colour=blue"))
        .bearer_auth(admin);
    assert_eq!(
        c.seen
            .check(&Method::GET, LIST, unknown.send().await.expect("send"))
            .await
            .status,
        400
    );

    let refused = c
        .post(LIST)
        .bearer(admin)
        .json(json!({"name": "", "permissions": ["engage:fly", "engage:view", "engage:view"]}))
        .expect(422)
        .await;
    let codes: BTreeSet<&str> = refused.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| str_of(e, "code"))
        .collect();
    assert!(codes.len() >= 2, "every refused field at once: {codes:?}");
    let role = c
        .post(LIST)
        .bearer(admin)
        .json(json!({"name": "Contract Readers", "permissions": ["engage:view", "intake:view"]}))
        .expect(201)
        .await
        .body;
    let id = str_of(&role, "id");
    c.call(Method::GET, ONE, id).bearer(admin).expect(200).await;
    c.call(Method::GET, ONE, "no-such-role").bearer(admin).expect(404).await;
    c.call(Method::GET, ONE, "%01").bearer(admin).expect(400).await;
    let changed = c
        .call(Method::PATCH, ONE, id)
        .bearer(admin)
        .json(json!({"permissions": ["engage:view"]}))
        .expect(200)
        .await;
    assert_eq!(changed.body["permissions"], json!(["engage:view"]));
    c.call(Method::PATCH, ONE, id)
        .bearer(admin)
        .json(json!({"name": ""}))
        .expect(422)
        .await;
    c.call(Method::PATCH, ONE, "no-such-role")
        .bearer(admin)
        .json(json!({"name": "X"}))
        .expect(404)
        .await;

    // A role still held cannot go; the answer names who holds it.
    let holder = c
        .app
        .register(admin, "Role Holder", "holder@partner.example.org", &[id])
        .await;
    let conflict = c.call(Method::DELETE, ONE, id).bearer(admin).expect(409).await;
    assert_eq!(conflict.body["holders"][0]["name"], "Role Holder");
    c.call(
        Method::DELETE,
        "/admin/v1/external-applications/{id}",
        str_of(&holder, "id"),
    )
    .bearer(admin)
    .expect(204)
    .await;
    c.call(Method::DELETE, ONE, id).bearer(admin).expect(204).await;
    c.call(Method::DELETE, ONE, id).bearer(admin).expect(404).await;
}

async fn users(c: &Client<'_>, admin: &str) {
    const LIST: &str = "/admin/v1/users";
    const ONE: &str = "/admin/v1/users/{id}";
    c.get(LIST).bearer(admin).expect(200).await;
    c.get(LIST).bearer("cbsess_not-a-session").expect(401).await;
    let taken = c
        .post(LIST)
        .bearer(admin)
        .json(json!({"email": ADMIN_EMAIL.to_uppercase(), "name": "Twin", "password": "long enough password", "roles": ["auditor"]}))
        .expect(422)
        .await;
    assert!(
        taken.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .any(|e| e["code"] == "email_in_use")
    );
    let user = c
        .post(LIST)
        .bearer(admin)
        .json(json!({"email": "auditor@agency.org", "name": "Avery Auditor", "password": "auditor's long password", "roles": ["auditor"]}))
        .expect(201)
        .await
        .body;
    let id = str_of(&user, "id");
    c.call(Method::GET, ONE, id).bearer(admin).expect(200).await;
    c.call(Method::GET, ONE, "0195a0c4-0000-7000-8000-000000000000")
        .bearer(admin)
        .expect(404)
        .await;
    c.call(Method::PATCH, ONE, id)
        .bearer(admin)
        .json(json!({"name": "Avery A. Auditor"}))
        .expect(200)
        .await;
    c.call(Method::PATCH, ONE, id)
        .bearer(admin)
        .json(json!({"email": "not an address"}))
        .expect(422)
        .await;

    // An auditor may look but not change.
    let auditor = c.app.sign_in("auditor@agency.org", "auditor's long password").await;
    c.get(LIST).bearer(&auditor).expect(200).await;
    let denied = c
        .post(LIST)
        .bearer(&auditor)
        .json(json!({"email": "x@agency.org", "name": "X", "password": "long enough password", "roles": ["auditor"]}))
        .expect(403)
        .await;
    assert!(denied.header("www-authenticate").contains("insufficient_scope"));

    let me = c.get("/api/v1/me").bearer(admin).expect(200).await;
    c.call(Method::DELETE, ONE, str_of(&me.body, "id"))
        .bearer(admin)
        .expect(409)
        .await;
    c.call(Method::DELETE, ONE, id).bearer(admin).expect(204).await;
    c.call(Method::DELETE, ONE, id).bearer(admin).expect(404).await;
}

/// A registered application with `engage-supervisor` and `intake-screener`:
/// `(view, client_id, secret)`.
struct Partner {
    id: String,
    client_id: String,
    secret: String,
}

async fn federated_credentials(c: &Client<'_>, admin: &str) {
    const LIST: &str = "/admin/v1/external-applications/{id}/federated-credentials";
    const ONE: &str = "/admin/v1/external-applications/{id}/federated-credentials/{credential_id}";
    let app = c
        .app
        .register(
            admin,
            "Federated Partner",
            "federated@partner.example.org",
            &["engage-worker"],
        )
        .await;
    let id = str_of(&app, "id");
    let key = json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"});
    let body = json!({"name": "ci", "issuer": "https://ci.example.org", "jwks": {"keys": [key]}, "subject": "repo:partner/exporter"});
    let added = c
        .call(Method::POST, LIST, id)
        .bearer(admin)
        .json(body)
        .expect(201)
        .await;
    c.call(Method::POST, LIST, id)
        .bearer(admin)
        .json(json!({"name": "ci"}))
        .expect(422)
        .await;
    let listed = c.call(Method::GET, LIST, id).bearer(admin).expect(200).await;
    assert_eq!(listed.body["items"][0]["id"], added.body["id"]);
    c.call(Method::GET, LIST, "no-such-application")
        .bearer(admin)
        .expect(404)
        .await;
    let credential = str_of(&added.body, "id");
    let one = [("{id}", id), ("{credential_id}", credential)];
    c.call_with(Method::DELETE, ONE, &one).bearer(admin).expect(204).await;
    c.call_with(Method::DELETE, ONE, &one).bearer(admin).expect(404).await;
}

async fn webhooks(c: &Client<'_>, admin: &str) {
    const LIST: &str = "/admin/v1/webhooks";
    const ONE: &str = "/admin/v1/webhooks/{id}";
    const DELIVERIES: &str = "/admin/v1/webhooks/{id}/deliveries";
    const RETRY: &str = "/admin/v1/webhooks/{id}/deliveries/{delivery_id}/retry";
    let body = json!({"url": "https://siem.example.org/hook", "events": ["webhook.*"], "description": "SIEM"});
    let added = c.post(LIST).bearer(admin).json(body).expect(201).await;
    assert!(str_of(&added.body, "secret").starts_with("whsec_"));
    c.post(LIST)
        .bearer(admin)
        .json(json!({"url": "http://siem.example.org/hook", "events": []}))
        .expect(422)
        .await;
    let listed = c.get(LIST).bearer(admin).expect(200).await;
    assert_eq!(listed.body["items"][0]["id"], added.body["id"]);
    c.get(LIST).expect(401).await;
    let id = str_of(&added.body, "id");
    c.call(Method::GET, ONE, id).bearer(admin).expect(200).await;
    c.call(Method::GET, ONE, "no-such-webhook")
        .bearer(admin)
        .expect(404)
        .await;
    c.call(Method::PATCH, ONE, id)
        .bearer(admin)
        .json(json!({"enabled": false, "description": ""}))
        .expect(200)
        .await;
    c.call(Method::PATCH, ONE, id)
        .bearer(admin)
        .json(json!({"events": ["nope"]}))
        .expect(422)
        .await;
    // Its own webhook.created was queued for it.
    let deliveries = c.call(Method::GET, DELIVERIES, id).bearer(admin).expect(200).await;
    let delivery = str_of(&deliveries.body["items"][0], "id").to_owned();
    c.call(Method::GET, DELIVERIES, "no-such-webhook")
        .bearer(admin)
        .expect(404)
        .await;
    let one = [("{id}", id), ("{delivery_id}", delivery.as_str())];
    c.call_with(Method::POST, RETRY, &one).bearer(admin).expect(202).await;
    let missing = [("{id}", id), ("{delivery_id}", "no-such-delivery")];
    c.call_with(Method::POST, RETRY, &missing)
        .bearer(admin)
        .expect(404)
        .await;
    c.call(Method::DELETE, ONE, id).bearer(admin).expect(204).await;
    c.call(Method::DELETE, ONE, id).bearer(admin).expect(404).await;
}

async fn client_secrets(c: &Client<'_>, admin: &str) {
    const LIST: &str = "/admin/v1/external-applications/{id}/client-secrets";
    const REVEAL: &str = "/admin/v1/external-applications/{id}/client-secrets/{secret_id}/reveal";
    const ONE: &str = "/admin/v1/external-applications/{id}/client-secrets/{secret_id}";
    const LEAKS: &str = "/secret-scanning/github";
    let app = c
        .app
        .register(
            admin,
            "Secretive Partner",
            "secretive@partner.example.org",
            &["engage-worker"],
        )
        .await;
    let id = str_of(&app, "id");
    let added = c
        .call(Method::POST, LIST, id)
        .bearer(admin)
        .json(json!({"password": ADMIN_PASSWORD, "label": "second", "expires_at": "2999-01-01T00:00:00Z"}))
        .expect(201)
        .await;
    c.call(Method::POST, LIST, id)
        .bearer(admin)
        .json(json!({"password": ADMIN_PASSWORD, "expires_at": "soon"}))
        .expect(422)
        .await;
    let listed = c.call(Method::GET, LIST, id).bearer(admin).expect(200).await;
    assert_eq!(listed.body["items"].as_array().expect("items").len(), 2);
    c.call(Method::GET, LIST, "no-such-application")
        .bearer(admin)
        .expect(404)
        .await;
    let secret_id = str_of(&added.body, "id");
    let one = [("{id}", id), ("{secret_id}", secret_id)];
    let shown = c
        .call_with(Method::POST, REVEAL, &one)
        .bearer(admin)
        .json(json!({"password": ADMIN_PASSWORD}))
        .expect(200)
        .await;
    assert_eq!(shown.body["client_secret"], added.body["client_secret"]);
    let missing = [("{id}", id), ("{secret_id}", "no-such-secret")];
    c.call_with(Method::POST, REVEAL, &missing)
        .bearer(admin)
        .json(json!({"password": ADMIN_PASSWORD}))
        .expect(404)
        .await;

    // Reported leaked: ended by the report, so there is nothing left to delete.
    let body = crate::leaks::alert(&[str_of(&added.body, "client_secret")]);
    let reported = c
        .post(LEAKS)
        .header("Github-Public-Key-Identifier", crate::leaks::KEY_ID)
        .header("Github-Public-Key-Signature", &crate::leaks::sign(&body))
        .raw("application/json", body.clone())
        .expect(200)
        .await;
    assert_eq!(reported.body[0]["label"], "true_positive");
    c.post(LEAKS).raw("application/json", body).expect(401).await;
    c.call_with(Method::DELETE, ONE, &one).bearer(admin).expect(404).await;
    let first = str_of(&listed.body["items"][1], "id");
    let first = [("{id}", id), ("{secret_id}", first)];
    c.call_with(Method::DELETE, ONE, &first).bearer(admin).expect(204).await;
}

async fn applications(c: &Client<'_>, admin: &str) -> Partner {
    const LIST: &str = "/admin/v1/external-applications";
    const ONE: &str = "/admin/v1/external-applications/{id}";
    const REVEAL: &str = "/admin/v1/external-applications/{id}/client-secret/reveal";
    const ROTATE: &str = "/admin/v1/external-applications/{id}/client-secret/rotate";

    let refused = c
        .post(LIST)
        .bearer(admin)
        .json(json!({"name": " ", "email": ADMIN_EMAIL, "application_url": "ftp://x", "roles": ["no-such-role", "no-such-role"]}))
        .expect(422)
        .await;
    let fields: BTreeSet<&str> = refused.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| str_of(e, "field"))
        .collect();
    assert!(
        fields.is_superset(&["name", "email", "application_url", "roles"].into()),
        "{fields:?}"
    );
    c.post(LIST)
        .bearer(admin)
        .raw("application/json", "[]")
        .expect(422)
        .await;

    let app = c
        .post(LIST)
        .bearer(admin)
        .json(json!({
            "name": "Contract Partner",
            "email": "integrations+contract@partner.example.org",
            "application_url": "https://partner.example.org/casebook",
            "roles": ["engage-supervisor", "intake-screener"],
            "description": "Keeps the contract honest",
        }))
        .expect(201)
        .await
        .body;
    assert!(
        app.get("client_secret").is_none(),
        "registration never shows the secret"
    );
    let id = str_of(&app, "id").to_owned();
    let client_id = str_of(&app, "client_id").to_owned();
    let bare = c
        .post(LIST)
        .bearer(admin)
        .json(json!({"name": "Bare Partner", "email": "bare@partner.example.org", "roles": ["auditor"]}))
        .expect(201)
        .await
        .body;
    assert!(bare["application_url"].is_null() && bare["description"].is_null());

    let found = c
        .app
        .http
        .get(c.app.url("/admin/v1/external-applications?name=contract&limit=1"))
        .bearer_auth(admin);
    let found = c
        .seen
        .check(&Method::GET, LIST, found.send().await.expect("send"))
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["items"][0]["id"], id.as_str());
    let paged = c
        .app
        .http
        .get(c.app.url("/admin/v1/external-applications?limit=1"))
        .bearer_auth(admin);
    let paged = c
        .seen
        .check(&Method::GET, LIST, paged.send().await.expect("send"))
        .await;
    assert!(paged.body["next_cursor"].is_string(), "two applications, one per page");
    let bad = c
        .app
        .http
        .get(c.app.url("/admin/v1/external-applications?limit=101"))
        .bearer_auth(admin);
    assert_eq!(
        c.seen
            .check(&Method::GET, LIST, bad.send().await.expect("send"))
            .await
            .status,
        422
    );

    c.call(Method::GET, ONE, &id).bearer(admin).expect(200).await;
    c.call(Method::GET, ONE, "no-such-app").bearer(admin).expect(404).await;
    c.call(Method::PATCH, ONE, &id)
        .bearer(admin)
        .json(json!({"description": null, "application_url": ""}))
        .expect(200)
        .await;
    c.call(Method::PATCH, ONE, &id)
        .bearer(admin)
        .json(json!({"roles": []}))
        .expect(422)
        .await;
    c.call(Method::PATCH, ONE, &id)
        .bearer(admin)
        .raw("text/plain", "{}")
        .expect(415)
        .await;

    let revealed = c
        .call(Method::POST, REVEAL, &id)
        .bearer(admin)
        .json(json!({"password": ADMIN_PASSWORD}))
        .expect(200)
        .await;
    assert_eq!(revealed.header("cache-control"), "no-store");
    c.call(Method::POST, REVEAL, &id)
        .bearer(admin)
        .json(json!({"password": "wrong"}))
        .expect(403)
        .await;
    c.call(Method::POST, REVEAL, "no-such-app")
        .bearer(admin)
        .json(json!({"password": ADMIN_PASSWORD}))
        .expect(404)
        .await;
    c.call(Method::POST, ROTATE, &id)
        .bearer(admin)
        .json(json!({"password": ADMIN_PASSWORD, "grace_period_seconds": -1}))
        .expect(422)
        .await;
    let rotated = c
        .call(Method::POST, ROTATE, &id)
        .bearer(admin)
        .json(json!({"password": ADMIN_PASSWORD, "grace_period_seconds": 60}))
        .expect(200)
        .await;
    assert!(rotated.body["previous_secret_valid_until"].is_string());
    let secret = str_of(&rotated.body, "client_secret").to_owned();

    // An application cannot see secrets, whatever its roles.
    let bare_secret = c.app.reveal(admin, str_of(&bare, "id")).await;
    let bare_token = c.app.access_token(str_of(&bare, "client_id"), &bare_secret).await;
    c.call(Method::POST, REVEAL, &id)
        .bearer(&bare_token)
        .json(json!({"password": ADMIN_PASSWORD}))
        .expect(403)
        .await;
    c.call(Method::DELETE, ONE, str_of(&bare, "id"))
        .bearer(&bare_token)
        .expect(403)
        .await;
    c.call(Method::DELETE, ONE, str_of(&bare, "id"))
        .bearer(admin)
        .expect(204)
        .await;
    c.call(Method::DELETE, ONE, str_of(&bare, "id"))
        .bearer(admin)
        .expect(404)
        .await;

    // Wrong passwords lock reveal and rotate for the person who typed them.
    c.post("/admin/v1/users")
        .bearer(admin)
        .json(json!({"email": "second@agency.org", "name": "Second Admin", "password": "second admin password", "roles": ["administrator"]}))
        .expect(201)
        .await;
    let second = c.app.sign_in("second@agency.org", "second admin password").await;
    for _ in 0..5 {
        c.call(Method::POST, ROTATE, &id)
            .bearer(&second)
            .json(json!({"password": "guess"}))
            .expect(403)
            .await;
    }
    let locked = c
        .call(Method::POST, ROTATE, &id)
        .bearer(&second)
        .json(json!({"password": "second admin password"}))
        .expect(429)
        .await;
    assert!(locked.header("retry-after").parse::<u64>().is_ok_and(|s| s > 0));
    c.call(Method::POST, REVEAL, &id)
        .bearer(&second)
        .json(json!({"password": "second admin password"}))
        .expect(429)
        .await;

    Partner { id, client_id, secret }
}

async fn oauth(c: &Client<'_>, admin: &str, partner: &Partner) {
    const TOKEN: &str = "/oauth2/token";
    const INTROSPECT: &str = "/oauth2/introspect";
    const REVOKE: &str = "/oauth2/revoke";
    let (id, secret) = (partner.client_id.as_str(), partner.secret.as_str());

    let issued = c
        .post(TOKEN)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .expect(200)
        .await;
    assert_eq!(issued.header("cache-control"), "no-store");
    assert_eq!(issued.body["expires_in"], 3600);
    let token = str_of(&issued.body, "access_token").to_owned();
    let narrow = c
        .post(TOKEN)
        .basic(id, secret)
        .form(&[("grant_type", "client_credentials"), ("scope", "engage:view")])
        .expect(200)
        .await;
    assert_eq!(narrow.body["scope"], "engage:view");
    let narrow_token = str_of(&narrow.body, "access_token").to_owned();

    let error = |a: &Answer| a.body["error"].as_str().unwrap_or("").to_owned();
    let a = c
        .post(TOKEN)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", "cbs_wrong"),
        ])
        .expect(401)
        .await;
    assert_eq!(error(&a), "invalid_client");
    let a = c
        .post(TOKEN)
        .basic(id, secret)
        .form(&[("grant_type", "password")])
        .expect(400)
        .await;
    assert_eq!(error(&a), "unsupported_grant_type");
    let a = c
        .post(TOKEN)
        .basic(id, secret)
        .form(&[("grant_type", "client_credentials"), ("scope", "admin:delete")])
        .expect(400)
        .await;
    assert_eq!(error(&a), "invalid_scope");
    let a = c.post(TOKEN).raw("application/json", "{}").expect(400).await;
    assert_eq!(error(&a), "invalid_request");
    let in_query = c
        .app
        .http
        .post(c.app.url(&format!("{TOKEN}?client_id={id}&client_secret={secret}")));
    let a = c
        .seen
        .check(
            &Method::POST,
            TOKEN,
            in_query
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("send"),
        )
        .await;
    assert_eq!((a.status, error(&a).as_str()), (400, "invalid_request"));

    let active = c
        .post(INTROSPECT)
        .basic(id, secret)
        .form(&[("token", &token)])
        .expect(200)
        .await;
    assert_eq!(active.body["active"], true);
    assert_eq!(active.body["client_id"], id);
    let inactive = c
        .post(INTROSPECT)
        .basic(id, secret)
        .form(&[("token", "not.a.jwt")])
        .expect(200)
        .await;
    assert_eq!(inactive.body, json!({"active": false}));
    c.post(INTROSPECT)
        .basic(id, secret)
        .form(&[("token_type_hint", "access_token")])
        .expect(400)
        .await;
    c.post(INTROSPECT)
        .basic(id, "cbs_wrong")
        .form(&[("token", &token)])
        .expect(401)
        .await;

    // Another client may not revoke this one's token, and is answered as
    // for a token that is not ours.
    let other = c
        .app
        .register(admin, "Other Client", "other@partner.example.org", &["auditor"])
        .await;
    let other_secret = c.app.reveal(admin, str_of(&other, "id")).await;
    c.post(REVOKE)
        .basic(str_of(&other, "client_id"), &other_secret)
        .form(&[("token", &narrow_token)])
        .expect(200)
        .await;
    c.post(REVOKE)
        .basic(id, "cbs_wrong")
        .form(&[("token", &narrow_token)])
        .expect(401)
        .await;
    c.post(REVOKE)
        .basic(id, secret)
        .form(&[("token", &narrow_token)])
        .expect(200)
        .await;
    c.post(REVOKE)
        .basic(id, secret)
        .form(&[("token", "garbage")])
        .expect(200)
        .await;
    let revoked = c.get("/api/v1/me").bearer(&narrow_token).expect(401).await;
    assert!(revoked.header("www-authenticate").contains("invalid_token"));
    c.get("/api/v1/me").bearer(&token).expect(200).await;
    c.call(Method::DELETE, "/admin/v1/sessions/current", "")
        .bearer(&token)
        .expect(403)
        .await;

    // RFC 6749 §10.10: failed client authentication is throttled, per
    // source: the guesser works from another loopback address.
    let guesser = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().expect("address"))
        .build()
        .expect("client");
    let mut throttled = None;
    for _ in 0..40 {
        let guess = guesser.post(c.app.url(TOKEN)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cb_guess"),
            ("client_secret", "guess"),
        ]);
        let a = c
            .seen
            .check(&Method::POST, TOKEN, guess.send().await.expect("send"))
            .await;
        if a.status == 429 {
            throttled = Some(a);
            break;
        }
        assert_eq!(a.status, 401);
    }
    let throttled = throttled.expect("failures are throttled within 40 attempts");
    assert!(throttled.header("retry-after").parse::<u64>().is_ok_and(|s| s > 0));
    // ... for the guesser only: the partner's own secret still works from
    // its own address.
    c.post(TOKEN)
        .basic(id, secret)
        .form(&[("grant_type", "client_credentials")])
        .expect(200)
        .await;
    let _ = &partner.id;
}

async fn casebook_api(c: &Client<'_>, admin: &str) {
    const CASES: &str = "/api/v1/engage/cases";
    const CASE: &str = "/api/v1/engage/cases/{id}";
    const REPORTS: &str = "/api/v1/intake/reports";
    const REPORT: &str = "/api/v1/intake/reports/{id}";
    let (_, worker_id, worker_secret) = c.app.partner(admin, "Engage Worker App", &["engage-worker"]).await;
    let worker = c.app.access_token(&worker_id, &worker_secret).await;
    let me = c.get("/api/v1/me").bearer(&worker).expect(200).await;
    assert_eq!(me.body["kind"], "application");
    c.get("/api/v1/me").bearer("not-a-token").expect(401).await;

    let case = c
        .post(CASES)
        .bearer(&worker)
        .json(json!({"title": "Welfare check", "description": "Neighbour called"}))
        .expect(201)
        .await
        .body;
    assert_eq!(case["created_by"]["name"], "Engage Worker App");
    assert_eq!(case["status"], "open");
    let id = str_of(&case, "id");
    c.post(CASES)
        .bearer(&worker)
        .json(json!({"title": ""}))
        .expect(422)
        .await;
    c.post(CASES)
        .bearer(&worker)
        .raw("text/plain", "title")
        .expect(415)
        .await;
    c.get(CASES).bearer(&worker).expect(200).await;
    let bad = c
        .app
        .http
        .get(c.app.url("/api/v1/engage/cases?limit=-1"))
        .bearer_auth(&worker);
    assert_eq!(
        c.seen
            .check(&Method::GET, CASES, bad.send().await.expect("send"))
            .await
            .status,
        422
    );
    c.call(Method::GET, CASE, id).bearer(&worker).expect(200).await;
    c.call(Method::GET, CASE, "no-such-case")
        .bearer(&worker)
        .expect(404)
        .await;
    c.call(Method::PATCH, CASE, id)
        .bearer(&worker)
        .json(json!({"status": "closed"}))
        .expect(403)
        .await;
    let closed = c
        .call(Method::PATCH, CASE, id)
        .bearer(admin)
        .json(json!({"status": "closed"}))
        .expect(200)
        .await;
    assert_eq!(closed.body["updated_by"]["kind"], "user");
    c.call(Method::PATCH, CASE, id)
        .bearer(admin)
        .json(json!({"status": "lost"}))
        .expect(422)
        .await;
    c.call(Method::PATCH, CASE, "no-such-case")
        .bearer(admin)
        .json(json!({"title": "T"}))
        .expect(404)
        .await;
    c.call(Method::DELETE, CASE, id).bearer(&worker).expect(403).await;
    c.call(Method::DELETE, CASE, id).bearer(admin).expect(204).await;
    c.call(Method::DELETE, CASE, id).bearer(admin).expect(404).await;

    let report = c
        .post(REPORTS)
        .bearer(admin)
        .json(json!({"summary": "Missed school", "details": "Three weeks"}))
        .expect(201)
        .await
        .body;
    let id = str_of(&report, "id");
    c.post(REPORTS)
        .bearer(&worker)
        .json(json!({"summary": "No"}))
        .expect(403)
        .await;
    c.post(REPORTS)
        .bearer(admin)
        .json(json!({"details": "no summary"}))
        .expect(422)
        .await;
    c.post(REPORTS)
        .bearer(admin)
        .json(json!({"summary": ""}))
        .expect(422)
        .await;
    c.get(REPORTS).bearer(admin).expect(200).await;
    c.get(REPORTS).bearer(&worker).expect(403).await;
    c.call(Method::GET, REPORT, id).bearer(admin).expect(200).await;
    c.call(Method::GET, REPORT, id).bearer(&worker).expect(403).await;
    c.call(Method::PATCH, REPORT, id)
        .bearer(admin)
        .json(json!({"details": null}))
        .expect(200)
        .await;
    c.call(Method::PATCH, REPORT, id)
        .bearer(admin)
        .json(json!({"summary": ""}))
        .expect(422)
        .await;
    c.call(Method::DELETE, REPORT, id).bearer(admin).expect(204).await;
    c.call(Method::DELETE, REPORT, id).bearer(admin).expect(404).await;
}

async fn audit(c: &Client<'_>, admin: &str) {
    const AT: &str = "/admin/v1/audit-events";
    let events = c.get(AT).bearer(admin).expect(200).await;
    assert!(!events.body["items"].as_array().expect("items").is_empty());
    c.get(AT).expect(401).await;
    let bad = c
        .app
        .http
        .get(c.app.url("/admin/v1/audit-events?cursor=%00"))
        .bearer_auth(admin);
    let status = c
        .seen
        .check(&Method::GET, AT, bad.send().await.expect("send"))
        .await
        .status;
    assert!(status == 400 || status == 422, "{status}");

    const EXPORT: &str = "/admin/v1/audit-events/export";
    for (query, media) in [("", "text/csv"), ("?format=jsonl", "application/jsonl")] {
        let download = c
            .app
            .http
            .get(c.app.url(&format!("{EXPORT}{query}")))
            .bearer_auth(admin);
        let answer = c
            .seen
            .check(&Method::GET, EXPORT, download.send().await.expect("send"))
            .await;
        assert_eq!(answer.status, 200);
        let content_type = answer.headers["content-type"].to_str().expect("ascii");
        assert!(content_type.starts_with(media), "{content_type}");
        assert!(
            answer.headers["content-disposition"]
                .to_str()
                .expect("ascii")
                .starts_with("attachment;"),
            "{:?}",
            answer.headers
        );
    }
    let later_than_never = c
        .app
        .http
        .get(c.app.url(&format!("{EXPORT}?since=not-a-time")))
        .bearer_auth(admin);
    let answer = c
        .seen
        .check(&Method::GET, EXPORT, later_than_never.send().await.expect("send"))
        .await;
    assert_eq!(answer.status, 422);
}

async fn usage(c: &Client<'_>, admin: &str) {
    const ONE: &str = "/admin/v1/external-applications/{id}/usage";
    let app = c
        .app
        .register(admin, "Usage Partner", "usage@partner.example.org", &["engage-worker"])
        .await;
    let id = str_of(&app, "id");
    c.call(Method::GET, ONE, id).bearer(admin).expect(200).await;
    c.call(Method::GET, ONE, "no-such-application")
        .bearer(admin)
        .expect(404)
        .await;
    const TENANT: &str = "/admin/v1/usage";
    let tenant = c.get(TENANT).bearer(admin).expect(200).await;
    assert!(tenant.body["buckets"].is_array(), "{}", tenant.body);
    c.get(TENANT).expect(401).await;
}

// ---------------------------------------------------------------- the reference

/// `/docs` renders from the binary alone: the page and everything it loads
/// come from this server, and nothing names an outside host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_are_served_with_no_outside_fetch() {
    let app = TestApp::spawn(casebook_tests::casebook_server::config::Backend::Sqlite)
        .await
        .expect("sqlite");
    let page = app.http.get(app.url("/docs/")).send().await.expect("send");
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        page.headers()
    );
    let html = page.text().await.expect("html");
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            assets.push(rest[..rest.find('"').expect("closing quote")].to_owned());
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")), "scripts in {html}");
    for asset in &assets {
        assert!(
            !asset.contains("//"),
            "the reference loads {asset} from outside the server"
        );
        let url = app.url(&format!("/docs/{}", asset.trim_start_matches("./")));
        let r = app.http.get(&url).send().await.expect("send");
        assert_eq!(r.status(), 200, "{url}");
    }
    let init = app
        .http
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("send");
    let init = init.text().await.expect("js");
    assert!(init.contains("\"/openapi.json\""), "{init}");
    assert!(
        init.contains("\"validatorUrl\": \"none\""),
        "Swagger UI's validator badge would send the spec to validator.swagger.io: {init}"
    );
    let spec = app.http.get(app.url("/openapi.json")).send().await.expect("send");
    assert_eq!(spec.status(), 200);
    let served: Value = spec.json().await.expect("json");
    assert_eq!(&served, self::spec(), "the server serves the committed document");
}
