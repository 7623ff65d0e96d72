//! `Idempotency-Key` bookkeeping, many requests at once.
//!
//! Most keyed `POST`s write twice beside their own work: the claim before
//! it runs, the answer after. The partner API's creations write once: the
//! record with its key and answer ([`crate::http::idempotency::Keyed`]).
//! Written by each request on its own, those writes queue on SQLite's one
//! write lock and each pays its own commit on PostgreSQL. Here one writer
//! takes whatever is waiting and writes it in one transaction: every claim
//! in one `INSERT`, every answer in one upsert, every answered key of a
//! creation in one upsert and its record beside it. A group commit, as the
//! `jti` ledger does for client assertions, where a commit costs more than
//! a row. A claim or a creation that meets a live row is settled by the
//! caller ([`crate::store::idempotency::settle_existing`],
//! [`crate::store::idempotency::existing`]), off this path: that is a
//! retry, the rare case.

use crate::db::Db;
use crate::store::idempotency::{ClaimRow, KeyId, LEASE_MICROS, Stored, insert_claims, write_answers};
use crate::store::{NewRecord, create_records_keyed};
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
    /// `true` when the record was made (and the key kept with it).
    Create {
        claim: ClaimRow,
        answer: Stored,
        record: Box<NewRecord>,
        made: oneshot::Sender<Result<bool, String>>,
    },
}

impl Op {
    fn key(&self) -> KeyId {
        match self {
            Op::Claim { claim, .. } | Op::Answer { claim, .. } | Op::Create { claim, .. } => claim.held.id(),
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

    /// Makes `record` and keeps `answer` for its key, together: `false`,
    /// and nothing made, when the key is live already.
    pub async fn create(&self, claim: ClaimRow, answer: Stored, record: NewRecord) -> Result<bool, String> {
        let (made, verdict) = oneshot::channel();
        self.queue()
            .send(Op::Create {
                claim,
                answer,
                record: Box::new(record),
                made,
            })
            .await
            .map_err(|_| "the writer has stopped".to_owned())?;
        verdict.await.map_err(|_| "the writer dropped the request".to_owned())?
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

/// The keys of claims inserted and of records made.
async fn write(db: &Db, batch: &[Op]) -> Result<HashSet<KeyId>, sqlx::Error> {
    let mut claims = Vec::new();
    let mut answers = Vec::new();
    let mut creates = Vec::new();
    for op in batch {
        match op {
            Op::Claim { claim, .. } => claims.push(claim),
            Op::Answer { claim, answer, .. } => answers.push((claim, answer)),
            Op::Create {
                claim, answer, record, ..
            } => creates.push((claim, answer, &**record)),
        }
    }
    // Each statement's rows in key order, so that two replicas' batches
    // sharing keys lock them in the same order, which makes a deadlock (and
    // PostgreSQL aborting a batch to end it) rarer; it stays possible
    // across statements, and then the batch is written op by op.
    claims.sort_by_key(|claim| sort_key(claim));
    answers.sort_by_key(|(claim, _)| sort_key(claim));
    creates.sort_by_key(|(claim, _, _)| sort_key(claim));
    let mut tx = db.begin().await?;
    let mut inserted = insert_claims(&mut tx, &claims).await?;
    write_answers(&mut tx, &answers).await?;
    inserted.extend(create_records_keyed(&mut tx, &creates, LEASE_MICROS).await?);
    tx.commit().await?;
    Ok(inserted)
}

fn sort_key(claim: &ClaimRow) -> (&str, &str, &str) {
    (&claim.held.tenant, &claim.held.account, &claim.held.key)
}

/// Whether a claim's row is among those inserted, or a creation's record
/// among those made; an answer always lands.
fn op_made(op: &Op, inserted: &HashSet<KeyId>) -> bool {
    match op {
        Op::Claim { claim, .. } | Op::Create { claim, .. } => inserted.contains(&claim.held.id()),
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
        Op::Create { made, .. } => {
            let _ = made.send(outcome);
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

    fn case_of(title: &str) -> NewRecord {
        let actor = crate::store::ActorRef {
            kind: casebook_domain::AccountKind::Application,
            id: "app-1".into(),
            name: "Partner".into(),
        };
        let now = casebook_domain::Timestamp::from_unix_micros(10);
        NewRecord::Case(crate::store::CaseRecord {
            id: crate::db::new_id(),
            title: title.into(),
            description: None,
            status: casebook_domain::records::CaseStatus::default(),
            created_by: actor.clone(),
            updated_by: actor,
            created_at: now,
            updated_at: now,
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_keyed_creation_makes_its_record_once_per_key() {
        let (db, _dir) = crate::db::scratch_sqlite().await;
        let writer = Arc::new(IdempotencyWriter::new(db.clone()));
        // 300 creations at once, as 150 keys sent twice, each with a
        // record of its own: one record per key, and its key kept with it.
        let creates = (0..300).map(|i| {
            let writer = writer.clone();
            let key = format!("k-{}", i % 150);
            tokio::spawn(async move { writer.create(claim_of(&key, 10), answer_of(201), case_of(&key)).await })
        });
        let made: Vec<bool> = futures_util::future::join_all(creates)
            .await
            .into_iter()
            .map(|joined| joined.unwrap().unwrap())
            .collect();
        for i in 0..150 {
            assert_eq!(u8::from(made[i]) + u8::from(made[i + 150]), 1, "k-{i}");
        }
        let count = |sql: &'static str| {
            let db = db.clone();
            async move {
                let row = sqlx::query(sql).fetch_one(db.pool()).await.unwrap();
                col::<i64>(&row, "n").unwrap()
            }
        };
        assert_eq!(count("SELECT COUNT(*) AS n FROM cases").await, 150);
        assert_eq!(count("SELECT COUNT(DISTINCT title) AS n FROM cases").await, 150);
        assert_eq!(
            count("SELECT COUNT(*) AS n FROM idempotency_keys WHERE done = 1 AND status = 201").await,
            150
        );
        // A key answered already makes nothing more.
        assert!(
            !writer
                .create(claim_of("k-0", 20), answer_of(201), case_of("late"))
                .await
                .unwrap()
        );
        assert_eq!(count("SELECT COUNT(*) AS n FROM cases").await, 150);
    }
}
