//! Webhooks (the contract, "Webhooks"): the audit trail delivered, signed,
//! to an HTTPS receiver on loopback under the test CA. Signatures are
//! checked here with aws-lc-rs's HMAC, apart from the server's code; CI
//! checks them again with the `standardwebhooks` library (`.ci/webhooks.sh`).

use crate::key_host::{ca_file, tls_acceptor};
use base64::Engine;
use casebook_tests::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request the receiver took.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Script {
    /// Statuses to answer each path with, in turn; the last repeats.
    answers: HashMap<String, Vec<u16>>,
    received: Vec<Received>,
}

struct Receiver {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start() -> Self {
        let acceptor = tls_acceptor();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = script.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, script) = (acceptor.clone(), shared.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        take(tls, script).await;
                    }
                });
            }
        });
        Self { addr, script, task }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    fn answer(&self, path: &str, statuses: &[u16]) {
        self.script
            .lock()
            .unwrap()
            .answers
            .insert(path.to_owned(), statuses.to_vec());
    }

    fn received(&self, path: &str) -> Vec<Received> {
        let script = self.script.lock().unwrap();
        script.received.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits up to 15 s for `path` to have taken `count` requests.
    async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        for _ in 0..150 {
            let got = self.received(path);
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{path}: {} request(s), not {count}", self.received(path).len());
    }
}

async fn take(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, script: Arc<Mutex<Script>>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match tls.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while data.len() < head_end + length {
        match tls.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let body = data[head_end..head_end + length].to_vec();
    let status = {
        let mut script = script.lock().unwrap();
        let status = match script.answers.get_mut(&path) {
            Some(list) if list.len() > 1 => list.remove(0),
            Some(list) => list.first().copied().unwrap_or(204),
            None => 404,
        };
        script.received.push(Received { path, headers, body });
        status
    };
    // 0 holds the request for 3 s, then takes it: a delivery in flight.
    let status = if status == 0 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        200
    } else {
        status
    };
    let extra = if status == 302 { "location: /elsewhere\r\n" } else { "" };
    let response = format!("HTTP/1.1 {status} X\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n");
    let _ = tls.write_all(response.as_bytes()).await;
    let _ = tls.shutdown().await;
}

/// Standard Webhooks' check, written from the specification.
fn verify(secret: &str, received: &Received) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.strip_prefix("whsec_").expect("whsec_"))
        .expect("base64 key");
    let id = &received.headers["webhook-id"];
    let timestamp = &received.headers["webhook-timestamp"];
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(&received.body);
    let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key), &content);
    let expected = format!("v1,{}", b64.encode(tag.as_ref()));
    let signatures = &received.headers["webhook-signature"];
    assert!(
        signatures.split(' ').any(|s| s == expected),
        "signature {signatures} is not {expected}"
    );
    assert_eq!(received.headers["content-type"], "application/json");
    serde_json::from_slice(&received.body).expect("a JSON body")
}

fn receiving() -> Spawn {
    Spawn {
        allow_private_webhook_urls: true,
        ..Spawn::trusting_ca(ca_file(), false)
    }
}

fn receiving_on_a_manual_clock() -> Spawn {
    let clocked = Spawn::with_manual_clock();
    Spawn {
        options: clocked.options,
        clock: clocked.clock,
        ..receiving()
    }
}

async fn add_webhook(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let created = expect(
        app.post_json("/admin/v1/webhooks", admin, &json!({"url": url, "events": events}))
            .await,
        201,
    )
    .await;
    (id_of(&created), created["secret"].as_str().expect("secret").to_owned())
}

async fn deliveries(app: &TestApp, admin: &str, webhook: &str) -> Vec<Value> {
    let page = expect(
        app.get(&format!("/admin/v1/webhooks/{webhook}/deliveries"), admin)
            .await,
        200,
    )
    .await;
    page["items"].as_array().expect("items").clone()
}

