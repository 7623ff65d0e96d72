//! The router, the OpenAPI document and the access table describe the same
//! set of routes.
//!
//! axum does not list a router's routes, so the routed set is established by
//! asking the router itself: every operation of the document and every entry
//! of `auth::ROUTES` must answer (not 404, not 405), and every other method on
//! those paths must be 405. The only routes outside the document are
//! `GET /openapi.json` and the pages (`/docs`, the admin console).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use casebook_server::config::Config;
use casebook_server::crypto::MasterKey;
use casebook_server::http::auth::{self, ROUTES};
use casebook_server::{TestOptions, http};
use std::collections::BTreeSet;
use tower::ServiceExt;

const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

type Route = (String, String);

fn documented() -> BTreeSet<Route> {
    let doc = serde_json::to_value(http::openapi()).expect("document serialises");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            routes.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    routes
}

fn access_table() -> BTreeSet<Route> {
    ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect()
}

#[test]
fn the_access_table_is_the_document_plus_the_document_itself() {
    let documented = documented();
    let table = access_table();
    let undocumented: Vec<&Route> = table.difference(&documented).collect();
    assert_eq!(
        undocumented,
        [&("GET".to_owned(), "/openapi.json".to_owned())],
        "routes with an access rule but no documentation"
    );
    let unguarded: Vec<&Route> = documented.difference(&table).collect();
    assert!(
        unguarded.is_empty(),
        "documented routes without an access rule: {unguarded:?}"
    );
}

#[test]
fn every_operation_states_the_permission_the_access_table_requires() {
    let doc = serde_json::to_value(http::openapi()).expect("document serialises");
    for rule in ROUTES.iter().filter(|r| r.path != "/openapi.json") {
        let op = &doc["paths"][rule.path][rule.method.as_str().to_ascii_lowercase()];
        let security = &op["security"];
        match rule.access {
            auth::Access::Public => assert!(
                security.is_null()
                    || security
                        .as_array()
                        .is_some_and(|s| s.iter().any(|r| r == &serde_json::json!({}))),
                "{} {} is public but documents {security}",
                rule.method,
                rule.path
            ),
            auth::Access::Authenticated => {
                assert_eq!(security, &serde_json::json!([{"oauth2": []}, {"admin_session": []}]))
            }
            auth::Access::Permission(p) => assert_eq!(
                security,
                &serde_json::json!([{"oauth2": [p.to_string()]}, {"admin_session": [p.to_string()]}]),
                "{} {}",
                rule.method,
                rule.path
            ),
            auth::Access::SignedInUser(p) => {
                assert_eq!(security, &serde_json::json!([{"admin_session": [p.to_string()]}]))
            }
            auth::Access::Person => assert_eq!(security, &serde_json::json!([{"admin_session": []}])),
        }
    }
}

fn scanning_keys() -> casebook_server::secret_scanning::ScanningKeys {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
    let der = pair.public_key().as_der().expect("der");
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let document = serde_json::json!({"public_keys": [{"key_identifier": "k", "key": pem, "is_current": true}]});
    casebook_server::secret_scanning::ScanningKeys::parse(&document.to_string()).expect("keys")
}

async fn app() -> (axum::Router, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("casebook-routes-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = Config {
        public_url: "http://127.0.0.1:0".into(),
        admin_email: Some("root@agency.org".into()),
        admin_password: Some("correct horse battery staple".into()),
        // Configured, so that its route answers (401 unsigned) rather than 404.
        secret_scanning: Some(scanning_keys()),
        ..Config::local(
            format!("sqlite://{}/casebook.db", dir.display()),
            MasterKey::from_base64(&MasterKey::generate_base64()).expect("key"),
        )
    };
    let state = casebook_server::prepare(config, TestOptions::default())
        .await
        .expect("state");
    (http::router(state), dir)
}

async fn status(router: &axum::Router, method: Method, path: &str) -> StatusCode {
    answer(router, method, path).await.status()
}

