//! The `casebook` binary's upgrade commands: `migrate` and `master-key
//! rotate`, each a line of progress and a summary an operator can act on.
//! A module of the binary (declared in `main.rs`), not of the library.

use crate::master_key_settings;
use casebook_server::config::{self, Backend};

/// `casebook migrate`: what is pending, then (unless a dry run) applied,
/// one line each.
pub(crate) async fn migrate(url: &str, dry_run: bool) -> Result<(), String> {
    use casebook_server::db::{Db, MigrationPolicy, migrations};
    let backend = Backend::of_url(url).ok_or_else(|| format!("unsupported database URL {url:?}"))?;
    let shown = config::redact_url(url);
    let name_of = |version: i64| {
        migrations(backend)
            .into_iter()
            .find(|m| m.version == version)
            .map_or_else(|| version.to_string(), |m| m.description.into_owned())
    };
    let absent = config::sqlite_path(url).is_some_and(|path| !path.exists());
    let pending = if absent {
        migrations(backend).iter().map(|m| m.version).collect()
    } else {
        let db = Db::open_as_is(url, backend)
            .await
            .map_err(|e| format!("{shown}: {e}"))?;
        let status = db.migration_status().await.map_err(|e| format!("{shown}: {e}"))?;
        db.close().await;
        status.pending
    };
    let version = casebook_server::build_info::LONG_VERSION;
    if pending.is_empty() {
        println!("casebook migrate: {shown} is up to date for casebook {version}; nothing to apply");
        return Ok(());
    }
    let names: Vec<String> = pending.iter().map(|v| name_of(*v)).collect();
    if dry_run {
        let create = if absent {
            " (the database does not exist yet: it would be created)"
        } else {
            ""
        };
        println!(
            "casebook migrate --dry-run: {} migration(s) pending on {shown}{create}: {}; nothing changed",
            pending.len(),
            names.join(", ")
        );
        return Ok(());
    }
    // Where neither half of a SQLite install exists, both are made, as
    // `serve` makes them; one half alone stops here, as it stops `serve`.
    config::resolve_master_key(&master_key_settings(), url).map_err(|e| e.to_string())?;
    println!(
        "casebook migrate: applying {} migration(s) to {shown}: {}",
        pending.len(),
        names.join(", ")
    );
    let started = std::time::Instant::now();
    let db = Db::open(url, backend, MigrationPolicy::Apply)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    db.close().await;
    println!(
        "casebook migrate: done in {:.1} s; {shown} is up to date for casebook {version}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `casebook master-key rotate`: progress on stderr, the summary and the
/// next step on stdout.
pub(crate) async fn rotate_master_key(url: &str, batch_size: usize) -> Result<(), String> {
    use casebook_server::db::{Db, MigrationPolicy};
    let backend = Backend::of_url(url).ok_or_else(|| format!("unsupported database URL {url:?}"))?;
    let shown = config::redact_url(url);
    if let Some(path) = config::sqlite_path(url).filter(|path| !path.exists()) {
        return Err(format!("there is no database at {}: nothing to rotate", path.display()));
    }
    // Never a new key: the values to open were sealed under an existing one.
    let settings = master_key_settings();
    let master = config::existing_master_key(&settings, url)
        .map_err(|e| e.to_string())?
        .naming_keys();
    let db = Db::open(url, backend, MigrationPolicy::RefusePending)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let started = std::time::Instant::now();
    eprintln!(
        "casebook master-key rotate: sealing every value of {shown} under the current master key (id {}), with {} previous key(s) to open them",
        master.key_id(),
        master.previous_count()
    );
    let mut progress = |line: String| eprintln!("casebook master-key rotate: {line}");
    let result = casebook_server::master_keys::rotate(&db, &master, batch_size, &mut progress).await;
    let survey = match result {
        Ok(survey) => survey,
        Err(e) => {
            db.close().await;
            return Err(format!("master-key rotate: {e}"));
        }
    };
    let all_opened = survey.unopened() == 0;
    if all_opened {
        casebook_server::master_keys::mark_values_name_keys(&db, &master)
            .await
            .map_err(|e| format!("master-key rotate: {e}"))?;
    }
    let resealed = survey.resealed();
    let key_id = master.key_id();
    let event = casebook_server::store::Event::new("master_key.rotated", "master_key", &key_id)
        .named(&key_id)
        .detail(format!(
            "{resealed} value(s) re-sealed; {} left unopened",
            survey.unopened()
        ));
    let root = casebook_server::store::Scope::root(db.clone());
    if let Err(error) =
        casebook_server::store::record(&root, &casebook_server::store::ActorRef::operator(), event).await
    {
        eprintln!("casebook master-key rotate: the rotation could not be recorded in the audit trail: {error}");
    }
    db.close().await;
    let contended = survey.contended();
    println!(
        "casebook master-key rotate: done in {:.1} s: {} signing key(s), {} client secret(s), {} sign-in value(s), {} webhook secret(s) and the client-secret MAC key checked; {resealed} re-sealed under the current key (id {}), {} already were",
        started.elapsed().as_secs_f64(),
        survey.signing_keys.total,
        survey.client_secrets.total,
        survey.totp_secrets.total + survey.outbox_links.total,
        survey.webhook_secrets.total,
        master.key_id(),
        survey.current(),
    );
    if contended > 0 {
        println!("casebook master-key rotate: {contended} value(s) changed while this ran and were left: run it again");
    }
    if survey.unopened() > 0 {
        let ids: Vec<String> = survey.unopened_ids().into_iter().take(10).collect();
        return Err(format!(
            "master-key rotate: {} value(s) open under no configured master key and were left as they are ({}): \
             keep the previous keys until you find the key that sealed them, and run this again with it in CASEBOOK_PREVIOUS_MASTER_KEYS",
            survey.unopened(),
            ids.join(", ")
        ));
    }
    if contended == 0 {
        println!(
            "casebook master-key rotate: next: remove the old key from CASEBOOK_PREVIOUS_MASTER_KEYS (or its file) and restart every replica; `casebook check` shows nothing left under it"
        );
    }
    Ok(())
}