both_backends!(
    delivered_signed_and_only_what_was_asked_for,
    spawn = receiving(),
    |app: TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.answer("/hook", &[204]);
        let admin = app.admin_token().await;
        let created = expect(
            app.post_json(
                "/admin/v1/webhooks",
                &admin,
                &json!({"url": receiver.url("/hook"), "events": ["role.*"], "description": "SIEM"}),
            )
            .await,
            201,
        )
        .await;
        let secret = created["secret"].as_str().expect("secret").to_owned();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(created["events"], json!(["role.*"]));
        assert_eq!(created["enabled"], json!(true));
        let id = id_of(&created);
        // The secret is shown once.
        let shown = expect(app.get(&format!("/admin/v1/webhooks/{id}"), &admin).await, 200).await;
        assert!(shown.get("secret").is_none(), "{shown}");
        let listed = expect(app.get("/admin/v1/webhooks", &admin).await, 200).await;
        assert!(!listed.to_string().contains(&secret));

        app.create_user(&admin, "not-sent@agency.org", "Not Sent", &[]).await;
        let role = app.create_role(&admin, "Webhook readers", &["engage:view"]).await;
        let got = receiver.wait_for("/hook", 1).await;
        let body = verify(&secret, &got[0]);
        assert_eq!(body["type"], "role.created");
        assert_eq!(body["data"]["action"], "role.created");
        assert_eq!(body["data"]["target_id"], role["id"]);
        assert_eq!(body["data"]["id"].as_str(), Some(got[0].headers["webhook-id"].as_str()));
        assert_eq!(body["data"]["tenant"], "root");
        assert!(body["timestamp"].is_string());

        // The event as the audit API shows it, field for field.
        let trail = expect(app.get("/admin/v1/audit-events?action=role.created", &admin).await, 200).await;
        assert_eq!(body["data"], trail["items"][0]);

        let listed = deliveries(&app, &admin, &id).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["status"], "delivered");
        assert_eq!(listed[0]["attempts"], 1);
        assert_eq!(listed[0]["response_status"], 204);
        assert_eq!(
            app.metric("casebook_webhook_deliveries_total{outcome=\"delivered\"}")
                .await,
            1.0
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.received("/hook").len(), 1, "user.created is not asked for");

        // Changing and removing are audited; a disabled endpoint gets nothing new.
        expect(
            app.patch_json(&format!("/admin/v1/webhooks/{id}"), &admin, &json!({"enabled": false}))
                .await,
            200,
        )
        .await;
        app.create_role(&admin, "Not delivered", &["engage:view"]).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.received("/hook").len(), 1);
        expect(app.delete(&format!("/admin/v1/webhooks/{id}"), &admin).await, 204).await;
        let trail = expect(app.get("/admin/v1/audit-events?action=webhook.", &admin).await, 200).await;
        let actions: Vec<&str> = trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["webhook.deleted", "webhook.changed", "webhook.created"]);
        assert!(!trail.to_string().contains(&secret));
    }
);

both_backends!(
    retried_after_failures_and_on_request,
    spawn = receiving_on_a_manual_clock(),
    |app: TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.answer("/flaky", &[500, 503, 200]);
        let admin = app.admin_token().await;
        let (id, secret) = add_webhook(&app, &admin, &receiver.url("/flaky"), &["role.created"]).await;
        app.create_role(&admin, "Retried", &["engage:view"]).await;
        receiver.wait_for("/flaky", 1).await;
        // Recorded once the answer is in.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listed = deliveries(&app, &admin, &id).await;
        assert_eq!(listed[0]["status"], "pending");
        assert_eq!(listed[0]["response_status"], 500);
        assert_eq!(listed[0]["attempts"], 1);
        // Not before its time.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(receiver.received("/flaky").len(), 1);
        app.advance_clock(Duration::from_secs(6));
        receiver.wait_for("/flaky", 2).await;
        app.advance_clock(Duration::from_secs(31));
        let got = receiver.wait_for("/flaky", 3).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listed = deliveries(&app, &admin, &id).await;
        assert_eq!(listed[0]["status"], "delivered", "{listed:?}");
        assert_eq!(listed[0]["attempts"], 3);
        // The same message every time: one id, each attempt signed anew.
        let ids: Vec<&str> = got.iter().map(|r| r.headers["webhook-id"].as_str()).collect();
        assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
        for r in &got {
            verify(&secret, r);
        }
        // Sent again on request, with the same id.
        let delivery = listed[0]["id"].as_str().unwrap();
        let retried = expect(
            app.post_json(
                &format!("/admin/v1/webhooks/{id}/deliveries/{delivery}/retry"),
                &admin,
                &json!({}),
            )
            .await,
            202,
        )
        .await;
        assert_eq!(retried["status"], "pending");
        let got = receiver.wait_for("/flaky", 4).await;
        assert_eq!(got[3].headers["webhook-id"], ids[0]);
        let missing = app
            .post_json(
                &format!("/admin/v1/webhooks/{id}/deliveries/0190a000-0000-7000-8000-000000000000/retry"),
                &admin,
                &json!({}),
            )
            .await;
        assert_eq!(missing.status(), 404);
    }
);

