//! `Idempotency-Key` bookkeeping, many requests at once.
//!
//! A keyed `POST` writes twice beside its own work: the claim before it
//! runs, the answer after. Written by each request on its own, those writes
//! queue on SQLite's one write lock (in the busy handler, which sleeps) and
//! each pays its own commit on PostgreSQL. Here one writer takes whatever
//! claims and answers are waiting and writes them in one transaction: a
//! group commit, as the `jti` ledger does for client assertions. A claim
//! that meets an existing row is settled by the caller with
//! [`crate::store::idempotency::claim`], off this path: that is a retry,
//! the rare case.

use crate::db::Db;
use crate::store::idempotency::{Held, Stored, insert_claim, write_answer};
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 128;
const QUEUE: usize = 4 * MAX_BATCH;

enum Op {
    /// `true` when this request's row was inserted.
    Claim {
        held: Held,
        fingerprint: Vec<u8>,
        claimed_at: i64,
        expires_at: i64,
        verdict: oneshot::Sender<Result<bool, String>>,
    },
    Answer {
        held: Held,
        claimed_at: i64,
        answer: Stored,
        done: oneshot::Sender<Result<(), String>>,
    },
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
    pub async fn claim(
        &self,
        held: Held,
        fingerprint: &[u8],
        claimed_at: i64,
        expires_at: i64,
    ) -> Result<bool, String> {
        let (verdict, answer) = oneshot::channel();
        let op = Op::Claim {
            held,
            fingerprint: fingerprint.to_vec(),
            claimed_at,
            expires_at,
            verdict,
        };
        self.queue()
            .send(op)
            .await
            .map_err(|_| "the writer has stopped".to_owned())?;
        answer.await.map_err(|_| "the writer dropped the request".to_owned())?
    }

    /// Keeps the answer of the claim made at `claimed_at`.
    pub async fn answer(&self, held: Held, claimed_at: i64, answer: Stored) -> Result<(), String> {
        let (done, finished) = oneshot::channel();
        let op = Op::Answer {
            held,
            claimed_at,
            answer,
            done,
        };
        self.queue()
            .send(op)
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
        settle(&db, std::mem::take(&mut batch)).await;
    }
}

/// One transaction for the batch; on a failure, each op alone, so that
/// one the database refuses fails no other.
async fn settle(db: &Db, batch: Vec<Op>) {
    let together = async {
        let mut tx = db.begin().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for op in &batch {
            outcomes.push(apply(&mut tx, op).await?);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(outcomes)
    }
    .await;
    match together {
        Ok(outcomes) => {
            for (op, inserted) in batch.into_iter().zip(outcomes) {
                reply(op, Ok(inserted));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, ops = batch.len(), "writing Idempotency-Key records together failed; writing them one by one");
            for op in batch {
                let alone = async {
                    let mut tx = db.begin().await?;
                    let inserted = apply(&mut tx, &op).await?;
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(inserted)
                }
                .await;
                reply(op, alone.map_err(|e| e.to_string()));
            }
        }
    }
}

async fn apply(tx: &mut crate::db::Tx, op: &Op) -> Result<bool, sqlx::Error> {
    match op {
        Op::Claim {
            held,
            fingerprint,
            claimed_at,
            expires_at,
            ..
        } => insert_claim(tx, held, fingerprint, *claimed_at, *expires_at).await,
        Op::Answer {
            held,
            claimed_at,
            answer,
            ..
        } => write_answer(tx, held, *claimed_at, answer).await.map(|()| true),
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
