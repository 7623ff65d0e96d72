//! Master key rotation (the contract's "Upgrades and key custody"): the
//! client secrets' MAC key kept sealed in the database, `casebook
//! master-key rotate`, and the tally `casebook check` reports.
//!
//! The MAC key is stored rather than derived from the master key, so that a
//! new master key changes no MAC: secrets known by their MAC alone, secrets
//! in their grace period and the MACs of ended secrets (leak reports) all
//! keep matching. Rotation only seals it again.

use crate::crypto::{MasterKey, SealedUnder, mac_under};
use crate::db::Db;
use crate::store::{self, SECRET_MAC_KEY, SealedTable};
use subtle::ConstantTimeEq;

/// Rows re-sealed in one transaction by default: short enough that a
/// SQLite writer waits a few milliseconds at most, long enough that a
/// large install is not one commit per row.
pub const DEFAULT_BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeysError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(
        "the client-secret MAC key stored in the database opens under no configured master key: set \
         CASEBOOK_MASTER_KEY (or CASEBOOK_MASTER_KEY_FILE) to the key it was sealed with, or name that key in \
         CASEBOOK_PREVIOUS_MASTER_KEYS"
    )]
    MacKeySealed,
    #[error("the client-secret MAC key stored in the database is not 32 bytes")]
    MacKeyMalformed,
}

/// The master key with the install's client-secret MAC key, read from the
/// database. On the first start of a release that stores it, the key the
/// earlier releases derived is stored, sealed under the current master key;
/// replicas starting together each offer theirs, and all use the one stored.
pub async fn load_secret_mac_key(db: &Db, master: MasterKey) -> Result<MasterKey, MasterKeysError> {
    if store::install_key(db, SECRET_MAC_KEY).await?.is_none() {
        let key = legacy_mac_key(db, &master).await?;
        store::insert_install_key_if_absent(db, SECRET_MAC_KEY, &master.seal(&key, SECRET_MAC_KEY)).await?;
    }
    let sealed = store::install_key(db, SECRET_MAC_KEY)
        .await?
        .ok_or(MasterKeysError::MacKeySealed)?;
    let opened = master
        .open(&sealed, SECRET_MAC_KEY)
        .map_err(|_| MasterKeysError::MacKeySealed)?;
    let key: [u8; 32] = opened.try_into().map_err(|_| MasterKeysError::MacKeyMalformed)?;
    let master = master.with_secret_mac_key(key);
    // Once a rotation has run, every replica is of a release that reads the
    // header (a rotation needs them all to be), so every value names its key.
    Ok(if store::install_key(db, VALUES_NAME_KEYS).await?.is_some() {
        master.naming_keys()
    } else {
        master
    })
}

/// The mark a completed rotation leaves: from then on every value sealed
/// names its key. Its value is an empty plaintext, sealed like the rest.
const VALUES_NAME_KEYS: &str = "sealed-values-name-keys";

/// Leaves the mark after a rotation that opened every value.
pub async fn mark_values_name_keys(db: &Db, master: &MasterKey) -> Result<(), MasterKeysError> {
    let master = master.clone().naming_keys();
    store::insert_install_key_if_absent(db, VALUES_NAME_KEYS, &master.seal(b"", VALUES_NAME_KEYS)).await?;
    Ok(())
}

/// The MAC key earlier releases derived from the master key they ran with.
/// With previous keys configured (a rotation begun in the same restart as
/// the upgrade), that is not necessarily the current one: the stored MACs
/// say which.
async fn legacy_mac_key(db: &Db, master: &MasterKey) -> Result<[u8; 32], MasterKeysError> {
    let candidates = master.derived_secret_mac_keys();
    if candidates.len() == 1 {
        return Ok(candidates[0]);
    }
    let mut conn = db.pool().acquire().await?;
    // A secret whose value we can open: the candidate that makes its MAC.
    if let Some((secret, mac)) = store::one_sealed_secret_with_mac(&mut conn).await?
        && let Ok(opened) = master.open_detailed(&secret.sealed, &secret.context_source)
    {
        let plain = String::from_utf8_lossy(&opened.plaintext);
        if let Some(key) = candidates
            .iter()
            .find(|key| bool::from(mac_under(key, &plain).ct_eq(&mac[..])))
        {
            return Ok(*key);
        }
    }
    // No such secret: the key that sealed the signing keys ran the install.
    for key in store::sealed_page(&mut conn, SealedTable::SigningKeys, "", 100).await? {
        let context = crate::keys::kid_context(&key.context_source);
        if let Ok(opened) = master.open_detailed(&key.sealed, &context) {
            return Ok(candidates[opened.key_index]);
        }
    }
    Ok(candidates[0])
}