both_backends!(
    each_event_once_per_endpoint_with_two_replicas,
    spawn = receiving(),
    |app: TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.answer("/a", &[200]);
        receiver.answer("/b", &[200]);
        let other = app.replica().await;
        let admin = app.admin_token().await;
        add_webhook(&app, &admin, &receiver.url("/a"), &["role.created"]).await;
        add_webhook(&app, &admin, &receiver.url("/b"), &["role.*"]).await;
        for i in 0..30 {
            // Half the events through each replica.
            let at = if i % 2 == 0 { &app } else { &other };
            at.create_role(&admin, &format!("Replicated {i}"), &["engage:view"])
                .await;
        }
        for path in ["/a", "/b"] {
            receiver.wait_for(path, 30).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        for path in ["/a", "/b"] {
            let got = receiver.received(path);
            let mut ids: Vec<&str> = got.iter().map(|r| r.headers["webhook-id"].as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!((got.len(), ids.len()), (30, 30), "{path}");
        }
        drop(other);
    }
);

both_backends!(
    nothing_for_another_tenant,
    spawn = receiving(),
    |app: TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.answer("/root", &[200]);
        receiver.answer("/other", &[200]);
        let admin = app.admin_token().await;
        let (root_hook, _) = add_webhook(&app, &admin, &receiver.url("/root"), &["*"]).await;
        let (other, other_admin, _) = app.create_tenant(&admin, "other-agency", "admin@other.example").await;
        let (other_hook, _) = add_webhook(&other, &other_admin, &receiver.url("/other"), &["role.*"]).await;
        other.create_role(&other_admin, "Theirs", &["engage:view"]).await;
        receiver.wait_for("/other", 1).await;
        app.create_role(&admin, "Ours", &["engage:view"]).await;
        let got = receiver.wait_for("/root", 3).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for r in receiver.received("/root") {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["data"]["tenant"], "root", "{body}");
            assert_ne!(body["data"]["target_name"], "Theirs");
        }
        assert!(got.len() >= 3);
        for r in receiver.received("/other") {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["data"]["tenant"], "other-agency", "{body}");
        }
        // Neither tenant sees the other's endpoint.
        assert_eq!(
            other
                .get(&format!("/admin/v1/webhooks/{root_hook}"), &other_admin)
                .await
                .status(),
            404
        );
        assert_eq!(
            app.get(&format!("/admin/v1/webhooks/{other_hook}/deliveries"), &admin)
                .await
                .status(),
            404
        );
    }
);

both_backends!(
    redirects_are_not_followed,
    spawn = receiving(),
    |app: TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.answer("/moved", &[302]);
        receiver.answer("/elsewhere", &[200]);
        let admin = app.admin_token().await;
        let (id, _) = add_webhook(&app, &admin, &receiver.url("/moved"), &["role.created"]).await;
        app.create_role(&admin, "Redirected", &["engage:view"]).await;
        receiver.wait_for("/moved", 1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(receiver.received("/elsewhere").is_empty());
        let listed = deliveries(&app, &admin, &id).await;
        assert_eq!(listed[0]["status"], "pending");
        assert_eq!(listed[0]["response_status"], 302);
        assert!(
            listed[0]["last_error"].as_str().unwrap().contains("redirect"),
            "{listed:?}"
        );
        assert!(
            app.metric("casebook_webhook_deliveries_total{outcome=\"failed\"}")
                .await
                >= 1.0
        );
        // The gauge is read every 5 s: the redirected delivery still waits.
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(app.metric("casebook_webhook_queue_depth").await >= 1.0);
    }
);

