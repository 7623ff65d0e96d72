//! `Idempotency-Key` bookkeeping, many requests at once.
//!
//! A keyed `POST` writes twice beside its own work: the claim before it
//! runs, the answer after. Written by each request on its own, those writes
//! queue on SQLite's one write lock (in the busy handler, which sleeps) and
//! each pays its own commit on PostgreSQL. Here one writer takes whatever
//! claims and answers are waiting and writes them in one transaction of two
//! statements, every claim in one `INSERT` and every answer in one upsert:
//! a group commit, as the `jti` ledger does for client assertions, where a
//! statement costs more than a row. A claim that meets an existing row is
//! settled by the caller with
//! [`crate::store::idempotency::settle_existing`], off this path: that is a
//! retry, the rare case.

use crate::db::Db;
use crate::store::idempotency::{ClaimRow, KeyId, Stored, insert_claims, write_answers};
use std::collections::HashSet;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 128;
const QUEUE: usize = 4 * MAX_BATCH;

enum Op {
    /// `true` when this request's row was inserted.
    Claim {
        claim: ClaimRow,
        verdict: oneshot::Sender<Result<bool, String>>,
    },
    Answer {
        claim: ClaimRow,
        answer: Stored,
        done: oneshot::Sender<Result<(), String>>,
    },
}

impl Op {
    fn key(&self) -> KeyId {
        match self {
            Op::Claim { claim, .. } | Op::Answer { claim, .. } => claim.held.id(),
        }
    }
}

#[derive(Debug)]
pub struct IdempotencyWriter {
    db: Db,
    queue: OnceLock<mpsc::Sender<Op>>,
}

impl IdempotencyWriter {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            queue: OnceLock::new(),
        }
    }

    fn queue(&self) -> &mpsc::Sender<Op> {
        self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(write_batches(self.db.clone(), receiver));
            sender
        })
    }

    /// Inserts a claim: `true` if this request made it, `false` if a row
    /// for the key was there already.
    pub async fn claim(&self, claim: ClaimRow) -> Result<bool, String> {
        let (verdict, answer) = oneshot::channel();
        self.queue()
            .send(Op::Claim { claim, verdict })
            .await
            .map_err(|_| "the writer has stopped".to_owned())?;
        answer.await.map_err(|_| "the writer dropped the request".to_owned())?
    }

    /// Keeps the answer of `claim`.
    pub async fn answer(&self, claim: ClaimRow, answer: Stored) -> Result<(), String> {
        let (done, finished) = oneshot::channel();
        self.queue()
            .send(Op::Answer { claim, answer, done })
            .await
            .map_err(|_| "the writer has stopped".to_owned())?;
        finished
            .await
            .map_err(|_| "the writer dropped the request".to_owned())?
    }
}

async fn write_batches(db: Db, mut receiver: mpsc::Receiver<Op>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (batch, repeats) = distinct(std::mem::take(&mut batch));
        settle(&db, batch).await;
        // A key twice in one batch (a client's duplicate, or an answer
        // meeting a retry) goes in a transaction of its own, after.
        for op in repeats {
            settle(&db, vec![op]).await;
        }
    }
}

/// The ops with a key not seen before in the batch, and the rest: one
/// statement may name a key once.
fn distinct(batch: Vec<Op>) -> (Vec<Op>, Vec<Op>) {
    let mut seen = HashSet::with_capacity(batch.len());
    batch.into_iter().partition(|op| seen.insert(op.key()))
}

/// One transaction, two statements, for the batch; on a failure, each op
/// alone, so that one the database refuses fails no other.
async fn settle(db: &Db, batch: Vec<Op>) {
    match write(db, &batch).await {
        Ok(inserted) => {
            for op in batch {
                let made = op_made(&op, &inserted);
                reply(op, Ok(made));
            }
        }
        Err(e) if batch.len() > 1 => {
            tracing::warn!(error = %e, ops = batch.len(), "writing Idempotency-Key records together failed; writing them one by one");
            for op in batch {
                let alone = write(db, std::slice::from_ref(&op)).await;
                let outcome = alone.map(|inserted| op_made(&op, &inserted)).map_err(|e| e.to_string());
                reply(op, outcome);
            }
        }
        Err(e) => {
            for op in batch {
                reply(op, Err(e.to_string()));
            }
        }
    }
}

