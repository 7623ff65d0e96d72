//! What an application's contact is told when something happens to it: the
//! subject and body of each notice, as pure functions of the facts. The
//! server's outbox stores and delivers them.

/// What happened to an application, as its contact is told.
#[derive(Debug, Clone)]
pub enum Notice<'a> {
    Registered {
        application: &'a str,
        client_id: &'a str,
        callback_url: &'a str,
        /// It authenticates with its registered keys, not a client secret.
        private_key_jwt: bool,
    },
    SecretRevealed {
        application: &'a str,
        by: &'a str,
    },
    SecretRotated {
        application: &'a str,
        by: &'a str,
        old_secret_valid_until: Option<&'a str>,
    },
    Disabled {
        application: &'a str,
        by: &'a str,
    },
    Deleted {
        application: &'a str,
        by: &'a str,
    },
    /// A secret stops working soon (`days`: within 30, 7 or 1), or has.
    SecretExpiring {
        application: &'a str,
        /// The secret's label, or its id when it has none.
        secret: &'a str,
        expires_at: &'a str,
        days: Option<u32>,
    },
    /// A secret was found in public and ended at once, with every live token.
    SecretLeaked {
        application: &'a str,
        secret: &'a str,
        /// Where it was found, as the reporter says (a URL).
        url: &'a str,
        /// Who found it (`content`, `commit`, … as GitHub writes it).
        source: &'a str,
    },
}

impl Notice<'_> {
    pub fn subject(&self) -> String {
        match self {
            Self::Registered { application, .. } => format!("Casebook: {application} is registered"),
            Self::SecretRevealed { application, .. } => {
                format!("Casebook: the client secret of {application} was viewed")
            }
            Self::SecretRotated { application, .. } => {
                format!("Casebook: the client secret of {application} was rotated")
            }
            Self::Disabled { application, .. } => format!("Casebook: {application} was disabled"),
            Self::Deleted { application, .. } => format!("Casebook: {application} was removed"),
            Self::SecretExpiring {
                application,
                days: Some(days),
                ..
            } => format!("Casebook: a client secret of {application} expires within {days} day(s)"),
            Self::SecretExpiring {
                application,
                days: None,
                ..
            } => format!("Casebook: a client secret of {application} has expired"),
            Self::SecretLeaked { application, .. } => {
                format!("Casebook: a client secret of {application} was found in public and ended")
            }
        }
    }

    /// Plain text; never a secret.
    pub fn body(&self) -> String {
        match self {
            Self::Registered {
                application,
                client_id,
                callback_url,
                private_key_jwt: false,
            } => format!(
                "{application} is now registered as a Casebook external application.\n\n\
                 Client ID: {client_id}\nCallback URL: {callback_url}\n\n\
                 Ask your Casebook administrator for the client secret, then request access tokens at \
                 {callback_url}/oauth2/token (OAuth 2.0 client credentials). Tokens last one hour.\n"
            ),
            Self::Registered {
                application,
                client_id,
                callback_url,
                private_key_jwt: true,
            } => format!(
                "{application} is now registered as a Casebook external application.\n\n\
                 Client ID: {client_id}\nCallback URL: {callback_url}\n\n\
                 It has no client secret: request access tokens at {callback_url}/oauth2/token (OAuth 2.0 \
                 client credentials) with a client assertion (RFC 7523) signed with one of its registered keys, \
                 whose aud is {callback_url}. Tokens last one hour.\n"
            ),
            Self::SecretRevealed { application, by } => format!(
                "{by} viewed the client secret of {application} in cb Admin.\n\
                 If you did not expect this, ask your administrator to rotate the secret.\n"
            ),
            Self::SecretRotated {
                application,
                by,
                old_secret_valid_until,
            } => match old_secret_valid_until {
                Some(until) => format!(
                    "{by} issued a new client secret for {application}. The previous secret keeps working until {until}; \
                     update your integration before then.\n"
                ),
                None => format!(
                    "{by} issued a new client secret for {application}. The previous secret no longer works; \
                     update your integration now.\n"
                ),
            },
            Self::Disabled { application, by } => format!(
                "{by} disabled {application}. Its access tokens are refused and it cannot get new ones until it is enabled again.\n"
            ),
            Self::Deleted { application, by } => {
                format!("{by} removed {application} from Casebook. Its credentials and tokens no longer work.\n")
            }
            Self::SecretExpiring {
                application,
                secret,
                expires_at,
                days: Some(_),
            } => format!(
                "The client secret \"{secret}\" of {application} stops working at {expires_at}.\n\
                 Ask your Casebook administrator for a new secret and move your integration to it before then.\n"
            ),
            Self::SecretExpiring {
                application,
                secret,
                expires_at,
                days: None,
            } => format!(
                "The client secret \"{secret}\" of {application} expired at {expires_at} and no longer works.\n\
                 Ask your Casebook administrator for a new secret.\n"
            ),
            Self::SecretLeaked {
                application,
                secret,
                url,
                source,
            } => format!(
                "The client secret \"{secret}\" of {application} was found in public ({source}) at {url}.\n\
                 It has been ended, and so has every access token {application} held. Its other secrets keep working.\n\
                 Remove the secret from where it was found, and ask your Casebook administrator for a new one if you need it.\n"
            ),
        }
    }
}

