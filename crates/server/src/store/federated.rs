//! Federated credentials: outside identities an application trusts.
//!
//! Adding one lets whoever holds that identity's tokens act as the
//! application, so adding and removing go through the grant rule like
//! revealing its secret: nobody opens a door to an application more powerful
//! than themselves.

use super::*;
use casebook_domain::client_keys::ClientKeySet;
use casebook_domain::client_keys::{JwksUri, KeySource};
use casebook_domain::federated::{MAX_PER_APPLICATION, NewFederatedCredential, TrustedIdentity};
use serde_json::{Map, Value};

/// A stored credential, as the admin API shows it.
#[derive(Debug, Clone)]
pub struct FederatedCredentialRecord {
    pub id: String,
    pub application_id: String,
    pub name: String,
    pub identity: TrustedIdentity,
    pub keys: KeySource,
    pub created_at: casebook_domain::Timestamp,
    pub created_by: ActorRef,
}

const COLUMNS: &str = "id, application_id, name, issuer, subject, audience, claims, jwks, jwks_uri, \
     max_token_lifetime_seconds, single_use, created_at, created_by_kind, created_by_id, created_by_name";

fn credential_from(row: &AnyRow) -> Result<FederatedCredentialRecord, StoreError> {
    let claims: String = col(row, "claims")?;
    let claims: Map<String, Value> = serde_json::from_str(&claims).map_err(StoreError::corrupt)?;
    let jwks: Option<String> = col(row, "jwks")?;
    let jwks_uri: Option<String> = col(row, "jwks_uri")?;
    let keys = match (jwks, jwks_uri) {
        (Some(jwks), _) => {
            let value: Value = serde_json::from_str(&jwks).map_err(StoreError::corrupt)?;
            KeySource::Inline(ClientKeySet::parse_stored(&value).map_err(StoreError::corrupt)?)
        }
        // Checked when it was added; the address rule is the fetcher's now.
        (None, Some(uri)) => {
            KeySource::Uri(JwksUri::parse("jwks_uri", &uri, true).map_err(|e| StoreError::corrupt(e.message))?)
        }
        (None, None) => return Err(StoreError::corrupt("a federated credential without keys")),
    };
    Ok(FederatedCredentialRecord {
        id: col(row, "id")?,
        application_id: col(row, "application_id")?,
        name: col(row, "name")?,
        identity: TrustedIdentity {
            issuer: col(row, "issuer")?,
            subject: col(row, "subject")?,
            audience: col(row, "audience")?,
            claims,
            max_token_lifetime_secs: col(row, "max_token_lifetime_seconds")?,
            single_use: col::<i64>(row, "single_use")? != 0,
        },
        keys,
        created_at: stamp(row, "created_at")?,
        created_by: actor_from(row, "created_by")?,
    })
}

/// The grant rule for a credential of application `id`: the author must
/// hold everything the application holds. 404 when there is no application.
async fn authorize(at: &Scope, tx: &mut Tx, author: &Author, id: &str) -> Result<(), StoreError> {
    let exists = sqlx::query("SELECT 1 AS one FROM applications WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(at.tenant())
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound("external application"));
    }
    let grantor = grants::Grantor::read(at, tx, author).await?;
    let held = held_permissions(tx, at, RoleHolder::Application(id)).await?;
    grantor.authorize(GrantChange::Change {
        before: held,
        after: held,
    })
}

