//! `casebook check`: one line per finding, exit 1 on any error, and the
//! database left as it was found.

use casebook_server::config::Backend;
use casebook_server::crypto::MasterKey;
use casebook_tests::*;

/// What a run printed: whether it exited 0, and its lines.
#[derive(Debug)]
struct Report {
    clean: bool,
    code: Option<i32>,
    lines: Vec<String>,
}

impl Report {
    fn errors(&self) -> Vec<&str> {
        self.lines.iter().filter_map(|l| l.strip_prefix("error: ")).collect()
    }

    /// Exit status 1 and exactly one error line, which contains `needle`.
    fn one_error(&self, needle: &str) -> &str {
        assert_eq!(self.code, Some(1), "{self:#?}");
        let errors = self.errors();
        assert_eq!(errors.len(), 1, "{self:#?}");
        assert!(errors[0].contains(needle), "{needle:?} in {self:#?}");
        errors[0]
    }
}

async fn check(vars: &[(&str, &str)]) -> Option<Report> {
    let binary = casebook_binary()?;
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let output = tokio::task::spawn_blocking(move || {
        casebook_command(&binary)
            .arg("check")
            .envs(vars)
            .output()
            .expect("run casebook check")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    for line in &lines {
        assert!(
            line.starts_with("ok: ") || line.starts_with("error: "),
            "every line is a finding: {line:?}"
        );
    }
    assert!(
        output.stderr.is_empty(),
        "nothing on stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(Report {
        clean: output.status.success(),
        code: output.status.code(),
        lines,
    })
}

/// The variables of the install `app` is.
fn install(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("CASEBOOK_DATABASE_URL", app.db.url.clone()),
        ("CASEBOOK_MASTER_KEY", app.master_key.clone()),
        ("CASEBOOK_PUBLIC_URL", app.base_url.clone()),
    ]
}