/// The associated data each table's values are sealed with.
fn context(table: SealedTable, source: &str) -> String {
    match table {
        SealedTable::SigningKeys => crate::keys::kid_context(source),
        SealedTable::ClientSecrets
        | SealedTable::InstallKeys
        | SealedTable::TotpSecrets
        | SealedTable::OutboxLinks
        | SealedTable::WebhookSecrets => source.to_owned(),
    }
}

/// What one table holds, by the key that sealed it; and, for a rotation,
/// what it did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Sealed values seen.
    pub total: u64,
    /// Under the current key, with the header.
    pub current: u64,
    /// Under the current key, in the format before 0.2.0.
    pub current_legacy: u64,
    /// Under a previous key.
    pub previous: u64,
    /// Opened by no configured key; their ids (never their values).
    pub unopened: Vec<String>,
    /// Re-sealed under the current key by this run.
    pub resealed: u64,
    /// Changed by someone else between reading and writing, twice: left for
    /// the next run (which a changed value usually no longer needs).
    pub contended: u64,
}

impl Tally {
    /// Values a rotation would still re-seal.
    pub fn pending(&self) -> u64 {
        self.current_legacy + self.previous
    }
}

/// Every sealed value of the install, by table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Survey {
    pub signing_keys: Tally,
    pub client_secrets: Tally,
    pub mac_key: Tally,
    /// People's TOTP secrets.
    pub totp_secrets: Tally,
    /// The links of notices not yet sent.
    pub outbox_links: Tally,
    /// Webhooks' signing secrets.
    pub webhook_secrets: Tally,
}

impl Survey {
    fn tallies(&self) -> [&Tally; 6] {
        [
            &self.signing_keys,
            &self.client_secrets,
            &self.mac_key,
            &self.totp_secrets,
            &self.outbox_links,
            &self.webhook_secrets,
        ]
    }

    fn sum(&self, of: impl Fn(&Tally) -> u64) -> u64 {
        self.tallies().into_iter().map(of).sum()
    }

    pub fn unopened(&self) -> usize {
        self.tallies().iter().map(|t| t.unopened.len()).sum()
    }

    /// The ids of values no configured key opens, of every table.
    pub fn unopened_ids(&self) -> Vec<String> {
        self.tallies().iter().flat_map(|t| t.unopened.iter().cloned()).collect()
    }

    pub fn pending(&self) -> u64 {
        self.sum(Tally::pending)
    }

    pub fn previous(&self) -> u64 {
        self.sum(|t| t.previous)
    }

    pub fn total(&self) -> u64 {
        self.sum(|t| t.total)
    }

    pub fn current(&self) -> u64 {
        self.sum(|t| t.current)
    }

    pub fn resealed(&self) -> u64 {
        self.sum(|t| t.resealed)
    }

    pub fn contended(&self) -> u64 {
        self.sum(|t| t.contended)
    }
}

fn classify(tally: &mut Tally, under: SealedUnder) {
    match under {
        SealedUnder::Current => tally.current += 1,
        SealedUnder::CurrentLegacy => tally.current_legacy += 1,
        SealedUnder::Previous => tally.previous += 1,
    }
}

