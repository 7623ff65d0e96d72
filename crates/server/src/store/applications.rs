//! Registered external applications.

use super::secrets::{NewSecret, insert_secret};
use super::*;
use casebook_domain::auth_method_form::{CredentialChange, Credentials};
use casebook_domain::client_keys::{AuthMethod, KeySource};
use casebook_domain::secret_lifecycle::SecretPolicy;

fn application_from(row: &AnyRow, roles: &mut HashMap<String, Vec<String>>) -> Result<ApplicationRecord, sqlx::Error> {
    let id: String = col(row, "id")?;
    Ok(ApplicationRecord {
        role_ids: roles.remove(&id).unwrap_or_default(),
        id,
        name: col(row, "name")?,
        email: col(row, "email")?,
        application_url: col(row, "application_url")?,
        description: col(row, "description")?,
        client_id: col(row, "client_id")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        auth_method: col(row, "token_endpoint_auth_method")?,
        jwks: col(row, "jwks")?,
        jwks_uri: col(row, "jwks_uri")?,
        limits: LimitColumns::read(row)?,
        dpop_bound_access_tokens: col::<i64>(row, "dpop_bound_access_tokens")? != 0,
        created_at: stamp(row, "created_at")?,
        updated_at: stamp(row, "updated_at")?,
    })
}

const APPLICATION_COLUMNS: &str = "id, client_id, name, email, application_url, description, enabled, token_endpoint_auth_method, jwks, jwks_uri, \
     allowed_sources, token_quota_per_hour, dpop_bound_access_tokens, created_at, updated_at";

/// The `jwks` and `jwks_uri` columns of a key source: one of them set.
fn key_columns(keys: &KeySource) -> (Option<String>, Option<String>) {
    match keys {
        KeySource::Inline(set) => (Some(set.to_json().to_string()), None),
        KeySource::Uri(uri) => (None, Some(uri.as_str().to_owned())),
    }
}

/// The first secret of an application, or of one moving back to a secret:
/// unlabelled, expiring as the install's most says.
fn first_secret<'a>(policy: &SecretPolicy, secret: &'a ClientSecret, now: casebook_domain::Timestamp) -> NewSecret<'a> {
    NewSecret {
        secret,
        label: None,
        // The most alone decides: no expiry was asked for, so none is refused.
        expires_at: policy.expiry_of_new_secret(now, None).unwrap_or_default(),
    }
}

#[tracing::instrument(name = "db list_applications", level = "debug", skip_all)]
pub async fn list_applications(
    at: &Scope,
    cursor: Option<&str>,
    limit: u32,
    name: Option<&str>,
    email: Option<&str>,
    client_id: Option<&str>,
) -> Result<Listed<ApplicationRecord>, sqlx::Error> {
    let mut clauses = Vec::new();
    let mut binds: Vec<String> = vec![at.tenant().to_owned()];
    if let Some(c) = cursor {
        binds.push(c.to_owned());
        clauses.push(format!("id > ${}", binds.len()));
    }
    let escape = |s: &str| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let like = |s: &str| format!("%{}%", escape(&casebook_domain::text::fold(s)));
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        binds.push(like(n));
        clauses.push(format!("name_key LIKE ${} ESCAPE '\\'", binds.len()));
    }
    if let Some(e) = email.filter(|e| !e.is_empty()) {
        // The normalised address, lowercased by the same code that compares
        // it, after the tenant's key prefix: a substring of the prefix is
        // not a match.
        binds.push(format!("{}{}", escape(&at.unique_key("")), like(e)));
        clauses.push(format!(
            "id IN (SELECT account_id FROM account_emails \
             WHERE tenant_id = $1 AND account_kind = 'application' AND email LIKE ${} ESCAPE '\\')",
            binds.len()
        ));
    }
    if let Some(client_id) = client_id.map(str::trim).filter(|c| !c.is_empty()) {
        // The identifier a partner quotes: whole, as issued.
        binds.push(client_id.to_owned());
        clauses.push(format!("client_id = ${}", binds.len()));
    }
    let filter: String = clauses.iter().map(|c| format!(" AND {c}")).collect();
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications WHERE tenant_id = $1{filter} ORDER BY id LIMIT ${}",
        binds.len() + 1
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in &binds {
        query = query.bind(b);
    }
    let rows = query.bind(i64::from(limit) + 1).fetch_all(at.pool()).await?;
    let ids: Vec<String> = rows.iter().map(|r| col(r, "id")).collect::<Result<_, _>>()?;
    let mut roles = roles_of(
        at,
        AccountKind::Application,
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| application_from(r, &mut roles))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |a| &a.id))
}

