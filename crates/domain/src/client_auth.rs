//! Client authentication's verdicts, without cryptography: which stored
//! secret a match opens, given its state and the install's expiry policy,
//! and which clients may authenticate by which method at all. The server
//! compares MACs and verifies signatures (`casebook_server::client_auth`)
//! and asks these rules what the result means.

use crate::Timestamp;
use crate::client_keys::AuthMethod;
use crate::secret_lifecycle::{SecretPolicy, SecretStatus};

/// What storage knows of an application that bears on whether it may
/// authenticate now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientStanding {
    pub enabled: bool,
    /// `None` for a row that names no method it can be: it authenticates by none.
    pub method: Option<AuthMethod>,
}

impl ClientStanding {
    /// Whether a presented secret may open this client: an enabled
    /// `client_secret_basic` one. A `private_key_jwt` client has no secrets;
    /// the method is asked too, so that holds even for rows gone wrong.
    pub fn takes_secrets(self) -> bool {
        self.enabled & (self.method == Some(AuthMethod::ClientSecretBasic))
    }

    /// Whether a signed assertion of its own may authenticate this client.
    pub fn takes_assertions(self) -> bool {
        self.enabled & (self.method == Some(AuthMethod::PrivateKeyJwt))
    }

    /// Whether an outside identity's token, matched against one of the
    /// application's federated credentials, may stand in for it: any enabled
    /// application, whichever its own method.
    pub fn takes_federated_tokens(self) -> bool {
        self.enabled
    }
}

/// One stored secret, with whether the presented one matched it.
#[derive(Debug, Clone, Copy)]
pub struct SecretMatch<'a> {
    pub id: &'a str,
    pub matches: bool,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// What a presented secret is to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretVerdict {
    /// One of the client's active secrets: this one.
    Accepted { secret_id: String },
    /// It matches one of the client's secrets that has expired: refused like
    /// a wrong one, but worth an audit row (a deployment left behind).
    Expired { secret_id: String },
    Refused,
}

/// The verdict on a presented secret, from every stored secret's match. Every
/// secret is looked at and the client's standing is applied last, so that
/// the work done tells neither which secret matched nor whether the client
/// is enabled (the caller compares each MAC in constant time).
pub fn secret_verdict<'a>(
    policy: &SecretPolicy,
    now: Timestamp,
    standing: ClientStanding,
    secrets: impl IntoIterator<Item = SecretMatch<'a>>,
) -> SecretVerdict {
    let mut verdict = SecretVerdict::Refused;
    for stored in secrets {
        let active = policy.status(now, stored.created_at, stored.expires_at) == SecretStatus::Active;
        if stored.matches {
            let secret_id = stored.id.to_owned();
            verdict = if active {
                SecretVerdict::Accepted { secret_id }
            } else {
                SecretVerdict::Expired { secret_id }
            };
        }
    }
    if standing.takes_secrets() {
        verdict
    } else {
        SecretVerdict::Refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

    fn standing(enabled: bool, method: Option<AuthMethod>) -> ClientStanding {
        ClientStanding { enabled, method }
    }

    fn secret(id: &str, matches: bool, expires_at: Option<i64>) -> SecretMatch<'_> {
        SecretMatch {
            id,
            matches,
            created_at: Timestamp::from_unix_micros(0),
            expires_at: expires_at.map(Timestamp::from_unix_micros),
        }
    }

    #[test]
    fn a_match_opens_only_while_its_secret_is_active() {
        let policy = SecretPolicy::default();
        let by_secret = standing(true, Some(AuthMethod::ClientSecretBasic));
        let at = |micros| Timestamp::from_unix_micros(micros);
        let verdict = |now, matched: &str| {
            let secrets = [secret("current", matched == "current", None), secret("previous", matched == "previous", Some(1_000))];
            secret_verdict(&policy, at(now), by_secret, secrets)
        };
        assert_eq!(verdict(0, "current"), SecretVerdict::Accepted { secret_id: "current".into() });
        assert_eq!(verdict(999, "previous"), SecretVerdict::Accepted { secret_id: "previous".into() });
        assert_eq!(verdict(1_000, "previous"), SecretVerdict::Expired { secret_id: "previous".into() });
        assert_eq!(verdict(0, "none"), SecretVerdict::Refused);
        // The install's most ends a secret that has no expiry of its own.
        let capped = SecretPolicy::from_max_age_days(Some(1)).unwrap();
        assert_eq!(
            secret_verdict(&capped, at(DAY_MICROS), by_secret, [secret("current", true, None)]),
            SecretVerdict::Expired { secret_id: "current".into() }
        );
    }

    #[test]
    fn each_method_takes_only_its_own_credentials_and_a_disabled_client_none() {
        use AuthMethod::{ClientSecretBasic, PrivateKeyJwt};
        for enabled in [true, false] {
            for method in [None, Some(ClientSecretBasic), Some(PrivateKeyJwt)] {
                let s = standing(enabled, method);
                assert_eq!(s.takes_secrets(), enabled && method == Some(ClientSecretBasic), "{s:?}");
                assert_eq!(s.takes_assertions(), enabled && method == Some(PrivateKeyJwt), "{s:?}");
                assert_eq!(s.takes_federated_tokens(), enabled, "{s:?}");
            }
        }
    }

    proptest! {
        /// Whatever the secrets and the time, a client that does not take
        /// secrets is refused, and an acceptance names a matching active secret.
        #[test]
        fn acceptance_needs_a_secret_client_and_a_matching_active_secret(
            enabled: bool,
            method in prop_oneof![Just(None), Just(Some(AuthMethod::ClientSecretBasic)), Just(Some(AuthMethod::PrivateKeyJwt))],
            secrets in proptest::collection::vec((any::<bool>(), proptest::option::of(0i64..10_000)), 0..6),
            now in 0i64..10_000,
        ) {
            let ids: Vec<String> = (0..secrets.len()).map(|i| format!("s{i}")).collect();
            let matches = secrets.iter().zip(&ids).map(|((matches, expires), id)| secret(id, *matches, *expires));
            let verdict = secret_verdict(&SecretPolicy::default(), Timestamp::from_unix_micros(now), standing(enabled, method), matches);
            let client_takes = enabled && method == Some(AuthMethod::ClientSecretBasic);
            match verdict {
                SecretVerdict::Accepted { secret_id } => {
                    prop_assert!(client_takes);
                    let at: usize = secret_id[1..].parse().unwrap();
                    let (matched, expires) = secrets[at];
                    prop_assert!(matched && expires.is_none_or(|e| e > now));
                }
                SecretVerdict::Expired { secret_id } => {
                    prop_assert!(client_takes);
                    let at: usize = secret_id[1..].parse().unwrap();
                    prop_assert!(secrets[at].0);
                }
                SecretVerdict::Refused => {
                    prop_assert!(!client_takes || secrets.iter().all(|(matched, _)| !matched));
                }
            }
        }
    }
}
