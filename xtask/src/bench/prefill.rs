//! Many applications inserted straight into the database.

use super::setup::ROLE_ID;
use casebook_domain::{ClientId, ClientSecret};
use casebook_server::crypto::{MasterKey, random_bytes};
use std::fmt::Write as _;

/// Inserts `apps` applications straight into a database the server under
/// test has already laid out and seeded (sealed and MAC'd with the server's
/// own crypto), returning the credentials of the first `keep`, spread evenly
/// over the table.
pub(super) async fn prefill(
    url: &str,
    master: &MasterKey,
    apps: usize,
    keep: usize,
) -> Result<Vec<(String, String)>, String> {
    use casebook_server::clock::{Clock, SystemClock};
    use casebook_server::db::new_id;
    let err = |e: sqlx::Error| format!("prefill: {e}");
    // A plain pool, not `Db::connect`: that would apply this tree's
    // migrations, which a `--binary` from another commit refuses to start on.
    let db = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(err)?;
    let every = (apps / keep.max(1)).max(1);
    let mut kept = Vec::with_capacity(keep);
    const BATCH: usize = 500;
    let now = SystemClock.now().unix_micros();
    let mut n = 0;
    while n < apps {
        let rows = BATCH.min(apps - n);
        let mut app_sql = String::from(
            "INSERT INTO applications (id, client_id, name, email, application_url, description, enabled, \
             created_at, updated_at) VALUES ",
        );
        let mut secret_sql = String::from(
            "INSERT INTO client_secrets (id, application_id, secret_ciphertext, secret_mac, created_at) VALUES ",
        );
        let mut email_sql = String::from("INSERT INTO account_emails (email, account_kind, account_id) VALUES ");
        let mut role_sql = String::from("INSERT INTO application_roles (application_id, role_id) VALUES ");
        let mut records = Vec::with_capacity(rows);
        for r in 0..rows {
            let i = n + r;
            let sep = if r == 0 { "" } else { ", " };
            let b = r * 6;
            let _ = write!(
                app_sql,
                "{sep}(${}, ${}, ${}, ${}, 'https://partner.example.com/', 'Load benchmark', 1, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            );
            let b = r * 4;
            let _ = write!(
                secret_sql,
                "{sep}(${}, ${}, ${}, ${}, {now})",
                b + 1,
                b + 2,
                b + 3,
                b + 4
            );
            let _ = write!(email_sql, "{sep}(${}, 'application', ${})", r * 2 + 1, r * 2 + 2);
            let _ = write!(role_sql, "{sep}(${}, '{ROLE_ID}')", r + 1);
            let id = new_id();
            let client_id = ClientId::from_random(random_bytes()).as_str().to_owned();
            let secret = ClientSecret::from_random(random_bytes());
            if i % every == 0 && kept.len() < keep {
                kept.push((client_id.clone(), secret.expose().to_owned()));
            }
            records.push((
                master.seal(secret.expose().as_bytes(), &id),
                master.secret_mac(secret.expose()).to_vec(),
                id,
                client_id,
                format!("bench-{i}@partners.example.com"),
            ));
        }
        let mut tx = db.begin().await.map_err(err)?;
        let mut query = sqlx::query(sqlx::AssertSqlSafe(app_sql));
        for (_, _, id, client_id, email) in &records {
            query = query
                .bind(id)
                .bind(client_id)
                .bind(format!("Bench partner {client_id}"))
                .bind(email)
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *tx).await.map_err(err)?;
        let mut query = sqlx::query(sqlx::AssertSqlSafe(secret_sql));
        for (sealed, mac, id, _, _) in &records {
            // One secret an application: its id may be the application's, as
            // the migration that introduced several secrets made them.
            query = query.bind(id).bind(id).bind(sealed.clone()).bind(mac.clone());
        }
        query.execute(&mut *tx).await.map_err(err)?;
        let mut query = sqlx::query(sqlx::AssertSqlSafe(email_sql));
        for (_, _, id, _, email) in &records {
            query = query.bind(email).bind(id);
        }
        query.execute(&mut *tx).await.map_err(err)?;
        let mut query = sqlx::query(sqlx::AssertSqlSafe(role_sql));
        for (_, _, id, _, _) in &records {
            query = query.bind(id);
        }
        query.execute(&mut *tx).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        n += rows;
    }
    db.close().await;
    Ok(kept)
}