#[tracing::instrument(name = "db get_application", level = "debug", skip_all)]
pub async fn get_application(at: &Scope, id: &str) -> Result<ApplicationRecord, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?
    .ok_or(StoreError::NotFound("external application"))?;
    let mut roles = roles_of(at, AccountKind::Application, &[id]).await?;
    Ok(application_from(&row, &mut roles)?)
}

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(name = "db create_application", level = "debug", skip_all)]
pub async fn create_application(
    at: &Scope,
    master: &MasterKey,
    policy: &SecretPolicy,
    callback_url: &str,
    author: &Author,
    app: &NewApplication,
    client_id: &ClientId,
    secret: &ClientSecret,
) -> Result<ApplicationRecord, StoreError> {
    let id = new_id();
    let (jwks, jwks_uri) = match app.credentials() {
        Credentials::Secret => (None, None),
        Credentials::Keys(keys) => key_columns(keys),
    };
    let now = at.now_micros();
    let mut tx = at.begin().await?;
    let grantor = grants::Grantor::read(at, &mut tx, author).await?;
    let after = grants::permissions_of_roles(&mut tx, at, app.roles()).await?;
    grantor.authorize(GrantChange::Create { after })?;
    claim_email(
        &mut tx,
        at,
        app.email(),
        &AccountRef::new(AccountKind::Application, &id),
    )
    .await?;
    sqlx::query(
        "INSERT INTO applications (id, client_id, name, email, application_url, description, enabled, \
         created_at, updated_at, name_key, token_endpoint_auth_method, jwks, jwks_uri, tenant_id, \
         dpop_bound_access_tokens) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&id)
    .bind(client_id.as_str())
    .bind(app.name().as_ref())
    .bind(app.email().as_str())
    .bind(app.application_url())
    .bind(app.description())
    .bind(now)
    .bind(casebook_domain::text::fold(app.name().as_ref()))
    .bind(app.credentials().method().as_str())
    .bind(jwks)
    .bind(jwks_uri)
    .bind(at.tenant())
    .bind(i64::from(app.dpop_bound_access_tokens()))
    .execute(&mut *tx)
    .await?;
    if matches!(app.credentials(), Credentials::Secret) {
        let now = casebook_domain::Timestamp::from_unix_micros(tx.now_micros());
        insert_secret(&mut tx, at, master, &id, &first_secret(policy, secret, now), now).await?;
    }
    set_roles(&mut tx, at, RoleHolder::Application(&id), app.roles()).await?;
    set_limits(
        &mut tx,
        at,
        &id,
        app.allowed_sources().map(Some),
        app.token_quota_per_hour().map(Some),
    )
    .await?;
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new("application.registered", "application", &id)
            .named(app.name().as_ref())
            .detail(app.name().to_string()),
    )
    .await?;
    let notice = Notice::Registered {
        application: app.name().as_ref(),
        client_id: client_id.as_str(),
        callback_url,
        private_key_jwt: matches!(app.credentials(), Credentials::Keys(_)),
    };
    outbox::enqueue(&mut tx, at, app.email().as_str(), &notice).await?;
    tx.commit().await?;
    get_application(at, &id).await
}

