//! A client secret's side of client authentication: one MAC of the
//! presented secret under the install's MAC key, compared in constant time
//! with every stored one; what a match means (the secret's state and expiry,
//! the client's standing) is `casebook_domain::client_auth::secret_verdict`.

use crate::crypto::MasterKey;
use crate::state::AppState;
use crate::store::{self, ClientRecord, Scope};
use casebook_domain::ClientSecret;
use casebook_domain::Timestamp;
use casebook_domain::client_auth::{SecretMatch, SecretVerdict, secret_verdict};
use casebook_domain::secret_lifecycle::SecretPolicy;
use std::net::IpAddr;
use std::time::Instant;

/// Does this secret open this client at `now`? One of its active secrets,
/// of an enabled client. Every stored secret is compared, each in constant
/// time, and a disabled client costs the same, so timing tells neither
/// which secret matched nor whether the client is enabled.
pub fn check_secret(
    master: &MasterKey,
    policy: &SecretPolicy,
    client: &ClientRecord,
    secret: &ClientSecret,
    now: Timestamp,
) -> SecretVerdict {
    use subtle::ConstantTimeEq;
    // One HMAC of the presented secret, compared with each stored one.
    let presented = master.secret_mac(secret.expose());
    let matches = client.secrets.iter().map(|stored| SecretMatch {
        id: &stored.id,
        matches: presented.ct_eq(stored.mac.as_slice()).into(),
        created_at: stored.created_at,
        expires_at: stored.expires_at,
    });
    secret_verdict(policy, now, client.standing(), matches)
}

/// Audits the use of an expired secret of `application` from `peer`, in
/// its tenant's trail, at most once a minute per secret and address,
/// without making the caller wait: the refusal must take as long as a wrong
/// secret's, whatever the database is doing.
pub(super) fn audit_expired_use(state: &AppState, application: &ClientRecord, secret_id: &str, peer: Option<IpAddr>) {
    state.metrics().expired_secrets.inc();
    if !state
        .secret_uses()
        .first_expired_use_in_a_while(secret_id, peer, Instant::now())
    {
        return;
    }
    let at = Scope::new(state.db().clone(), application.tenant_id.as_str());
    let (application, secret_id) = (application.actor(), secret_id.to_owned());
    tokio::spawn(async move {
        if let Err(e) = store::record_expired_secret_use(&at, &application, &secret_id, peer).await {
            tracing::warn!(error = %e, application = %application.id, "could not audit the use of an expired secret");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredSecret;
    use casebook_domain::PermissionSet;
    use casebook_domain::client_keys::AuthMethod;

    fn stored(master: &MasterKey, id: &str, value: &str, expires_at: Option<i64>) -> StoredSecret {
        StoredSecret {
            id: id.into(),
            mac: master.secret_mac(value).to_vec(),
            created_at: Timestamp::from_unix_micros(0),
            expires_at: expires_at.map(Timestamp::from_unix_micros),
        }
    }

    fn record(master: &MasterKey, enabled: bool, previous_until: Option<i64>) -> ClientRecord {
        let mut secrets = vec![stored(master, "current", "current", None)];
        secrets.extend(previous_until.map(|until| stored(master, "previous", "previous", Some(until))));
        ClientRecord {
            tenant_id: casebook_domain::tenant::ROOT.into(),
            application_id: "app".into(),
            name: "Partner".into(),
            enabled,
            secrets,
            permissions: PermissionSet::EMPTY,
            token_generation: 0,
            auth_method: Some(AuthMethod::ClientSecretBasic),
            keys: None,
            limits: Default::default(),
            dpop_bound_access_tokens: false,
        }
    }

    #[test]
    fn secrets_open_only_enabled_clients_and_each_only_until_it_expires() {
        let master = MasterKey::from_bytes([7; 32]);
        let policy = SecretPolicy::default();
        let verdict = |record: &ClientRecord, secret: &str, now: i64| {
            check_secret(
                &master,
                &policy,
                record,
                &ClientSecret::from_presented(secret),
                Timestamp::from_unix_micros(now),
            )
        };
        let accepted = |id: &str| SecretVerdict::Accepted { secret_id: id.into() };
        let rotated = record(&master, true, Some(1_000));
        for (secret, now, expected) in [
            ("current", 0, accepted("current")),
            ("previous", 999, accepted("previous")),
            (
                "previous",
                1_000,
                SecretVerdict::Expired {
                    secret_id: "previous".into(),
                },
            ),
            ("wrong", 0, SecretVerdict::Refused),
            ("", 0, SecretVerdict::Refused),
        ] {
            assert_eq!(verdict(&rotated, secret, now), expected, "{secret} at {now}");
        }
        assert_eq!(
            verdict(&record(&master, false, None), "current", 0),
            SecretVerdict::Refused,
            "disabled"
        );
        let keyed = ClientRecord {
            auth_method: Some(AuthMethod::PrivateKeyJwt),
            ..record(&master, true, None)
        };
        assert_eq!(
            verdict(&keyed, "current", 0),
            SecretVerdict::Refused,
            "a private_key_jwt client takes no secret"
        );
        let unknown = ClientRecord {
            auth_method: None,
            ..record(&master, true, None)
        };
        assert_eq!(verdict(&unknown, "current", 0), SecretVerdict::Refused);
        // The install's most ends a secret that has no expiry of its own.
        let capped = SecretPolicy::from_max_age_days(Some(1)).unwrap();
        let day = 24 * 3600 * 1_000_000;
        assert_eq!(
            check_secret(
                &master,
                &capped,
                &record(&master, true, None),
                &ClientSecret::from_presented("current"),
                Timestamp::from_unix_micros(day)
            ),
            SecretVerdict::Expired {
                secret_id: "current".into()
            }
        );
    }
}