async fn answer(router: &axum::Router, method: Method, path: &str) -> axum::response::Response {
    let uri = path.replace("{id}", "some-id");
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    router.clone().oneshot(request).await.expect("infallible")
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_routes() {
    let (router, dir) = app().await;
    let table = access_table();
    let mut wrong = Vec::new();
    for (method, path) in &table {
        let method: Method = method.parse().expect("method");
        let got = status(&router, method.clone(), path).await;
        if got == StatusCode::NOT_FOUND || got == StatusCode::METHOD_NOT_ALLOWED {
            wrong.push(format!("{method} {path}: {got}, but it is documented"));
        }
    }
    let paths: BTreeSet<&str> = table.iter().map(|(_, p)| p.as_str()).collect();
    for path in paths {
        for method in METHODS {
            if table.contains(&(method.to_string(), path.to_owned())) {
                continue;
            }
            let got = answer(&router, method.clone(), path).await;
            let content_type = got.headers().get("content-type").and_then(|v| v.to_str().ok());
            if got.status() != StatusCode::METHOD_NOT_ALLOWED || content_type != Some("application/problem+json") {
                wrong.push(format!(
                    "{method} {path}: {} {content_type:?}, but it is not documented (405 problem+json expected)",
                    got.status()
                ));
            }
        }
    }
    // The pages outside the document, and nothing else.
    for (path, expected) in [
        ("/docs/", StatusCode::OK),
        ("/admin", StatusCode::OK),
        ("/admin/assets/console.js", StatusCode::OK),
        ("/docs", StatusCode::SEE_OTHER),
        ("/admin/v1", StatusCode::NOT_FOUND),
        ("/api/v1/engage", StatusCode::NOT_FOUND),
        ("/oauth2/authorize", StatusCode::NOT_FOUND),
        ("/api/v2/me", StatusCode::NOT_FOUND),
    ] {
        let got = status(&router, Method::GET, path).await;
        if got != expected {
            wrong.push(format!("GET {path}: {got}, expected {expected}"));
        }
        assert!(
            auth::is_undocumented_page(path) || got == StatusCode::NOT_FOUND || path == "/openapi.json",
            "{path} answers {got} but is neither documented nor a page"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A parameter documented in the wrong place is invisible to generated
/// clients: they would put `limit` in the path, or never send it at all.
#[test]
fn path_parameters_are_the_template_variables_and_the_rest_are_query_parameters() {
    let doc = serde_json::to_value(http::openapi()).expect("document serialises");
    let mut wrong = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().expect("path item") {
            let params = op["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
            let declared: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            if declared != template {
                wrong.push(format!(
                    "{method} {path}: path parameters {declared:?}, template {template:?}"
                ));
            }
            for param in params {
                let place = param["in"].as_str().unwrap_or_default();
                // Headers only where a shared layer reads them, described.
                let name = param["name"].as_str().unwrap_or_default();
                let known_header = place == "header"
                    && ["DPoP", "idempotency-key"].contains(&name)
                    && param["description"].as_str().is_some_and(|d| !d.is_empty());
                if !matches!(place, "path" | "query") && !known_header {
                    wrong.push(format!("{method} {path}: parameter {} in {place}", param["name"]));
                }
                if place == "query" && param["required"] == true {
                    wrong.push(format!(
                        "{method} {path}: query parameter {} is required",
                        param["name"]
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every link names an operation of the document and fills exactly that
/// operation's path parameters; every record a collection creates is linked.
#[test]
fn links_lead_from_a_created_record_to_its_operations() {
    let doc = serde_json::to_value(http::openapi()).expect("document serialises");
    let paths = doc["paths"].as_object().expect("paths");
    let mut by_id = std::collections::BTreeMap::new();
    for (path, item) in paths {
        for op in item.as_object().expect("path item").values() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    by_id.insert(id.to_owned(), path.clone()).is_none(),
                    "operationId {id} twice"
                );
            }
        }
    }
    let mut linked = BTreeSet::new();
    for (path, item) in paths {
        for op in item.as_object().expect("path item").values() {
            for response in op["responses"].as_object().expect("responses").values() {
                let Some(links) = response["links"].as_object() else {
                    continue;
                };
                for link in links.values() {
                    let target = link["operationId"].as_str().expect("operationId");
                    let target_path = by_id
                        .get(target)
                        .unwrap_or_else(|| panic!("{path}: no operation {target}"));
                    assert!(
                        target_path.starts_with(&format!("{path}/{{id}}")),
                        "{path} → {target_path}"
                    );
                    assert_eq!(link["parameters"], serde_json::json!({"id": "$response.body#/id"}));
                    linked.insert(target_path.clone());
                }
            }
        }
    }
    let records: BTreeSet<String> = paths.keys().filter(|p| p.contains("{id}")).cloned().collect();
    assert_eq!(linked, records, "record paths without a link from their collection");
}
