//! `CASEBOOK_LOG_FORMAT=json`: everything `casebook serve` writes is one
//! JSON object a line; every request is one line with its route template,
//! status, latency, client, principal and request id; and no secret, token
//! or password is anywhere in it.

use super::served::Served;
use casebook_server::config::Backend;
use casebook_tests::*;
use serde_json::{Value, json};
use std::collections::HashMap;

/// One request the test made: what its line must say.
#[derive(Debug)]
struct Sent {
    request_id: String,
    method: &'static str,
    route: &'static str,
    status: u16,
    principal: Option<(&'static str, String)>,
}

fn note(
    sent: &mut Vec<Sent>,
    r: &reqwest::Response,
    method: &'static str,
    route: &'static str,
    principal: Option<(&'static str, String)>,
) {
    let request_id = header(r, reqwest::header::HeaderName::from_static("x-request-id"));
    assert!(!request_id.is_empty(), "{route}: every answer carries X-Request-Id");
    sent.push(Sent {
        request_id,
        method,
        route,
        status: r.status().as_u16(),
        principal,
    });
}

async fn json_logs(backend: Backend) {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let served = Served::start(&binary, db, &[("CASEBOOK_LOG_FORMAT", "json")]).await;
    let http = reqwest::Client::new();
    let mut sent = Vec::new();
    // Sign-in, wrong then right.
    let wrong_password = "not the password at all";
    let r = http
        .post(served.url("/admin/v1/sessions"))
        .json(&json!({"email": ADMIN_EMAIL, "password": wrong_password}))
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "POST", "/admin/v1/sessions", None);
    assert_eq!(r.status(), 401);
    let r = http
        .post(served.url("/admin/v1/sessions"))
        .header("x-request-id", "sign-in-7")
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "POST", "/admin/v1/sessions", None);
    assert_eq!(
        header(&r, reqwest::header::HeaderName::from_static("x-request-id")),
        "sign-in-7"
    );
    let session = expect(r, 201).await["token"].as_str().unwrap().to_owned();

