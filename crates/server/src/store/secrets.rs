//! Client secrets (the contract's "Client secrets"): several per application, each
//! added, shown, cut short or ended under the grant rule, with notices.

use super::*;
use casebook_domain::Timestamp;
use casebook_domain::secret_lifecycle::{MAX_ACTIVE_SECRETS, Reminder, SecretPolicy, SecretStatus};

/// A stored secret, without its value.
#[derive(Debug, Clone)]
pub struct SecretRecord {
    pub id: String,
    pub label: Option<String>,
    pub created_at: Timestamp,
    /// Its own expiry, as stored; the install's most applies on top (see
    /// [`SecretPolicy::effective_expiry`]).
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// False for a secret kept by MAC alone (one in its grace period when
    /// several secrets arrived): it works but cannot be shown.
    pub revealable: bool,
}

impl SecretRecord {
    pub fn status(&self, policy: &SecretPolicy, now: Timestamp) -> SecretStatus {
        policy.status(now, self.created_at, self.expires_at)
    }

    /// What notices and the audit trail call it.
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.id)
    }
}

const SECRET_COLUMNS: &str =
    "id, label, created_at, expires_at, last_used_at, length(secret_ciphertext) AS sealed_bytes";

fn secret_from(row: &AnyRow) -> Result<SecretRecord, sqlx::Error> {
    Ok(SecretRecord {
        id: col(row, "id")?,
        label: col(row, "label")?,
        created_at: stamp(row, "created_at")?,
        expires_at: col::<Option<i64>>(row, "expires_at")?.map(Timestamp::from_unix_micros),
        last_used_at: col::<Option<i64>>(row, "last_used_at")?.map(Timestamp::from_unix_micros),
        revealable: col::<i64>(row, "sealed_bytes")? > 0,
    })
}

/// A new secret of an application. It is stored sealed, at the reminder
/// stage its expiry already reached (nothing announced that was known at issue).
#[derive(Debug)]
pub struct NewSecret<'a> {
    pub secret: &'a ClientSecret,
    pub label: Option<&'a str>,
    pub expires_at: Option<Timestamp>,
}

pub(super) async fn insert_secret(
    tx: &mut Tx,
    at: &Scope,
    master: &MasterKey,
    application_id: &str,
    new: &NewSecret<'_>,
    now: Timestamp,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO client_secrets (id, application_id, label, secret_ciphertext, secret_mac, created_at, expires_at, reminder_stage, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(application_id)
    .bind(new.label)
    .bind(master.seal(new.secret.expose().as_bytes(), application_id))
    .bind(master.secret_mac(new.secret.expose()).to_vec())
    .bind(now.unix_micros())
    .bind(new.expires_at.map(Timestamp::unix_micros))
    .bind(Reminder::initial_stage(now, new.expires_at))
    .bind(at.tenant())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

async fn secrets_of(tx: &mut Tx, at: &Scope, application_id: &str) -> Result<Vec<SecretRecord>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SECRET_COLUMNS} FROM client_secrets WHERE application_id = $1 AND tenant_id = $2 \
         ORDER BY created_at DESC, id DESC"
    )))
    .bind(application_id)
    .bind(at.tenant())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(secret_from).collect()
}

/// The application's row, locked for the change where the backend can: two
/// admins adding a fifth secret at once must not make seven.
async fn application_for_secrets(
    tx: &mut Tx,
    at: &Scope,
    id: &str,
) -> Result<(String, String, String, String), StoreError> {
    // `touch` takes the row lock (a write) before anything is counted.
    touch(tx, at, "applications", id, "external application").await?;
    let row = sqlx::query(
        "SELECT client_id, name, email, token_endpoint_auth_method FROM applications WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(at.tenant())
    .fetch_one(&mut **tx)
    .await?;
    Ok((
        col(&row, "client_id")?,
        col(&row, "name")?,
        col(&row, "email")?,
        col(&row, "token_endpoint_auth_method")?,
    ))
}

/// Every secret of an application, newest first.
#[tracing::instrument(name = "db list_secrets", level = "debug", skip_all)]
pub async fn list_secrets(at: &Scope, application_id: &str) -> Result<Vec<SecretRecord>, StoreError> {
    let mut tx = at.begin().await?;
    let exists = sqlx::query("SELECT 1 AS one FROM applications WHERE id = $1 AND tenant_id = $2")
        .bind(application_id)
        .bind(at.tenant())
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound("external application"));
    }
    let secrets = secrets_of(&mut tx, at, application_id).await?;
    tx.rollback().await?;
    Ok(secrets)
}

fn too_many_secrets() -> StoreError {
    StoreError::Conflict {
        detail: format!(
            "the application already has {MAX_ACTIVE_SECRETS} active secrets; end one before adding another"
        ),
        holders: None,
    }
}

