//! One-time links that set a password: invitations and resets. Only a
//! digest of each link's token is stored; the message that carries the
//! token is sealed in the outbox until it is sent.

use super::*;
use casebook_domain::mfa::LinkPurpose;
use casebook_domain::notice::PasswordLinkNotice;

/// A link to write, and the message that carries it.
pub struct NewLink<'a> {
    pub purpose: LinkPurpose,
    pub token_hash: &'a [u8],
    /// The full message, with the link; sealed before it is stored.
    pub notice: &'a PasswordLinkNotice<'a>,
    pub link: &'a str,
}

impl std::fmt::Debug for NewLink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewLink")
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// Writes the link and queues its message, in the caller's transaction.
/// A new link of a purpose replaces the person's earlier ones of it: only
/// the newest message works.
pub(super) async fn write_link(
    tx: &mut Tx,
    at: &Scope,
    master: &MasterKey,
    user_id: &str,
    email: &str,
    link: &NewLink<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM password_links WHERE user_id = $1 AND tenant_id = $2 AND purpose = $3")
        .bind(user_id)
        .bind(at.tenant())
        .bind(link.purpose.as_str())
        .execute(&mut **tx)
        .await?;
    let now = tx.now_micros();
    sqlx::query(
        "INSERT INTO password_links (token_hash, user_id, tenant_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(link.token_hash.to_vec())
    .bind(user_id)
    .bind(at.tenant())
    .bind(link.purpose.as_str())
    .bind(now)
    .bind(now + link.purpose.lifetime_secs() * 1_000_000)
    .execute(&mut **tx)
    .await?;
    enqueue_sealed(
        tx,
        at,
        master,
        email,
        &link.notice.subject(),
        &link.notice.body_without_link(),
        &link.notice.body(link.link),
    )
    .await
}

/// The person an address belongs to, for a reset: their id and name, when
/// it is a user's (never an application's) address.
#[tracing::instrument(name = "db user_for_reset", level = "debug", skip_all)]
pub async fn user_by_email(at: &Scope, email: &Email) -> Result<Option<(String, String, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.email FROM account_emails e \
         JOIN users u ON u.id = e.account_id AND u.tenant_id = $2 \
         WHERE e.email = $1 AND e.account_kind = 'user' AND e.tenant_id = $2",
    )
    .bind(at.unique_key(email.normalized()))
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?;
    row.map(|r| Ok((col(&r, "id")?, col(&r, "name")?, col(&r, "email")?)))
        .transpose()
}

/// Writes a reset link for a user and queues its message, with
/// `user.password_reset_requested` in the trail.
#[tracing::instrument(name = "db request_password_reset", level = "debug", skip_all)]
pub async fn request_password_reset(
    at: &Scope,
    master: &MasterKey,
    user: &ActorRef,
    email: &str,
    link: &NewLink<'_>,
) -> Result<(), sqlx::Error> {
    let mut tx = at.begin().await?;
    write_link(&mut tx, at, master, &user.id, email, link).await?;
    audit(
        &mut tx,
        at,
        user,
        Event::new("user.password_reset_requested", "user", &user.id).named(email),
    )
    .await?;
    tx.commit().await
}

/// Whom a link is for, while it is unused and unexpired.
#[derive(Debug)]
pub struct LinkHolder {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub purpose: LinkPurpose,
}

/// Reads a link without using it: a password the policy refuses must leave
/// the link working.
#[tracing::instrument(name = "db password_link", level = "debug", skip_all)]
pub async fn password_link(at: &Scope, token_hash: &[u8]) -> Result<Option<LinkHolder>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT l.user_id, l.purpose, u.name, u.email FROM password_links l \
         JOIN users u ON u.id = l.user_id AND u.tenant_id = $2 \
         WHERE l.token_hash = $1 AND l.tenant_id = $2 AND l.expires_at > $3",
    )
    .bind(token_hash.to_vec())
    .bind(at.tenant())
    .bind(at.now_micros())
    .fetch_optional(at.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let Some(purpose) = LinkPurpose::parse(&col::<String>(&row, "purpose")?) else {
        return Ok(None);
    };
    Ok(Some(LinkHolder {
        user_id: col(&row, "user_id")?,
        name: col(&row, "name")?,
        email: col(&row, "email")?,
        purpose,
    }))
}

/// Uses a link: sets the password, ends the person's sessions and every
/// other link of theirs, in one transaction. `false` when the link was used
/// or expired since it was read.
#[tracing::instrument(name = "db set_password_by_link", level = "debug", skip_all)]
pub async fn set_password_by_link(
    at: &Scope,
    token_hash: &[u8],
    holder: &LinkHolder,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = at.begin().await?;
    let used = sqlx::query("DELETE FROM password_links WHERE token_hash = $1 AND tenant_id = $2 AND expires_at > $3")
        .bind(token_hash.to_vec())
        .bind(at.tenant())
        .bind(tx.now_micros())
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !used {
        return Ok(false);
    }
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(password_hash)
        .bind(&holder.user_id)
        .bind(at.tenant())
        .execute(&mut *tx)
        .await?;
    super::second_factor::end_pending_sign_ins(&mut tx, at, &holder.user_id).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND tenant_id = $2")
        .bind(&holder.user_id)
        .bind(at.tenant())
        .execute(&mut *tx)
        .await?;
    let person = ActorRef {
        kind: AccountKind::User,
        id: holder.user_id.clone(),
        name: holder.name.clone(),
    };
    let action = match holder.purpose {
        LinkPurpose::Invitation => "user.invitation_accepted",
        LinkPurpose::Reset => "user.password_reset",
    };
    audit(
        &mut tx,
        at,
        &person,
        Event::new(action, "user", &holder.user_id).named(&holder.email),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