    // Admin: who am I, a role list, a registration, the reveal.
    let r = http
        .get(served.url("/api/v1/me"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    let me = r.json::<Value>().await.unwrap();
    let admin_id = me["id"].as_str().expect("admin id").to_owned();
    let user = || Some(("user", admin_id.clone()));
    let r = http
        .get(served.url("/api/v1/me"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "GET", "/api/v1/me", user());
    let r = http
        .post(served.url(APPS))
        .bearer_auth(&session)
        .json(&json!({"name": "Logged Partner", "email": "logged@partner.example.org", "roles": ["engage-supervisor"]}))
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "POST", APPS, user());
    let app = expect(r, 201).await;
    let app_id = id_of(&app);
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let r = http
        .get(served.url(&format!("{APPS}/{app_id}")))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "GET", "/admin/v1/external-applications/{id}", user());
    assert_eq!(r.status(), 200);
    let reveal = format!("{APPS}/{app_id}/client-secret/reveal");
    let r = http
        .post(served.url(&reveal))
        .bearer_auth(&session)
        .json(&json!({"password": wrong_password}))
        .send()
        .await
        .unwrap();
    note(
        &mut sent,
        &r,
        "POST",
        "/admin/v1/external-applications/{id}/client-secret/reveal",
        user(),
    );
    assert_eq!(r.status(), 403);
    let r = http
        .post(served.url(&reveal))
        .bearer_auth(&session)
        .json(&json!({"password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    note(
        &mut sent,
        &r,
        "POST",
        "/admin/v1/external-applications/{id}/client-secret/reveal",
        user(),
    );
    let reveal_id = sent.last().unwrap().request_id.clone();
    let secret = expect(r, 200).await["client_secret"].as_str().unwrap().to_owned();

    // The partner: a token (body, Basic, and the query string it must not
    // use), then the API.
    let r = http
        .post(served.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "POST", "/oauth2/token", None);
    let access_token = expect(r, 200).await["access_token"].as_str().unwrap().to_owned();
    let r = http
        .post(served.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "POST", "/oauth2/token", None);
    let second_token = expect(r, 200).await["access_token"].as_str().unwrap().to_owned();
    let r = http
        .post(served.url(&format!("/oauth2/token?client_id={client_id}&client_secret={secret}")))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "POST", "/oauth2/token", None);
    assert_eq!(r.status(), 400);
    let partner = || Some(("application", app_id.clone()));
    // An id too long to keep, and one with a space: both replaced.
    for bad_id in ["x".repeat(200), "two words".to_owned()] {
        let r = http
            .get(served.url("/api/v1/me"))
            .header("x-request-id", &bad_id)
            .bearer_auth(&access_token)
            .send()
            .await
            .unwrap();
        note(&mut sent, &r, "GET", "/api/v1/me", partner());
        assert_ne!(sent.last().unwrap().request_id, bad_id);
    }
    let r = http
        .post(served.url("/api/v1/engage/cases"))
        .bearer_auth(&access_token)
        .json(&json!({"title": "Referral from Logged Partner"}))
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "POST", "/api/v1/engage/cases", partner());
    let case = expect(r, 201).await;
    let r = http
        .get(served.url(&format!("/api/v1/engage/cases/{}", id_of(&case))))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "GET", "/api/v1/engage/cases/{id}", partner());
    // Refused by its permission: still the caller's line.
    let r = http
        .delete(served.url(&format!("/api/v1/engage/cases/{}", id_of(&case))))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "DELETE", "/api/v1/engage/cases/{id}", partner());
    assert_eq!(r.status(), 403);
    let r = http
        .get(served.url(&format!("/no/such/{app_id}")))
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "GET", "unmatched", None);
    // A caller's W3C trace goes on: its line names the trace.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = http
        .get(served.url("/api/v1/me"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    note(&mut sent, &r, "GET", "/api/v1/me", partner());
    let traced = sent.last().unwrap().request_id.clone();

    // Lines are written when the answer is ready, before it is sent: all
    // are on disk by now.
    let output = served.output();
    let mut by_id: HashMap<String, Vec<Value>> = HashMap::new();
    let mut lines = 0;
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        lines += 1;
        let object: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(object.is_object(), "{line}");
        assert!(object["timestamp"].is_string() && object["level"].is_string(), "{line}");
        if object["message"] == "request" {
            let id = object["request_id"].as_str().expect("request_id").to_owned();
            by_id.entry(id).or_default().push(object);
        }
    }
    assert!(lines > sent.len(), "startup lines and request lines: {output}");
    for request in &sent {
        let found = by_id
            .get(&request.request_id)
            .unwrap_or_else(|| panic!("no line for {request:?}"));
        assert_eq!(found.len(), 1, "logged exactly once: {request:?} {found:#?}");
        let line = &found[0];
        assert_eq!(line["method"], request.method, "{line}");
        assert_eq!(line["route"], request.route, "the template, never the path: {line}");
        assert_eq!(line["status"], request.status, "{line}");
        assert!(line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
        assert_eq!(line["client"], "127.0.0.1", "{line}");
        match &request.principal {
            Some((kind, id)) => {
                assert_eq!(line["principal_kind"], *kind, "{line}");
                assert_eq!(line["principal_id"], id.as_str(), "{line}");
            }
            None => {
                assert!(
                    line.get("principal_kind").is_none() && line.get("principal_id").is_none(),
                    "{line}"
                );
            }
        }
    }
    assert_eq!(by_id[&traced][0]["trace_id"], trace_id, "{:?}", by_id[&traced]);
    let untraced = &sent[0].request_id;
    assert!(by_id[untraced][0].get("trace_id").is_none(), "{:?}", by_id[untraced]);
    // What a handler logs carries its request's id.
    let revealed = output
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["message"] == "client secret revealed")
        .expect("the reveal is logged");
    assert_eq!(revealed["span"]["request_id"], reveal_id.as_str(), "{revealed}");

    for (what, value) in [
        ("the client secret", secret.as_str()),
        ("an access token", access_token.as_str()),
        ("an access token", second_token.as_str()),
        ("the session token", session.as_str()),
        ("the admin password", ADMIN_PASSWORD),
        ("a wrong password", wrong_password),
    ] {
        assert!(!output.contains(value), "{what} is in the logs");
    }
    // Nor is any part of a token: its signature alone would do.
    let signature = access_token.rsplit('.').next().unwrap();
    assert!(!output.contains(signature), "a token's signature is in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_on_sqlite() {
    json_logs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_on_postgres() {
    json_logs(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_log_format_stops_the_start_and_names_the_variable() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let output = casebook_command(&binary)
        .arg("serve")
        .env("CASEBOOK_ADDR", "127.0.0.1:0")
        .env("CASEBOOK_DATABASE_URL", &db.url)
        .env("CASEBOOK_LOG_FORMAT", "yaml")
        .output()
        .expect("run casebook serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("CASEBOOK_LOG_FORMAT") && stderr.contains("\"yaml\""),
        "{stderr}"
    );
    assert!(!db.sqlite_file().unwrap().exists(), "nothing was started");
}