/// Adds a secret beside the others; answers the client ID and the new
/// secret's record. Refused past [`MAX_ACTIVE_SECRETS`] active ones.
#[tracing::instrument(name = "db add_secret", level = "debug", skip_all)]
pub async fn add_secret(
    at: &Scope,
    master: &MasterKey,
    policy: &SecretPolicy,
    author: &Author,
    application_id: &str,
    new: &NewSecret<'_>,
) -> Result<(String, SecretRecord), StoreError> {
    let mut tx = at.begin().await?;
    authorize_secret_access(at, &mut tx, author, application_id).await?;
    let (client_id, _, _, method) = application_for_secrets(&mut tx, at, application_id).await?;
    // Read under the row's lock: a concurrent move to private_key_jwt must
    // not leave a secret behind that a move back would bring to life.
    if method != casebook_domain::client_keys::AuthMethod::ClientSecretBasic.as_str() {
        return Err(StoreError::Conflict {
            detail: "this application authenticates with private_key_jwt and has no client secrets".into(),
            holders: None,
        });
    }
    let now = Timestamp::from_unix_micros(tx.now_micros());
    let active = secrets_of(&mut tx, at, application_id)
        .await?
        .iter()
        .filter(|s| s.status(policy, now) == SecretStatus::Active)
        .count();
    if active >= MAX_ACTIVE_SECRETS {
        return Err(too_many_secrets());
    }
    let id = insert_secret(&mut tx, at, master, application_id, new, now).await?;
    let detail = match new.label {
        Some(label) => format!("secret {id} ({label}) added"),
        None => format!("secret {id} added"),
    };
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new("application.secret_added", "application", application_id).detail(detail),
    )
    .await?;
    let record = secrets_of(&mut tx, at, application_id)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(StoreError::NotFound("client secret"))?;
    tx.commit().await?;
    Ok((client_id, record))
}

/// Shows a secret: the one named, or else the newest active one that can be
/// shown (what the key icon and `client-secret/reveal` show).
#[tracing::instrument(name = "db reveal_secret", level = "debug", skip_all)]
pub async fn reveal_secret(
    at: &Scope,
    master: &MasterKey,
    policy: &SecretPolicy,
    author: &Author,
    application_id: &str,
    secret_id: Option<&str>,
) -> Result<(String, SecretRecord, ClientSecret), StoreError> {
    let mut tx = at.begin().await?;
    authorize_secret_access(at, &mut tx, author, application_id).await?;
    let row = sqlx::query("SELECT client_id, name, email FROM applications WHERE id = $1 AND tenant_id = $2")
        .bind(application_id)
        .bind(at.tenant())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("external application"))?;
    let now = Timestamp::from_unix_micros(tx.now_micros());
    let secrets = secrets_of(&mut tx, at, application_id).await?;
    let chosen = match secret_id {
        Some(wanted) => secrets
            .into_iter()
            .find(|s| s.id == wanted)
            .ok_or(StoreError::NotFound("client secret"))?,
        None => secrets
            .into_iter()
            .find(|s| s.revealable && s.status(policy, now) == SecretStatus::Active)
            .ok_or_else(|| StoreError::Conflict {
                detail: "the application has no active secret that can be shown; add one".into(),
                holders: None,
            })?,
    };
    if !chosen.revealable {
        return Err(StoreError::Conflict {
            detail: "this secret was kept only as a fingerprint and cannot be shown; add a new one".into(),
            holders: None,
        });
    }
    let sealed_row = sqlx::query("SELECT secret_ciphertext FROM client_secrets WHERE id = $1 AND tenant_id = $2")
        .bind(&chosen.id)
        .bind(at.tenant())
        .fetch_one(&mut *tx)
        .await?;
    let sealed: Vec<u8> = col(&sealed_row, "secret_ciphertext")?;
    let plain = master.open(&sealed, application_id).map_err(StoreError::corrupt)?;
    let secret = String::from_utf8(plain).map_err(StoreError::corrupt)?;
    let actor = &author.actor;
    audit(
        &mut tx,
        at,
        actor,
        Event::new("application.secret_revealed", "application", application_id)
            .detail(format!("secret {}", chosen.id)),
    )
    .await?;
    let (name, email): (String, String) = (col(&row, "name")?, col(&row, "email")?);
    let notice = Notice::SecretRevealed {
        application: &name,
        by: &actor.name,
    };
    outbox::enqueue(&mut tx, at, &email, &notice).await?;
    tx.commit().await?;
    Ok((col(&row, "client_id")?, chosen, ClientSecret::from_presented(secret)))
}

