//! A person's second factor: the TOTP secret (sealed), the last step a code
//! was accepted at, recovery codes (MACed), and the tokens of half-finished
//! sign-ins. Each "accept once" is one conditional write, so two replicas
//! given the same code at once accept it on one of them only.

use super::*;

/// Where a person's TOTP enrolment stands.
pub struct TotpState {
    /// The secret, sealed with the user's id as associated data.
    pub sealed_secret: Option<Vec<u8>>,
    /// When enrolment began (Unix microseconds), until it is confirmed.
    pub started_at: Option<i64>,
    pub confirmed: bool,
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpState")
            .field("started_at", &self.started_at)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

#[tracing::instrument(name = "db totp_state", level = "debug", skip_all)]
pub async fn totp_state(at: &Scope, user_id: &str) -> Result<TotpState, StoreError> {
    let row = sqlx::query(
        "SELECT totp_secret_sealed, totp_started_at, totp_confirmed_at FROM users WHERE id = $1 AND tenant_id = $2",
    )
    .bind(user_id)
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?
    .ok_or(StoreError::NotFound("user"))?;
    Ok(TotpState {
        sealed_secret: col(&row, "totp_secret_sealed")?,
        started_at: col(&row, "totp_started_at")?,
        confirmed: col::<Option<i64>>(&row, "totp_confirmed_at")?.is_some(),
    })
}

/// Stores a new, unconfirmed secret; an earlier unconfirmed one is replaced.
/// `false` when a confirmed one exists: it must be removed first.
#[tracing::instrument(name = "db begin_totp", level = "debug", skip_all)]
pub async fn begin_totp(at: &Scope, user_id: &str, sealed_secret: &[u8]) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE users SET totp_secret_sealed = $1, totp_started_at = $2, totp_last_step = NULL \
         WHERE id = $3 AND tenant_id = $4 AND totp_confirmed_at IS NULL",
    )
    .bind(sealed_secret.to_vec())
    .bind(at.now_micros())
    .bind(user_id)
    .bind(at.tenant())
    .execute(at.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Confirms the enrolment with the step its first code matched, and keeps
/// the recovery codes' MACs, replacing any earlier ones. `false` when there
/// was nothing to confirm (confirmed meanwhile, or removed).
#[tracing::instrument(name = "db confirm_totp", level = "debug", skip_all)]
pub async fn confirm_totp(
    at: &Scope,
    user: &ActorRef,
    step: u64,
    recovery_code_macs: &[[u8; 32]],
) -> Result<bool, sqlx::Error> {
    let mut tx = at.begin().await?;
    let confirmed = sqlx::query(
        "UPDATE users SET totp_confirmed_at = $1, totp_last_step = $2, totp_started_at = NULL \
         WHERE id = $3 AND tenant_id = $4 AND totp_confirmed_at IS NULL AND totp_secret_sealed IS NOT NULL",
    )
    .bind(tx.now_micros())
    .bind(step_column(step))
    .bind(&user.id)
    .bind(at.tenant())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !confirmed {
        return Ok(false);
    }
    replace_recovery_codes(&mut tx, at, &user.id, recovery_code_macs).await?;
    audit(
        &mut tx,
        at,
        user,
        Event::new("user.second_factor_added", "user", &user.id).detail("authenticator app (TOTP)".to_owned()),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn replace_recovery_codes(tx: &mut Tx, at: &Scope, user_id: &str, macs: &[[u8; 32]]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND tenant_id = $2")
        .bind(user_id)
        .bind(at.tenant())
        .execute(&mut **tx)
        .await?;
    for mac in macs {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_mac, tenant_id) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(mac.to_vec())
            .bind(at.tenant())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Steps are counted from 1970 in 30-second units: far inside `i64`.
fn step_column(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

/// Accepts a confirmed TOTP code matched at `step` unless a code at that step
/// or a later one was accepted already (`casebook_domain::mfa::accepts_step`,
/// written as one conditional update).
#[tracing::instrument(name = "db accept_totp_step", level = "debug", skip_all)]
pub async fn accept_totp_step(at: &Scope, user_id: &str, step: u64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND tenant_id = $3 \
         AND totp_confirmed_at IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step_column(step))
    .bind(user_id)
    .bind(at.tenant())
    .execute(at.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Spends a recovery code: `true` the one time it was unused.
#[tracing::instrument(name = "db spend_recovery_code", level = "debug", skip_all)]
pub async fn spend_recovery_code(at: &Scope, user: &ActorRef, mac: &[u8; 32]) -> Result<bool, sqlx::Error> {
    let mut tx = at.begin().await?;
    let spent = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 \
         WHERE user_id = $2 AND tenant_id = $3 AND code_mac = $4 AND used_at IS NULL",
    )
    .bind(tx.now_micros())
    .bind(&user.id)
    .bind(at.tenant())
    .bind(mac.to_vec())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if spent {
        let left = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND tenant_id = $2 AND used_at IS NULL",
        )
        .bind(&user.id)
        .bind(at.tenant())
        .fetch_one(&mut *tx)
        .await?;
        let left: i64 = col(&left, "n")?;
        audit(
            &mut tx,
            at,
            user,
            Event::new("user.recovery_code_used", "user", &user.id).detail(format!("{left} left")),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(spent)
}

/// Removes the person's TOTP secret and recovery codes.
#[tracing::instrument(name = "db remove_totp", level = "debug", skip_all)]
pub async fn remove_totp(at: &Scope, user: &ActorRef) -> Result<(), sqlx::Error> {
    let mut tx = at.begin().await?;
    sqlx::query(
        "UPDATE users SET totp_secret_sealed = NULL, totp_started_at = NULL, totp_confirmed_at = NULL, \
         totp_last_step = NULL WHERE id = $1 AND tenant_id = $2",
    )
    .bind(&user.id)
    .bind(at.tenant())
    .execute(&mut *tx)
    .await?;
    replace_recovery_codes(&mut tx, at, &user.id, &[]).await?;
    audit(
        &mut tx,
        at,
        user,
        Event::new("user.second_factor_removed", "user", &user.id).detail("authenticator app (TOTP)".to_owned()),
    )
    .await?;
    tx.commit().await
}

/// Keeps the digest of a half-finished sign-in's token.
#[tracing::instrument(name = "db create_mfa_challenge", level = "debug", skip_all)]
pub async fn create_mfa_challenge(
    at: &Scope,
    user_id: &str,
    token_hash: &[u8],
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    // Expired ones go on the way: they are few, and each lives minutes.
    sqlx::query("DELETE FROM mfa_challenges WHERE tenant_id = $1 AND expires_at < $2")
        .bind(at.tenant())
        .bind(at.now_micros())
        .execute(at.pool())
        .await?;
    sqlx::query("INSERT INTO mfa_challenges (token_hash, user_id, tenant_id, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash.to_vec())
        .bind(user_id)
        .bind(at.tenant())
        .bind(expires_at)
        .execute(at.pool())
        .await?;
    Ok(())
}

/// Whom a half-finished sign-in's token is for, without taking it: the
/// passkey options of its second step.
#[tracing::instrument(name = "db mfa_challenge_user", level = "debug", skip_all)]
pub async fn mfa_challenge_user(at: &Scope, token_hash: &[u8]) -> Result<Option<String>, sqlx::Error> {
    let row =
        sqlx::query("SELECT user_id FROM mfa_challenges WHERE token_hash = $1 AND tenant_id = $2 AND expires_at > $3")
            .bind(token_hash.to_vec())
            .bind(at.tenant())
            .bind(at.now_micros())
            .fetch_optional(at.pool())
            .await?;
    row.map(|r| col(&r, "user_id")).transpose()
}

/// Takes a half-finished sign-in's token: the user it was for and when it
/// expires, once, while it has not expired. Taken whatever happens next, so
/// it is single use.
#[tracing::instrument(name = "db take_mfa_challenge", level = "debug", skip_all)]
pub async fn take_mfa_challenge(at: &Scope, token_hash: &[u8]) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM mfa_challenges WHERE token_hash = $1 AND tenant_id = $2 RETURNING user_id, expires_at",
    )
    .bind(token_hash.to_vec())
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: i64 = col(&row, "expires_at")?;
    if expires_at <= at.now_micros() {
        return Ok(None);
    }
    Ok(Some((col(&row, "user_id")?, expires_at)))
}

/// Until when (Unix microseconds) the person's second step is locked by
/// wrong codes (`casebook_domain::lockout`), if it is.
#[tracing::instrument(name = "db code_lock", level = "debug", skip_all)]
pub async fn code_lock(at: &Scope, user_id: &str) -> Result<Option<i64>, sqlx::Error> {
    let now = at.now_micros();
    let rows = sqlx::query("SELECT at FROM second_factor_failures WHERE user_id = $1 AND tenant_id = $2 AND at > $3")
        .bind(user_id)
        .bind(at.tenant())
        .bind(now - lockout::LOOKBACK_MICROS)
        .fetch_all(at.pool())
        .await?;
    let failures = rows
        .iter()
        .map(|r| col::<i64>(r, "at"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lockout::locked_until(&failures, now))
}

/// Counts a wrong code against the person; older ones leave on the way.
#[tracing::instrument(name = "db record_code_failure", level = "debug", skip_all)]
pub async fn record_code_failure(at: &Scope, user_id: &str) -> Result<(), sqlx::Error> {
    let now = at.now_micros();
    sqlx::query("DELETE FROM second_factor_failures WHERE tenant_id = $1 AND at < $2")
        .bind(at.tenant())
        .bind(now - lockout::LOOKBACK_MICROS)
        .execute(at.pool())
        .await?;
    sqlx::query("INSERT INTO second_factor_failures (user_id, tenant_id, at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(at.tenant())
        .bind(now)
        .execute(at.pool())
        .await
        .map(|_| ())
}

/// A right code forgives the wrong ones before it.
#[tracing::instrument(name = "db clear_code_failures", level = "debug", skip_all)]
pub async fn clear_code_failures(at: &Scope, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM second_factor_failures WHERE user_id = $1 AND tenant_id = $2")
        .bind(user_id)
        .bind(at.tenant())
        .execute(at.pool())
        .await
        .map(|_| ())
}

/// Ends what a change of address, password or standing leaves behind: the
/// person's one-time links and half-finished sign-ins, in the change's
/// transaction.
pub(super) async fn end_pending_sign_ins(tx: &mut Tx, at: &Scope, user_id: &str) -> Result<(), sqlx::Error> {
    for statement in [
        "DELETE FROM password_links WHERE user_id = $1 AND tenant_id = $2",
        "DELETE FROM mfa_challenges WHERE user_id = $1 AND tenant_id = $2",
    ] {
        sqlx::query(statement)
            .bind(user_id)
            .bind(at.tenant())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