/// `casebook check`: which key opens each sealed value. Reads only.
pub async fn survey(db: &Db, master: &MasterKey) -> Result<Survey, MasterKeysError> {
    let mut conn = db.pool().acquire().await?;
    let mut survey = Survey::default();
    for (table, tally) in [
        (SealedTable::SigningKeys, &mut survey.signing_keys),
        (SealedTable::ClientSecrets, &mut survey.client_secrets),
        (SealedTable::InstallKeys, &mut survey.mac_key),
        (SealedTable::TotpSecrets, &mut survey.totp_secrets),
        (SealedTable::OutboxLinks, &mut survey.outbox_links),
        (SealedTable::WebhookSecrets, &mut survey.webhook_secrets),
    ] {
        let mut after = String::new();
        loop {
            let page = store::sealed_page(&mut conn, table, &after, DEFAULT_BATCH as i64).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            for row in &page {
                tally.total += 1;
                match master.open_detailed(&row.sealed, &context(table, &row.context_source)) {
                    Ok(opened) => classify(tally, opened.under),
                    Err(_) => tally.unopened.push(row.id.clone()),
                }
            }
        }
    }
    Ok(survey)
}

/// `casebook master-key rotate`: seals every stored value, of every
/// tenant, under the current master key, in transactions of `batch` rows, while replicas keep
/// serving. Each write holds only if the row still has the value read, so
/// a concurrent change is never overwritten; values already under the
/// current key are left alone, so a run stopped half way is simply run
/// again. `progress` gets a line after each batch. Values no configured key
/// opens are counted and left as they are.
pub async fn rotate(
    db: &Db,
    master: &MasterKey,
    batch: usize,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Survey, MasterKeysError> {
    let batch = batch.max(1);
    let mut survey = Survey::default();
    // The MAC key first: stored (if no server of this release has run yet)
    // and then sealed again like any other value.
    load_secret_mac_key(db, master.clone()).await?;
    for (table, tally, what) in [
        (SealedTable::InstallKeys, &mut survey.mac_key, "install keys"),
        (SealedTable::SigningKeys, &mut survey.signing_keys, "signing keys"),
        (SealedTable::ClientSecrets, &mut survey.client_secrets, "client secrets"),
        (SealedTable::TotpSecrets, &mut survey.totp_secrets, "TOTP secrets"),
        (
            SealedTable::OutboxLinks,
            &mut survey.outbox_links,
            "unsent password links",
        ),
        (
            SealedTable::WebhookSecrets,
            &mut survey.webhook_secrets,
            "webhook secrets",
        ),
    ] {
        let total = {
            let mut conn = db.pool().acquire().await?;
            store::count_sealed(&mut conn, table).await?
        };
        let mut after = String::new();
        loop {
            let mut tx = db.begin().await?;
            let page = store::sealed_page(&mut tx, table, &after, batch as i64).await?;
            let Some(last) = page.last() else {
                tx.rollback().await?;
                break;
            };
            after = last.id.clone();
            for row in page {
                tally.total += 1;
                reseal_row(&mut tx, master, table, row, tally).await?;
            }
            tx.commit().await?;
            progress(format!(
                "re-sealed {}/{total} {what} ({} already under the current key)",
                tally.resealed, tally.current
            ));
        }
    }
    Ok(survey)
}

async fn reseal_row(
    conn: &mut sqlx::AnyConnection,
    master: &MasterKey,
    table: SealedTable,
    row: store::SealedRow,
    tally: &mut Tally,
) -> Result<(), MasterKeysError> {
    let context = context(table, &row.context_source);
    let mut sealed = row.sealed;
    // A second try when the row changed between read and write (PostgreSQL
    // reads committed rows; SQLite's write lock leaves no such gap).
    for _ in 0..2 {
        let opened = match master.open_detailed(&sealed, &context) {
            Ok(opened) => opened,
            Err(_) => {
                tally.unopened.push(row.id);
                return Ok(());
            }
        };
        if !opened.needs_reseal() {
            tally.current += 1;
            return Ok(());
        }
        let new = master.seal(&opened.plaintext, &context);
        if store::reseal(conn, table, &row.id, &sealed, &new).await? {
            tally.resealed += 1;
            return Ok(());
        }
        match store::sealed_value(conn, table, &row.id).await? {
            Some(now) => sealed = now,
            // Gone meanwhile (a secret ended): nothing left to protect.
            None => return Ok(()),
        }
    }
    tally.contended += 1;
    Ok(())
}