/// Ends one secret at once; the others keep working, and so do tokens
/// already issued (they live out their hour: disable the application, or
/// report the secret leaked, to end those too). Answers the client ID.
#[tracing::instrument(name = "db end_secret", level = "debug", skip_all)]
pub async fn end_secret(
    at: &Scope,
    author: &Author,
    application_id: &str,
    secret_id: &str,
) -> Result<String, StoreError> {
    let mut tx = at.begin().await?;
    authorize_secret_access(at, &mut tx, author, application_id).await?;
    let (client_id, _, _, _) = application_for_secrets(&mut tx, at, application_id).await?;
    let ended = sqlx::query(
        "DELETE FROM client_secrets WHERE id = $1 AND application_id = $2 AND tenant_id = $3 RETURNING label",
    )
    .bind(secret_id)
    .bind(application_id)
    .bind(at.tenant())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound("client secret"))?;
    let detail = match col::<Option<String>>(&ended, "label")? {
        Some(label) => format!("secret {secret_id} ({label}) ended"),
        None => format!("secret {secret_id} ended"),
    };
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new("application.secret_ended", "application", application_id).detail(detail),
    )
    .await?;
    tx.commit().await?;
    Ok(client_id)
}

fn rotation_past_the_cap() -> StoreError {
    StoreError::Conflict {
        detail: format!(
            "a rotation with a grace period keeps the other secrets working, and the application already has \
             {MAX_ACTIVE_SECRETS} active secrets counting them; end one of its secrets first, or rotate with no \
             grace period (grace_period_seconds 0), which ends the others at once"
        ),
        holders: None,
    }
}

/// Issues a new secret and ends every other one after `grace_micros`. With
/// no grace period the rotation answers a leak: the others stop at once and
/// so does every token issued so far (a new token generation). Answers the
/// client ID and until when the others still work.
///
/// Secrets in their grace period still open the client, so they count
/// toward [`MAX_ACTIVE_SECRETS`] as added ones do; otherwise repeated
/// rotations would keep any number working at once.
#[tracing::instrument(name = "db rotate_secret", level = "debug", skip_all)]
pub async fn rotate_secret(
    at: &Scope,
    master: &MasterKey,
    policy: &SecretPolicy,
    author: &Author,
    id: &str,
    new: &NewSecret<'_>,
    grace_micros: i64,
) -> Result<(String, Option<i64>), StoreError> {
    let mut tx = at.begin().await?;
    authorize_secret_access(at, &mut tx, author, id).await?;
    let actor = &author.actor;
    let (client_id, name, email, _) = application_for_secrets(&mut tx, at, id).await?;
    let now = Timestamp::from_unix_micros(tx.now_micros());
    let others_until = (grace_micros > 0).then_some(now.unix_micros() + grace_micros);
    if others_until.is_some() {
        // Counted under the row lock `application_for_secrets` took, as in
        // `add_secret`: two rotations at once cannot both squeeze in.
        let active = secrets_of(&mut tx, at, id)
            .await?
            .iter()
            .filter(|s| s.status(policy, now) == SecretStatus::Active)
            .count();
        if active + 1 > MAX_ACTIVE_SECRETS {
            return Err(rotation_past_the_cap());
        }
    }
    match others_until {
        // Never lengthens one that ends sooner.
        Some(until) => {
            sqlx::query(
                "UPDATE client_secrets SET expires_at = $1 \
                 WHERE application_id = $2 AND tenant_id = $3 AND (expires_at IS NULL OR expires_at > $1)",
            )
            .bind(until)
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM client_secrets WHERE application_id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(at.tenant())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE applications SET token_generation = token_generation + 1 WHERE id = $1 AND tenant_id = $2",
            )
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
        }
    }
    insert_secret(&mut tx, at, master, id, new, now).await?;
    audit(
        &mut tx,
        at,
        actor,
        Event::new("application.secret_rotated", "application", id)
            .detail(format!("grace period {} s", grace_micros / 1_000_000)),
    )
    .await?;
    let until = others_until.map(micros_to_rfc3339);
    let notice = Notice::SecretRotated {
        application: &name,
        by: &actor.name,
        old_secret_valid_until: until.as_deref(),
    };
    outbox::enqueue(&mut tx, at, &email, &notice).await?;
    tx.commit().await?;
    Ok((client_id, others_until))
}

/// A secret opens everything its application holds, so seeing or replacing
/// it is a change to that account under the grant rule: nobody obtains the
/// credentials of an application more powerful than themselves.
async fn authorize_secret_access(at: &Scope, tx: &mut Tx, author: &Author, id: &str) -> Result<(), StoreError> {
    let grantor = grants::Grantor::read(at, tx, author).await?;
    let held = held_permissions(tx, at, RoleHolder::Application(id)).await?;
    grantor.authorize(GrantChange::Change {
        before: held,
        after: held,
    })
}

/// Checked before the caller's password is asked for, so that a refusal
/// does not cost a lockout attempt; checked again in the change itself.
#[tracing::instrument(name = "db may_access_secret", level = "debug", skip_all)]
pub async fn may_access_secret(at: &Scope, author: &Author, id: &str) -> Result<(), StoreError> {
    let mut tx = at.begin().await?;
    authorize_secret_access(at, &mut tx, author, id).await?;
    tx.rollback().await?;
    Ok(())
}
