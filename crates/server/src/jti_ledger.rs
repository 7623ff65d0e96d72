//! Spending client assertions' `jti`s, many at once.
//!
//! A `jti` is single-use on every replica, so each one is written to the
//! database, whose primary key refuses the second use. Written one by one,
//! concurrent grants become concurrent write transactions: on SQLite they
//! queue on the one write lock (waiting in the busy handler), on PostgreSQL
//! each pays its own commit. Here one writer takes whatever grants are
//! waiting, spends all their `jti`s in one statement, and answers each: a
//! group commit. Under load a batch holds many grants for the price of one
//! commit; alone, a grant waits for nothing but its own write.

use crate::db::Db;
use crate::store;
use std::collections::HashSet;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

/// The most `jti`s one statement spends (three parameters each).
pub const MAX_BATCH: usize = 128;
/// Grants waiting beyond this many wait for room: memory stays bounded.
const QUEUE: usize = 4 * MAX_BATCH;

/// A `jti` to spend and where its verdict goes.
struct Spend {
    client_id: String,
    jti: String,
    exp: i64,
    verdict: oneshot::Sender<Result<bool, LedgerError>>,
}

/// The writer could not record the batch; nothing in it was spent for sure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the jti ledger could not write: {0}")]
pub struct LedgerError(String);

#[derive(Debug)]
pub struct JtiLedger {
    db: Db,
    // Started on first use, inside the runtime that serves requests.
    queue: OnceLock<mpsc::Sender<Spend>>,
}

impl JtiLedger {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            queue: OnceLock::new(),
        }
    }

    /// Spends `jti` for `client_id` until `exp`: `true` the first time, on
    /// any replica, `false` for a replay.
    pub async fn spend(&self, client_id: &str, jti: &str, exp: i64) -> Result<bool, LedgerError> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(write_batches(self.db.clone(), receiver));
            sender
        });
        let (verdict, answer) = oneshot::channel();
        let spend = Spend {
            client_id: client_id.to_owned(),
            jti: jti.to_owned(),
            exp,
            verdict,
        };
        queue
            .send(spend)
            .await
            .map_err(|_| LedgerError("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| LedgerError("the writer dropped the request".into()))?
    }
}

/// The writer: ends when the ledger (and so every sender) is dropped.
async fn write_batches(db: Db, mut receiver: mpsc::Receiver<Spend>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        settle(&db, std::mem::take(&mut batch)).await;
    }
}

async fn settle(db: &Db, batch: Vec<Spend>) {
    // Two grants of one batch with the same jti: the first is the one
    // written, the second a replay of it, as if it had come a moment later.
    let mut seen = HashSet::new();
    let (mut first_uses, replays): (Vec<Spend>, Vec<Spend>) = batch
        .into_iter()
        .partition(|s| seen.insert((s.client_id.clone(), s.jti.clone())));
    // Rows in one order on every replica: two batches that overlap take
    // their row locks in the same order, so PostgreSQL never deadlocks them.
    first_uses.sort_by(|a, b| (&a.client_id, &a.jti).cmp(&(&b.client_id, &b.jti)));
    for replay in replays {
        let _ = replay.verdict.send(Ok(false));
    }
    let rows: Vec<(&str, &str, i64)> = first_uses
        .iter()
        .map(|s| (s.client_id.as_str(), s.jti.as_str(), s.exp))
        .collect();
    // One statement, so a failure spent nothing and trying again is safe: a
    // deadlock or a busy database is usually gone a moment later.
    let outcome = match store::spend_assertion_jtis(db, &rows).await {
        Err(e) => {
            tracing::warn!(error = %e, grants = rows.len(), "recording client assertions failed once; trying again");
            store::spend_assertion_jtis(db, &rows).await
        }
        spent => spent,
    };
    match outcome {
        Ok(spent) => {
            for spend in first_uses {
                let fresh = spent.contains(&(spend.client_id.clone(), spend.jti.clone()));
                let _ = spend.verdict.send(Ok(fresh));
            }
        }
        Err(e) => {
            // One row the database refuses must not fail its neighbours:
            // each is tried alone, and only those that fail again fail.
            tracing::warn!(error = %e, grants = first_uses.len(), "recording a batch of jtis failed; recording them one by one");
            for spend in first_uses {
                let row = [(spend.client_id.as_str(), spend.jti.as_str(), spend.exp)];
                let verdict = match store::spend_assertion_jtis(db, &row).await {
                    Ok(spent) => Ok(!spent.is_empty()),
                    Err(e) => {
                        tracing::error!(error = %e, "could not record a jti");
                        Err(LedgerError(e.to_string()))
                    }
                };
                let _ = spend.verdict.send(verdict);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Backend;
    use std::sync::Arc;

    async fn ledger() -> (Arc<JtiLedger>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cbjti-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite://{}/j.db", dir.display()), Backend::Sqlite)
            .await
            .unwrap();
        (Arc::new(JtiLedger::new(db)), dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_uses_all_pass_and_every_replay_fails_even_within_one_batch() {
        let (ledger, dir) = ledger().await;
        let far = i64::MAX / 2;
        // 300 grants at once, as 150 jtis each presented twice: more than a
        // batch holds, so both the in-batch and the stored replay rule run.
        let spends = (0..300).map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.spend("cb_client", &format!("jti-{}", i % 150), far).await })
        });
        let verdicts: Vec<bool> = futures_util::future::join_all(spends)
            .await
            .into_iter()
            .map(|joined| joined.unwrap().unwrap())
            .collect();
        assert_eq!(verdicts.iter().filter(|&&fresh| fresh).count(), 150);
        for i in 0..150 {
            let pair = [verdicts[i], verdicts[i + 150]];
            assert_eq!(pair.iter().filter(|&&fresh| fresh).count(), 1, "jti-{i}: {pair:?}");
        }
        assert!(!ledger.spend("cb_client", "jti-7", far).await.unwrap());
        // A jti is a client's own: another client may use the same string.
        assert!(ledger.spend("cb_other", "jti-7", far).await.unwrap());
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn an_expired_record_is_taken_over() {
        let (ledger, dir) = ledger().await;
        assert!(ledger.spend("cb_client", "j", 1).await.unwrap());
        assert!(ledger.spend("cb_client", "j", i64::MAX / 2).await.unwrap());
        assert!(!ledger.spend("cb_client", "j", i64::MAX / 2).await.unwrap());
        std::fs::remove_dir_all(dir).ok();
    }
}