/// `new_secret` is used only if the change moves a `private_key_jwt`
/// application back to a client secret.
#[tracing::instrument(name = "db update_application", level = "debug", skip_all)]
pub async fn update_application(
    at: &Scope,
    master: &MasterKey,
    policy: &SecretPolicy,
    author: &Author,
    id: &str,
    change: &ValidApplicationChange,
    new_secret: &ClientSecret,
) -> Result<ApplicationRecord, StoreError> {
    let mut tx = at.begin().await?;
    touch(&mut tx, at, "applications", id, "external application").await?;
    let snapshot = snapshots::ApplicationSnapshot::read(&mut tx, at, id).await?;
    let grantor = grants::Grantor::read(at, &mut tx, author).await?;
    let before = held_permissions(&mut tx, at, RoleHolder::Application(id)).await?;
    if let Some(email) = change.email() {
        move_email(
            &mut tx,
            at,
            "applications",
            &AccountRef::new(AccountKind::Application, id),
            email,
        )
        .await?;
    }
    if let Some(name) = change.name() {
        set_text(&mut tx, at, "applications", "name", id, Some(name.as_ref())).await?;
        set_text(
            &mut tx,
            at,
            "applications",
            "name_key",
            id,
            Some(&casebook_domain::text::fold(name.as_ref())),
        )
        .await?;
    }
    if let Some(url) = change.application_url() {
        set_text(&mut tx, at, "applications", "application_url", id, url).await?;
    }
    if let Some(description) = change.description() {
        set_text(&mut tx, at, "applications", "description", id, description).await?;
    }
    if let Some(enabled) = change.enabled() {
        sqlx::query("UPDATE applications SET enabled = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(i64::from(enabled))
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
    }
    if let Some(required) = change.dpop_bound_access_tokens() {
        let moved = sqlx::query(
            "UPDATE applications SET dpop_bound_access_tokens = $1 \
             WHERE id = $2 AND tenant_id = $3 AND dpop_bound_access_tokens <> $1",
        )
        .bind(i64::from(required))
        .bind(id)
        .bind(at.tenant())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        // Requiring DPoP ends the bearer tokens already out: otherwise a
        // stolen one would outlive the requirement by up to an hour.
        if moved && required {
            end_live_tokens(&mut tx, at, id).await?;
        }
    }
    if change.enabled() == Some(false) {
        // Every token issued so far stays refused after a later re-enable.
        end_live_tokens(&mut tx, at, id).await?;
    }
    if let Some(roles) = change.roles() {
        set_roles(&mut tx, at, RoleHolder::Application(id), roles).await?;
    }
    let new_secret = first_secret(
        policy,
        new_secret,
        casebook_domain::Timestamp::from_unix_micros(tx.now_micros()),
    );
    let credentials = change_credentials(&mut tx, at, master, id, change.credentials(), &new_secret).await?;
    let limits = set_limits(&mut tx, at, id, change.allowed_sources(), change.token_quota_per_hour()).await?;
    let after = held_permissions(&mut tx, at, RoleHolder::Application(id)).await?;
    grantor.authorize(GrantChange::Change { before, after })?;
    let actor = &author.actor;
    let after_change = snapshots::ApplicationSnapshot::read(&mut tx, at, id).await?;
    let verb = casebook_domain::audit::change_verb(snapshot.enabled, after_change.enabled);
    let detail = [credentials, limits]
        .into_iter()
        .flatten()
        .reduce(|a, b| format!("{a}; {b}"));
    audit(
        &mut tx,
        at,
        actor,
        Event::new(format!("application.{verb}"), "application", id)
            .named(&after_change.name)
            .detail(detail)
            .changes(snapshot.changes_to(&after_change)),
    )
    .await?;
    // The partner hears of a disable once, when it happens.
    if snapshot.enabled && !after_change.enabled {
        let notice = Notice::Disabled {
            application: &after_change.name,
            by: &actor.name,
        };
        outbox::enqueue(&mut tx, at, after_change.email(), &notice).await?;
    }
    tx.commit().await?;
    get_application(at, id).await
}

/// Removes an application; returns its client ID so caches can drop it.
#[tracing::instrument(name = "db delete_application", level = "debug", skip_all)]
pub async fn delete_application(at: &Scope, author: &Author, id: &str) -> Result<String, StoreError> {
    let mut tx = at.begin().await?;
    let grantor = grants::Grantor::read(at, &mut tx, author).await?;
    let before = held_permissions(&mut tx, at, RoleHolder::Application(id)).await?;
    grantor.authorize(GrantChange::Remove { before })?;
    let actor = &author.actor;
    let row = sqlx::query("DELETE FROM applications WHERE id = $1 AND tenant_id = $2 RETURNING client_id, name, email")
        .bind(id)
        .bind(at.tenant())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("external application"))?;
    release_email(&mut tx, at, &AccountRef::new(AccountKind::Application, id)).await?;
    let (name, email): (String, String) = (col(&row, "name")?, col(&row, "email")?);
    audit(
        &mut tx,
        at,
        actor,
        Event::new("application.removed", "application", id)
            .named(&name)
            .detail(name.clone()),
    )
    .await?;
    let notice = Notice::Deleted {
        application: &name,
        by: &actor.name,
    };
    outbox::enqueue(&mut tx, at, &email, &notice).await?;
    tx.commit().await?;
    Ok(col(&row, "client_id")?)
}