fn with<'a>(base: &'a [(&'static str, String)], changes: &[(&'static str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars: Vec<(&str, &str)> = base
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    vars.extend(changes.iter().filter(|(_, v)| !v.is_empty()).copied());
    vars
}

both_backends!(a_clean_install_checks_clean, |app: TestApp| async move {
    let Some(report) = check(&with(&install(&app), &[])).await else {
        return;
    };
    assert!(report.clean, "{report:#?}");
    assert!(report.errors().is_empty(), "{report:#?}");
    for expected in ["reachable", "migrations: all", "the master key opens"] {
        assert!(
            report.lines.iter().any(|l| l.contains(expected)),
            "{expected:?} in {report:#?}"
        );
    }
});

both_backends!(
    a_master_key_that_is_missing_or_wrong_is_reported,
    |app: TestApp| async move {
        let vars = install(&app);
        let other = MasterKey::generate_base64();
        let Some(wrong) = check(&with(&vars, &[("CASEBOOK_MASTER_KEY", &other)])).await else {
            return;
        };
        wrong.one_error("does not open 1 of 1 stored signing keys");

        let missing = check(&with(&vars, &[("CASEBOOK_MASTER_KEY", "")])).await.unwrap();
        match app.db.backend {
            Backend::Sqlite => {
                missing.one_error("no master key");
                let key_file = casebook_server::config::master_key_file(&app.db.url);
                assert!(!key_file.exists(), "check made a key file");
            }
            Backend::Postgres => {
                missing.one_error("CASEBOOK_MASTER_KEY is required with PostgreSQL");
            }
        }

        let malformed = check(&with(&vars, &[("CASEBOOK_MASTER_KEY", "c2hvcnQ=")]))
            .await
            .unwrap();
        malformed.one_error("32 bytes");
    }
);

both_backends!(
    a_migration_newer_than_the_binary_is_reported,
    |app: TestApp| async move {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(9_001_i64)
        .bind("from a newer casebook")
        .bind(true)
        .bind(vec![0_u8; 48])
        .bind(1_i64)
        .execute(app.running.state.db().pool())
        .await
        .expect("a migration from the future");
        let Some(report) = check(&with(&install(&app), &[])).await else {
            return;
        };
        // Migrations only add: a newer release's schema is still served.
        assert_eq!(report.code, Some(0), "{report:#?}");
        assert!(
            report
                .lines
                .iter()
                .any(|l| l.starts_with("ok: ") && l.contains("of a newer release (9001)")),
            "{report:#?}"
        );
        // Until a release raises the floor past what this binary knows.
        sqlx::query("UPDATE schema_compat SET oldest_reader = 9001 WHERE id = 1")
            .execute(app.running.state.db().pool())
            .await
            .expect("the floor raised");
        let report = check(&with(&install(&app), &[])).await.expect("a report");
        let line = report.one_error("needs a release that knows migration 9001");
        assert!(line.contains(casebook_server::build_info::VERSION), "{line}");
    }
);

both_backends!(
    a_migration_applied_from_other_text_is_reported,
    |app: TestApp| async move {
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 3")
            .bind(vec![1_u8; 48])
            .execute(app.running.state.db().pool())
            .await
            .expect("tamper");
        let Some(report) = check(&with(&install(&app), &[])).await else {
            return;
        };
        report.one_error("migrations 3 were applied from other text");
    }
);

/// A fresh, empty database: every migration is pending, and looking at it
/// changes nothing (no schema, no migration table, no file grows).
async fn an_empty_database(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    if let Some(file) = db.sqlite_file() {
        std::fs::write(&file, b"").expect("an empty database file");
    }
    let key = MasterKey::generate_base64();
    let Some(report) = check(&[("CASEBOOK_DATABASE_URL", &db.url), ("CASEBOOK_MASTER_KEY", &key)]).await else {
        return;
    };
    let known = casebook_server::db::migrations(backend).len();
    report.one_error(&format!("the database has no schema yet: {known} migrations pending"));

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    let tables = match backend {
        Backend::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master",
        Backend::Postgres => "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
    };
    let (n,): (i64,) = sqlx::query_as(tables).fetch_one(&pool).await.expect("count");
    assert_eq!(n, 0, "check created tables");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_sqlite_database_has_every_migration_pending() {
    an_empty_database(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_postgres_database_has_every_migration_pending() {
    an_empty_database(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_reached_is_reported() {
    let key = MasterKey::generate_base64();
    let Some(unknown) = check(&[("CASEBOOK_DATABASE_URL", "mysql://db/casebook")]).await else {
        return;
    };
    unknown.one_error("unsupported database URL");

    // Port 1 on loopback: nothing listens, so the refusal is at once.
    let refused = check(&[
        (
            "CASEBOOK_DATABASE_URL",
            "postgres://postgres:hunter2@127.0.0.1:1/casebook",
        ),
        ("CASEBOOK_MASTER_KEY", &key),
    ])
    .await
    .unwrap();
    let line = refused.one_error("unreachable");
    assert!(!line.contains("hunter2"), "a database password in the report: {line}");

    let dir = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let file = dir.sqlite_file().unwrap();
    let missing = check(&[("CASEBOOK_DATABASE_URL", &dir.url), ("CASEBOOK_MASTER_KEY", &key)])
        .await
        .unwrap();
    missing.one_error("there is no database at");
    assert!(!file.exists(), "check created the database");
}

both_backends!(
    plain_http_is_reported_for_any_host_but_this_machine,
    |app: TestApp| async move {
        let vars = install(&app);
        let Some(http) = check(&with(&vars, &[("CASEBOOK_PUBLIC_URL", "http://casebook.example.org")])).await else {
            return;
        };
        http.one_error("CASEBOOK_PUBLIC_URL");
        // Unset, the public URL is http://<addr>: a listener on every
        // interface would publish an http issuer to the network.
        let everywhere = check(&with(
            &vars,
            &[("CASEBOOK_PUBLIC_URL", ""), ("CASEBOOK_ADDR", "0.0.0.0:8080")],
        ))
        .await
        .unwrap();
        everywhere.one_error("http://0.0.0.0:8080");
        for fine in ["https://casebook.example.org", "http://localhost:8080"] {
            let report = check(&with(&vars, &[("CASEBOOK_PUBLIC_URL", fine)])).await.unwrap();
            assert!(report.clean, "{fine}: {report:#?}");
        }
    }
);

both_backends!(
    every_setting_that_does_not_parse_is_one_line,
    |app: TestApp| async move {
        let vars = install(&app);
        let Some(report) = check(&with(
            &vars,
            &[
                ("CASEBOOK_TRUSTED_PROXIES", "proxy.internal"),
                ("CASEBOOK_LOG_FORMAT", "xml"),
                ("CASEBOOK_TOKEN_SIGNING_ALG", "HS256"),
            ],
        ))
        .await
        else {
            return;
        };
        assert_eq!(report.code, Some(1), "{report:#?}");
        let errors = report.errors();
        assert_eq!(errors.len(), 3, "{report:#?}");
        for name in [
            "CASEBOOK_TRUSTED_PROXIES",
            "CASEBOOK_LOG_FORMAT",
            "CASEBOOK_TOKEN_SIGNING_ALG",
        ] {
            assert!(errors.iter().any(|e| e.starts_with(name)), "{name}: {report:#?}");
        }
        // The database is still looked at.
        assert!(
            report.lines.iter().any(|l| l.contains("migrations: all")),
            "{report:#?}"
        );
    }
);