async fn write(db: &Db, batch: &[Op]) -> Result<HashSet<KeyId>, sqlx::Error> {
    let claims: Vec<&ClaimRow> = batch
        .iter()
        .filter_map(|op| match op {
            Op::Claim { claim, .. } => Some(claim),
            Op::Answer { .. } => None,
        })
        .collect();
    let answers: Vec<(&ClaimRow, &Stored)> = batch
        .iter()
        .filter_map(|op| match op {
            Op::Answer { claim, answer, .. } => Some((claim, answer)),
            Op::Claim { .. } => None,
        })
        .collect();
    let mut tx = db.begin().await?;
    let inserted = insert_claims(&mut tx, &claims).await?;
    write_answers(&mut tx, &answers).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Whether a claim's row is among those inserted; an answer always is.
fn op_made(op: &Op, inserted: &HashSet<KeyId>) -> bool {
    match op {
        Op::Claim { claim, .. } => inserted.contains(&claim.held.id()),
        Op::Answer { .. } => true,
    }
}

fn reply(op: Op, outcome: Result<bool, String>) {
    match op {
        Op::Claim { verdict, .. } => {
            let _ = verdict.send(outcome);
        }
        Op::Answer { done, .. } => {
            let _ = done.send(outcome.map(|_| ()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::col;
    use crate::store::idempotency::Held;
    use std::sync::Arc;

    fn claim_of(key: &str, claimed_at: i64) -> ClaimRow {
        ClaimRow {
            held: Held {
                tenant: "root".into(),
                account: "application:app-1".into(),
                key: key.into(),
            },
            fingerprint: vec![7; 32],
            claimed_at,
            expires_at: claimed_at + 1_000_000,
        }
    }

    fn answer_of(status: u16) -> Stored {
        Stored {
            status,
            content_type: Some("application/json".into()),
            location: None,
            body_sealed: vec![1, 2, 3],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_claim_per_key_even_within_a_batch_and_answers_land_on_their_own_claim() {
        let (db, _dir) = crate::db::scratch_sqlite().await;
        let writer = Arc::new(IdempotencyWriter::new(db.clone()));
        // 300 claims at once, as 150 keys sent twice: more than a batch
        // holds, so both the in-batch repeat and the stored row decide.
        let claims = (0..300).map(|i| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.claim(claim_of(&format!("k-{}", i % 150), 10)).await })
        });
        let verdicts: Vec<bool> = futures_util::future::join_all(claims)
            .await
            .into_iter()
            .map(|joined| joined.unwrap().unwrap())
            .collect();
        for i in 0..150 {
            let pair = [verdicts[i], verdicts[i + 150]];
            assert_eq!(pair.iter().filter(|&&made| made).count(), 1, "k-{i}: {pair:?}");
        }
        // Answers at once, half of them to a claim that was taken over (an
        // older `claimed_at`): those must not land.
        let answers = (0..150_usize).map(|i| {
            let writer = writer.clone();
            let claimed_at = if i.is_multiple_of(2) { 10 } else { 9 };
            tokio::spawn(async move {
                writer
                    .answer(claim_of(&format!("k-{i}"), claimed_at), answer_of(201))
                    .await
            })
        });
        for joined in futures_util::future::join_all(answers).await {
            joined.unwrap().unwrap();
        }
        let rows = sqlx::query("SELECT idem_key, done, status FROM idempotency_keys ORDER BY idem_key")
            .fetch_all(db.pool())
            .await
            .unwrap();
        assert_eq!(rows.len(), 150);
        for row in rows {
            let key: String = col(&row, "idem_key").unwrap();
            let index: usize = key.trim_start_matches("k-").parse().unwrap();
            let done = col::<i64>(&row, "done").unwrap() == 1;
            let status: Option<i64> = col(&row, "status").unwrap();
            if index.is_multiple_of(2) {
                assert!(done && status == Some(201), "{key}");
            } else {
                assert!(!done && status.is_none(), "{key}: an answer to an older claim landed");
            }
        }
    }
}