/// Applies a change of authentication; returns what the audit trail says of
/// it. Moving to keys ends the secret at once (and its grace period); moving
/// back to a secret drops the keys and seals `new_secret`. The stored method
/// is re-read here, so a concurrent change cannot leave an application with
/// `private_key_jwt` and no keys.
async fn change_credentials(
    tx: &mut Tx,
    at: &Scope,
    master: &MasterKey,
    id: &str,
    change: &CredentialChange,
    new_secret: &NewSecret<'_>,
) -> Result<Option<String>, StoreError> {
    if change.method.is_none() && change.keys.is_none() {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT token_endpoint_auth_method, jwks, jwks_uri FROM applications WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(at.tenant())
    .fetch_one(&mut **tx)
    .await?;
    let stored = AuthMethod::parse(&col::<String>(&row, "token_endpoint_auth_method")?);
    let has_keys = col::<Option<String>>(&row, "jwks")?.is_some() || col::<Option<String>>(&row, "jwks_uri")?.is_some();
    let method = change.method.or(stored);
    let detail = match (method, &change.keys) {
        (Some(AuthMethod::PrivateKeyJwt), keys) if keys.is_some() || has_keys => {
            // New keys of either kind replace both columns; none keeps both.
            let (jwks, jwks_uri) = keys.as_ref().map(key_columns).unwrap_or_default();
            sqlx::query(
                "UPDATE applications SET token_endpoint_auth_method = $1, \
                 jwks = CASE WHEN $4 = 1 THEN $2 ELSE jwks END, jwks_uri = CASE WHEN $4 = 1 THEN $5 ELSE jwks_uri END \
                 WHERE id = $3 AND tenant_id = $6",
            )
            .bind(AuthMethod::PrivateKeyJwt.as_str())
            .bind(jwks)
            .bind(id)
            .bind(i64::from(keys.is_some()))
            .bind(jwks_uri)
            .bind(at.tenant())
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM client_secrets WHERE application_id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(at.tenant())
                .execute(&mut **tx)
                .await?;
            if stored != Some(AuthMethod::PrivateKeyJwt) {
                end_live_tokens(tx, at, id).await?;
            }
            match (stored, keys) {
                (Some(AuthMethod::PrivateKeyJwt), Some(KeySource::Inline(set))) => {
                    format!("public keys replaced ({})", set.keys().len())
                }
                (Some(AuthMethod::PrivateKeyJwt), Some(KeySource::Uri(uri))) => {
                    format!("public keys now fetched from {uri}")
                }
                (Some(AuthMethod::PrivateKeyJwt), None) => return Ok(None),
                _ => "authentication moved to private_key_jwt; the client secret and live tokens no longer work"
                    .to_owned(),
            }
        }
        (Some(AuthMethod::ClientSecretBasic), None) if stored == Some(AuthMethod::PrivateKeyJwt) => {
            sqlx::query(
                "UPDATE applications SET token_endpoint_auth_method = $1, jwks = NULL, jwks_uri = NULL \
                 WHERE id = $2 AND tenant_id = $3",
            )
            .bind(AuthMethod::ClientSecretBasic.as_str())
            .bind(id)
            .bind(at.tenant())
            .execute(&mut **tx)
            .await?;
            end_live_tokens(tx, at, id).await?;
            let now = casebook_domain::Timestamp::from_unix_micros(tx.now_micros());
            insert_secret(tx, at, master, id, new_secret, now).await?;
            "authentication moved to client_secret_basic with a new secret; live tokens ended".to_owned()
        }
        (Some(AuthMethod::ClientSecretBasic), None) => return Ok(None),
        (Some(AuthMethod::PrivateKeyJwt), _) => {
            return Err(StoreError::refused(FieldError::new(
                "jwks",
                ErrorCode::Required,
                "a private_key_jwt application needs jwks (a JWK Set of 1 to 5 public keys) or jwks_uri (an https URL of one)",
            )));
        }
        _ => {
            return Err(StoreError::refused(FieldError::new(
                "jwks",
                ErrorCode::InvalidValue,
                "jwks is for private_key_jwt applications only; set token_endpoint_auth_method to private_key_jwt",
            )));
        }
    };
    Ok(Some(detail))
}

/// Ends every token the application holds now (a new token generation):
/// what a change of how it proves who it is must do, since a token got with
/// the old credential would otherwise outlive it by up to an hour.
async fn end_live_tokens(tx: &mut Tx, at: &Scope, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE applications SET token_generation = token_generation + 1 WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(at.tenant())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
