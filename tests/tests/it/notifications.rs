//! Alerts to an application's address go through the outbox: written with
//! the change, delivered afterwards, retried, and never undoing the change.

use casebook_server::TestOptions;
use casebook_server::db::col;
use casebook_server::notify::{self, Mailer};
use casebook_tests::{ADMIN_PASSWORD, Spawn, TestApp, both_backends};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub(crate) async fn outbox(app: &TestApp) -> Vec<(String, String, String, Option<i64>, i64)> {
    let rows = sqlx::query("SELECT recipient, subject, body, delivered_at, attempts FROM outbox ORDER BY id")
        .fetch_all(app.running.state.db().pool())
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                col(r, "recipient").unwrap(),
                col(r, "subject").unwrap(),
                col(r, "body").unwrap(),
                col(r, "delivered_at").unwrap(),
                col(r, "attempts").unwrap(),
            )
        })
        .collect()
}

/// A minimal SMTP relay on loopback that records every message's DATA.
pub(crate) async fn fake_relay() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 relay.test ESMTP\r\n").await.ok()?;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            tx.send(std::mem::take(body)).ok();
                            data = None;
                            write.write_all(b"250 queued\r\n").await.ok()?;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 relay.test\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.ok()?;
                            return Some(());
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.ok()?;
                }
                Some(())
            });
        }
    });
    (port, rx)
}

/// These tests drive delivery themselves, so the server's own loop is off.
pub(crate) fn without_delivery() -> Spawn {
    Spawn {
        options: TestOptions {
            deliver_notifications: false,
            ..TestOptions::default()
        },
        ..Spawn::default()
    }
}

both_backends!(
    every_alert_is_queued_with_its_change_and_delivered,
    spawn = without_delivery(),
    alerts_are_queued_and_delivered
);
both_backends!(
    a_failing_relay_is_retried_and_never_undoes_the_change,
    spawn = without_delivery(),
    failed_delivery_is_retried
);

async fn alerts_are_queued_and_delivered(app: TestApp) {
    let admin = app.admin_token().await;
    let (view, _, secret) = app.partner(&admin, "Alerted Partner", &["engage-worker"]).await;
    let id = view["id"].as_str().unwrap();
    let rotate = app
        .post_json(
            &format!("/admin/v1/external-applications/{id}/client-secret/rotate"),
            &admin,
            &json!({"password": ADMIN_PASSWORD, "grace_period_seconds": 60}),
        )
        .await;
    assert_eq!(rotate.status(), 200);
    let rotated: serde_json::Value = rotate.json().await.unwrap();
    let disable = app
        .patch_json(
            &format!("/admin/v1/external-applications/{id}"),
            &admin,
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(disable.status(), 200);
    assert_eq!(
        app.delete(&format!("/admin/v1/external-applications/{id}"), &admin)
            .await
            .status(),
        204
    );

    let queued = outbox(&app).await;
    let subjects: Vec<&str> = queued.iter().map(|q| q.1.as_str()).collect();
    assert_eq!(queued.len(), 5, "{subjects:?}");
    for (fragment, (recipient, subject, body, _, _)) in [
        "is registered",
        "was viewed",
        "was rotated",
        "was disabled",
        "was removed",
    ]
    .iter()
    .zip(&queued)
    {
        assert_eq!(recipient, "alerted-partner@partner.example.org");
        assert!(
            subject.contains(fragment) && subject.contains("Alerted Partner"),
            "{subject}"
        );
        assert!(
            !body.contains(&secret) && !body.contains(rotated["client_secret"].as_str().unwrap()),
            "a secret in {body}"
        );
    }

    // Delivery through a relay on loopback.
    let (port, mut received) = fake_relay().await;
    let mailer = Mailer::from_url(Some(&format!("smtp://127.0.0.1:{port}")), None, &[]).unwrap();
    let delivered = deliver(&app, &mailer).await.unwrap();
    assert_eq!(delivered, 5);
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), received.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(first.contains("Alerted Partner"), "{first}");
    assert!(outbox(&app).await.iter().all(|q| q.3.is_some() && q.4 == 1));
    // Nothing is sent twice.
    assert_eq!(deliver(&app, &mailer).await.unwrap(), 0);
}

pub(crate) async fn deliver(app: &TestApp, mailer: &Mailer) -> Result<usize, sqlx::Error> {
    let state = &app.running.state;
    notify::deliver_due(
        state.db(),
        state.master(),
        mailer,
        &state.metrics().outbox_delivery_failures,
    )
    .await
}

async fn failed_delivery_is_retried(app: TestApp) {
    let admin = app.admin_token().await;
    let (view, client_id, secret) = app.partner(&admin, "Unlucky Partner", &["engage-worker"]).await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer = Mailer::from_url(Some(&format!("smtp://127.0.0.1:{closed}")), None, &[]).unwrap();
    assert_eq!(deliver(&app, &mailer).await.unwrap(), 0);
    let queued = outbox(&app).await;
    assert!(queued.iter().all(|q| q.3.is_none() && q.4 == 1), "{queued:?}");
    let failed = queued.len() as f64;
    assert!(failed > 0.0);
    assert_eq!(app.metric("casebook_outbox_delivery_failures_total").await, failed);
    assert_eq!(
        app.metric("casebook_outbox_depth").await,
        failed,
        "failed notices are still to be sent"
    );
    // The registration stands and the application works.
    let r = app
        .get(
            &format!("/admin/v1/external-applications/{}", view["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(r.status(), 200);
    app.access_token(&client_id, &secret).await;
    // Not due again before its backoff.
    assert_eq!(deliver(&app, &Mailer::Log).await.unwrap(), 0);
}