#[tracing::instrument(name = "db add_federated_credential", level = "debug", skip_all)]
pub async fn add_federated_credential(
    at: &Scope,
    author: &Author,
    application_id: &str,
    credential: &NewFederatedCredential,
) -> Result<FederatedCredentialRecord, StoreError> {
    let mut tx = at.begin().await?;
    authorize(at, &mut tx, author, application_id).await?;
    let count: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM federated_credentials WHERE application_id = $1 AND tenant_id = $2")
            .bind(application_id)
            .bind(at.tenant())
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| col(&row, "n"))?;
    if count >= MAX_PER_APPLICATION as i64 {
        return Err(StoreError::Conflict {
            detail: format!(
                "this application already trusts {MAX_PER_APPLICATION} outside identities, the most it may; remove one first"
            ),
            holders: None,
        });
    }
    let (jwks, jwks_uri) = match &credential.keys {
        KeySource::Inline(set) => (Some(set.to_json().to_string()), None),
        KeySource::Uri(uri) => (None, Some(uri.as_str().to_owned())),
    };
    let id = new_id();
    let identity = &credential.identity;
    let actor = &author.actor;
    let inserted = sqlx::query(
        "INSERT INTO federated_credentials (id, application_id, name, issuer, subject, audience, claims, jwks, jwks_uri, \
           max_token_lifetime_seconds, single_use, created_at, created_by_kind, created_by_id, created_by_name, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&id)
    .bind(application_id)
    .bind(&credential.name)
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(identity.audience.as_deref())
    .bind(Value::Object(identity.claims.clone()).to_string())
    .bind(jwks)
    .bind(jwks_uri)
    .bind(identity.max_token_lifetime_secs)
    .bind(i64::from(identity.single_use))
    .bind(tx.now_micros())
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(at.tenant())
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::refused(FieldError::new(
                "name",
                ErrorCode::NameInUse,
                format!(
                    "this application already has a federated credential named {:?}",
                    credential.name
                ),
            )));
        }
        other => other?,
    };
    audit(
        &mut tx,
        at,
        actor,
        Event::new("application.federated_credential_added", "application", application_id).detail(format!(
            "{:?}: issuer {:?}, subject {:?}",
            credential.name, identity.issuer, identity.subject
        )),
    )
    .await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM federated_credentials WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(&id)
    .bind(at.tenant())
    .fetch_one(&mut *tx)
    .await?;
    let record = credential_from(&row)?;
    tx.commit().await?;
    Ok(record)
}

/// Every credential of the application, oldest first; 404 when there is no application.
#[tracing::instrument(name = "db list_federated_credentials", level = "debug", skip_all)]
pub async fn list_federated_credentials(
    at: &Scope,
    application_id: &str,
) -> Result<Vec<FederatedCredentialRecord>, StoreError> {
    get_application(at, application_id).await?;
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM federated_credentials WHERE application_id = $1 AND tenant_id = $2 ORDER BY id"
    )))
    .bind(application_id)
    .bind(at.tenant())
    .fetch_all(at.pool())
    .await?;
    rows.iter().map(credential_from).collect()
}

#[tracing::instrument(name = "db remove_federated_credential", level = "debug", skip_all)]
pub async fn remove_federated_credential(
    at: &Scope,
    author: &Author,
    application_id: &str,
    credential_id: &str,
) -> Result<(), StoreError> {
    let mut tx = at.begin().await?;
    authorize(at, &mut tx, author, application_id).await?;
    let removed = sqlx::query(
        "DELETE FROM federated_credentials WHERE id = $1 AND application_id = $2 AND tenant_id = $3 \
         RETURNING name, issuer, subject",
    )
    .bind(credential_id)
    .bind(application_id)
    .bind(at.tenant())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound("federated credential"))?;
    let (name, issuer, subject): (String, String, String) = (
        col(&removed, "name")?,
        col(&removed, "issuer")?,
        col(&removed, "subject")?,
    );
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new(
            "application.federated_credential_removed",
            "application",
            application_id,
        )
        .detail(format!("{name:?}: issuer {issuer:?}, subject {subject:?}")),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The credentials of the application that trust this issuer and subject:
/// the candidates an outside token is judged against.
#[tracing::instrument(name = "db federated_candidates", level = "debug", skip_all)]
pub async fn federated_candidates(
    at: &Scope,
    application_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<Vec<FederatedCredentialRecord>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM federated_credentials \
         WHERE application_id = $1 AND issuer = $2 AND subject = $3 AND tenant_id = $4 ORDER BY id"
    )))
    .bind(application_id)
    .bind(issuer)
    .bind(subject)
    .bind(at.tenant())
    .fetch_all(at.pool())
    .await?;
    rows.iter().map(credential_from).collect()
}

/// The contract ("Audit trail"): every exchange is in the trail, with the application as its actor.
#[tracing::instrument(name = "db record_federated_exchange", level = "debug", skip_all)]
pub async fn record_federated_exchange(
    at: &Scope,
    application: &ActorRef,
    credential: &FederatedCredentialRecord,
) -> Result<(), StoreError> {
    let mut tx = at.begin().await?;
    audit(
        &mut tx,
        at,
        application,
        Event::new("application.federated_token_issued", "application", &application.id).detail(format!(
            "credential {:?} ({}): issuer {:?}, subject {:?}",
            credential.name, credential.id, credential.identity.issuer, credential.identity.subject
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