both_backends!(
    private_addresses_are_refused_when_registered_and_when_sent,
    spawn = Spawn::trusting_ca(ca_file(), false),
    |app: TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.answer("/hook", &[200]);
        let admin = app.admin_token().await;
        for (url, code) in [
            (receiver.url("/hook"), "private_address"),
            ("https://10.0.0.7/hook".to_owned(), "private_address"),
            ("https://[::1]/hook".to_owned(), "private_address"),
            ("http://siem.example.org/hook".to_owned(), "invalid_url"),
            ("https://user:pw@siem.example.org/hook".to_owned(), "invalid_url"),
        ] {
            let refused = problem(
                app.post_json("/admin/v1/webhooks", &admin, &json!({"url": url, "events": ["*"]}))
                    .await,
                422,
            )
            .await;
            assert_eq!(field_codes(&refused), pairs(&[("url", code)]), "{url}");
        }
        let bad_events = problem(
            app.post_json(
                "/admin/v1/webhooks",
                &admin,
                &json!({"url": "https://siem.example.org/", "events": ["role"]}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(field_codes(&bad_events), pairs(&[("events", "invalid_value")]));
        // A name is judged by what it resolves to, when a delivery is sent.
        let (id, _) = add_webhook(
            &app,
            &admin,
            &format!("https://localhost:{}/hook", receiver.addr.port()),
            &["role.created"],
        )
        .await;
        app.create_role(&admin, "Never sent", &["engage:view"]).await;
        let mut listed = Vec::new();
        for _ in 0..50 {
            listed = deliveries(&app, &admin, &id).await;
            if listed.first().is_some_and(|d| d["attempts"] == 1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(listed[0]["attempts"], 1, "{listed:?}");
        assert!(
            listed[0]["last_error"].as_str().unwrap().contains("no public address"),
            "{listed:?}"
        );
        assert!(receiver.received("/hook").is_empty());
    }
);

both_backends!(
    only_a_signed_in_person_with_view_and_edit_may_add_or_change_one,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let both = app
            .create_role(&admin, "Hook admins", &["admin:view", "admin:edit"])
            .await;
        let (_, client_id, secret) = app.partner(&admin, "Automation", &[both["id"].as_str().unwrap()]).await;
        let token = app.access_token(&client_id, &secret).await;
        let form = json!({"url": "https://siem.example.org/hook", "events": ["*"]});
        problem(app.post_json("/admin/v1/webhooks", &token, &form).await, 403).await;
        let edit_only = app.create_role(&admin, "Editors", &["admin:edit"]).await;
        app.create_user(
            &admin,
            "editor@agency.org",
            "Editor",
            &[edit_only["id"].as_str().unwrap()],
        )
        .await;
        let editor = app.sign_in("editor@agency.org", USER_PASSWORD).await;
        let refused = problem(app.post_json("/admin/v1/webhooks", &editor, &form).await, 403).await;
        assert!(refused["detail"].as_str().unwrap().contains("admin:view"), "{refused}");
        let (id, _) = add_webhook(&app, &admin, "https://siem.example.org/hook", &["*"]).await;
        // The application may read them; it may not change or remove one.
        expect(app.get("/admin/v1/webhooks", &token).await, 200).await;
        problem(
            app.patch_json(&format!("/admin/v1/webhooks/{id}"), &token, &json!({"enabled": false}))
                .await,
            403,
        )
        .await;
        problem(app.delete(&format!("/admin/v1/webhooks/{id}"), &token).await, 403).await;
    }
);

both_backends!(
    a_delivery_in_flight_is_not_sent_again_at_once_and_only_a_person_may_retry_one,
    spawn = receiving(),
    |app: TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.answer("/slow", &[0, 200]);
        let admin = app.admin_token().await;
        let (id, _) = add_webhook(&app, &admin, &receiver.url("/slow"), &["role.created"]).await;
        let role = app.create_role(&admin, "Held", &["engage:view"]).await;
        receiver.wait_for("/slow", 1).await;
        let listed = deliveries(&app, &admin, &id).await;
        let delivery = listed[0]["id"].as_str().unwrap().to_owned();
        let retry = format!("/admin/v1/webhooks/{id}/deliveries/{delivery}/retry");
        // Held by the replica sending it: a retry now would send it twice at once.
        problem(app.post_json(&retry, &admin, &json!({})).await, 409).await;
        // An application holding admin:edit may not ask either.
        let edit = app.create_role(&admin, "Retriers", &["admin:view", "admin:edit"]).await;
        let (_, client_id, secret) = app.partner(&admin, "Retrier", &[edit["id"].as_str().unwrap()]).await;
        let token = app.access_token(&client_id, &secret).await;
        problem(app.post_json(&retry, &token, &json!({})).await, 403).await;
        // Once the attempt has ended, it may be sent again.
        for _ in 0..100 {
            if deliveries(&app, &admin, &id).await[0]["status"] == "delivered" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        expect(app.post_json(&retry, &admin, &json!({})).await, 202).await;
        receiver.wait_for("/slow", 2).await;
        assert!(role["id"].is_string());
    }
);