/// A message to a person that carries a one-time link to set a password:
/// an invitation or a reset. Kept apart from [`Notice`], whose bodies never
/// hold a secret: this one's body does, so the outbox keeps it sealed and
/// stores [`PasswordLinkNotice::body_without_link`] in the clear.
#[derive(Debug, Clone)]
pub struct PasswordLinkNotice<'a> {
    pub purpose: crate::mfa::LinkPurpose,
    /// The person's name.
    pub person: &'a str,
    /// Who invited them, for an invitation.
    pub by: Option<&'a str>,
    /// The console's address, where the link leads.
    pub console_url: &'a str,
}

impl PasswordLinkNotice<'_> {
    pub fn subject(&self) -> String {
        match self.purpose {
            crate::mfa::LinkPurpose::Invitation => "Casebook: you are invited to cb Admin".to_owned(),
            crate::mfa::LinkPurpose::Reset => "Casebook: reset your cb Admin password".to_owned(),
        }
    }

    /// The message with its link: only ever sealed, or sent.
    pub fn body(&self, link: &str) -> String {
        let person = self.person;
        match self.purpose {
            crate::mfa::LinkPurpose::Invitation => format!(
                "Hello {person},\n\n{} invited you to cb Admin at {}.\n\n\
                 Choose your password here (the link works once, for 48 hours):\n{link}\n",
                self.by.unwrap_or("An administrator"),
                self.console_url,
            ),
            crate::mfa::LinkPurpose::Reset => format!(
                "Hello {person},\n\nSomeone asked to reset your cb Admin password at {}.\n\n\
                 Choose a new password here (the link works once, for one hour):\n{link}\n\n\
                 If it was not you, ignore this message: your password stays as it is.\n",
                self.console_url,
            ),
        }
    }

    /// The message as the outbox shows it in the clear.
    pub fn body_without_link(&self) -> String {
        self.body("[the link is sealed; it is in the message as sent]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_the_application_and_never_a_secret() {
        let n = Notice::SecretRotated {
            application: "Partner Sync",
            by: "Jo",
            old_secret_valid_until: Some("2026-12-01T00:00:00Z"),
        };
        assert!(n.subject().contains("Partner Sync"));
        assert!(n.body().contains("keeps working until 2026-12-01"));
        let r = Notice::Registered {
            application: "P",
            client_id: "cb_1",
            callback_url: "https://cb.example.org",
            private_key_jwt: false,
        };
        assert!(r.body().contains("https://cb.example.org/oauth2/token"));
        let keyed = Notice::Registered {
            application: "P",
            client_id: "cb_1",
            callback_url: "https://cb.example.org",
            private_key_jwt: true,
        };
        assert!(keyed.body().contains("no client secret") && keyed.body().contains("RFC 7523"));
    }

    #[test]
    fn every_notice_reads_as_it_always_has() {
        let cases = [
            (
                Notice::Registered {
                    application: "P",
                    client_id: "cb_1",
                    callback_url: "https://cb.example.org",
                    private_key_jwt: false,
                },
                "Casebook: P is registered",
                "P is now registered as a Casebook external application.\n\nClient ID: cb_1\nCallback URL: https://cb.example.org\n\n\
                 Ask your Casebook administrator for the client secret, then request access tokens at \
                 https://cb.example.org/oauth2/token (OAuth 2.0 client credentials). Tokens last one hour.\n",
            ),
            (
                Notice::SecretRevealed {
                    application: "P",
                    by: "Jo",
                },
                "Casebook: the client secret of P was viewed",
                "Jo viewed the client secret of P in cb Admin.\nIf you did not expect this, ask your administrator to rotate the secret.\n",
            ),
            (
                Notice::SecretRotated {
                    application: "P",
                    by: "Jo",
                    old_secret_valid_until: Some("2026-12-01T00:00:00Z"),
                },
                "Casebook: the client secret of P was rotated",
                "Jo issued a new client secret for P. The previous secret keeps working until 2026-12-01T00:00:00Z; update your integration before then.\n",
            ),
            (
                Notice::SecretRotated {
                    application: "P",
                    by: "Jo",
                    old_secret_valid_until: None,
                },
                "Casebook: the client secret of P was rotated",
                "Jo issued a new client secret for P. The previous secret no longer works; update your integration now.\n",
            ),
            (
                Notice::Disabled {
                    application: "P",
                    by: "Jo",
                },
                "Casebook: P was disabled",
                "Jo disabled P. Its access tokens are refused and it cannot get new ones until it is enabled again.\n",
            ),
            (
                Notice::Deleted {
                    application: "P",
                    by: "Jo",
                },
                "Casebook: P was removed",
                "Jo removed P from Casebook. Its credentials and tokens no longer work.\n",
            ),
        ];
        for (notice, subject, body) in cases {
            assert_eq!(notice.subject(), subject);
            assert_eq!(notice.body(), body);
        }
    }

    proptest::proptest! {
        #[test]
        fn a_notice_names_its_application_and_author(application in "[A-Za-z ]{1,20}", by in "[A-Za-z]{1,10}") {
            let notices = [
                Notice::SecretRevealed { application: &application, by: &by },
                Notice::SecretRotated { application: &application, by: &by, old_secret_valid_until: None },
                Notice::Disabled { application: &application, by: &by },
                Notice::Deleted { application: &application, by: &by },
            ];
            for notice in notices {
                proptest::prop_assert!(notice.subject().contains(application.as_str()));
                proptest::prop_assert!(notice.body().contains(application.as_str()));
                proptest::prop_assert!(notice.body().starts_with(by.as_str()));
            }
        }
    }
}
