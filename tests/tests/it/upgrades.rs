//! Rolling upgrades (the contract's "Upgrades and key custody"): a binary
//! keeps serving on a database a newer release migrated, and says it is not
//! ready, naming both versions, when that release's schema needs more than
//! it knows; ready means the database can be written.

use casebook_server::db::{Db, newest_known};
use casebook_tests::{TestApp, both_backends};

async fn readyz(app: &TestApp) -> (u16, String) {
    let r = app.http.get(app.url("/readyz")).send().await.expect("send");
    (r.status().as_u16(), r.text().await.expect("text"))
}

both_backends!(
    a_newer_releases_migration_is_served_until_its_schema_needs_more,
    |app: TestApp| async move {
        assert_eq!(readyz(&app).await, (200, "ready".to_owned()));
        let db: &Db = app.running.state.db();
        let knows = newest_known(db.backend());
        // What a newer release's migration leaves: a row this binary does
        // not know and a table it never reads.
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, 'from_a_newer_release', TRUE, $2, 1)",
        )
        .bind(knows + 1)
        .bind(vec![0u8; 48])
        .execute(db.pool())
        .await
        .expect("a newer migration recorded");
        sqlx::query("CREATE TABLE from_a_newer_release (id BIGINT PRIMARY KEY)")
            .execute(db.pool())
            .await
            .expect("a newer table");
        // A replica of this release starting now migrates nothing and serves.
        let replica = app.replica().await;
        assert_eq!(readyz(&replica).await, (200, "ready".to_owned()));
        let admin = replica.admin_token().await;
        assert_eq!(
            replica.get("/admin/v1/external-applications", &admin).await.status(),
            200
        );

        // A release after it drops what this one reads and says so.
        sqlx::query("UPDATE schema_compat SET oldest_reader = $1 WHERE id = 1")
            .bind(knows + 1)
            .execute(db.pool())
            .await
            .expect("the floor raised");
        let (status, why) = readyz(&replica).await;
        assert_eq!(status, 503, "{why}");
        assert!(
            why.contains(&format!("migration {}", knows + 1)) && why.contains(&format!("up to {knows}")),
            "{why}"
        );
        assert!(why.contains(casebook_server::build_info::VERSION), "{why}");
    }
);
