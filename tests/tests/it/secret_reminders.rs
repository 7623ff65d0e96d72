//! Expiry reminders reach every secret that is due, however many others
//! are waiting for a later reminder or are due at the same moment.

use crate::notifications::{outbox, without_delivery};
use casebook_domain::secret_lifecycle::SecretPolicy;
use casebook_server::store;
use casebook_tests::{Spawn, TestApp, both_backends};
use sha2::{Digest, Sha256};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn reminders_by_hand() -> Spawn {
    let mut spawn = Spawn::with_manual_clock();
    spawn.options.deliver_notifications = without_delivery().options.deliver_notifications;
    spawn
}

/// Stores secrets straight away, past the 5-secret cap the API keeps: the
/// reminders are what is tested, and hundreds of applications would only
/// slow the test down. Each expires at `expires_at` having had reminder
/// `stage`.
async fn store_secrets(app: &TestApp, application_id: &str, ids: &[String], expires_at: i64, stage: i64) {
    let db = app.running.state.db();
    let created_at = app.running.state.now().unix_micros();
    let mut tx = db.pool().begin().await.unwrap();
    for id in ids {
        sqlx::query(
            "INSERT INTO client_secrets (id, application_id, label, secret_ciphertext, secret_mac, created_at, expires_at, reminder_stage) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(application_id)
        .bind(id)
        .bind(Vec::<u8>::new())
        .bind(Sha256::digest(id.as_bytes()).to_vec())
        .bind(created_at)
        .bind(expires_at)
        .bind(stage)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn reminders_for(app: &TestApp, label_prefix: &str) -> usize {
    outbox(app)
        .await
        .iter()
        .filter(|(_, subject, body, ..)| subject.contains("client secret") && body.contains(label_prefix))
        .count()
}

both_backends!(
    no_reminder_waits_behind_a_full_batch,
    spawn = reminders_by_hand(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, _, _) = app.partner(&admin, "Crowded Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let now = app.running.state.now();
        let in_20_days = now.saturating_add(20 * DAY).unix_micros();
        // More secrets than one batch, older (by id) than the next one, each
        // already told of the 30-day mark and waiting for the 7-day one.
        let waiting: Vec<String> = (0..store::REMINDER_BATCH)
            .map(|n| format!("0-waiting-{n:04}"))
            .collect();
        store_secrets(&app, app_id, &waiting, in_20_days, 1).await;
        let due: Vec<String> = (0..3).map(|n| format!("z-due-{n}")).collect();
        store_secrets(&app, app_id, &due, in_20_days, 0).await;

        let db = app.running.state.db();
        let policy = SecretPolicy::default();
        assert_eq!(store::send_expiry_reminders(db, &policy).await.unwrap(), 3);
        assert_eq!(reminders_for(&app, "z-due-").await, 3);
        assert_eq!(store::send_expiry_reminders(db, &policy).await.unwrap(), 0);

        // Now every one of them is due at once: more than a batch, all sent.
        app.advance_clock(14 * DAY);
        let all = store::REMINDER_BATCH + 3;
        assert_eq!(store::send_expiry_reminders(db, &policy).await.unwrap(), all);
        assert_eq!(reminders_for(&app, "-waiting-").await, store::REMINDER_BATCH);
        assert_eq!(reminders_for(&app, "z-due-").await, 6);
        assert_eq!(store::send_expiry_reminders(db, &policy).await.unwrap(), 0);
    }
);

both_backends!(
    small_batches_reach_every_due_secret,
    spawn = reminders_by_hand(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, _, _) = app.partner(&admin, "Batched Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let now = app.running.state.now();
        let in_20_days = now.saturating_add(20 * DAY).unix_micros();
        let waiting: Vec<String> = (0..7).map(|n| format!("0-waiting-{n}")).collect();
        store_secrets(&app, app_id, &waiting, in_20_days, 1).await;
        let due: Vec<String> = (0..10).map(|n| format!("z-due-{n}")).collect();
        store_secrets(&app, app_id, &due, in_20_days, 0).await;
        let db = app.running.state.db();
        let policy = SecretPolicy::default();
        assert_eq!(
            store::send_expiry_reminders_in_batches(db, &policy, 3).await.unwrap(),
            10
        );
        assert_eq!(
            store::send_expiry_reminders_in_batches(db, &policy, 3).await.unwrap(),
            0
        );
        app.advance_clock(14 * DAY);
        assert_eq!(
            store::send_expiry_reminders_in_batches(db, &policy, 3).await.unwrap(),
            17
        );
        assert_eq!(reminders_for(&app, "-waiting-").await, 7);
        assert_eq!(reminders_for(&app, "z-due-").await, 20);
    }
);
