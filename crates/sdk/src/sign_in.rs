//! Signing a person in strongly: the second factor they offer, the second
//! step a sign-in may stop at, what the secret operations ask again, and
//! the calls anyone can make before signing in (a password reset, a
//! password set from a link).

use crate::client::Client;
use crate::error::{Error, SecondStep};
use crate::model::Session;
use casebook_domain::user::Password;
use casebook_domain::wire::{MfaSignIn, OneTimeCode, PasswordResetRequest, SetPasswordRequest, SignIn};
use reqwest::Method;

const SESSIONS: [&str; 3] = ["admin", "v1", "sessions"];

/// What a person offers as their second factor: the code their
/// authenticator app shows now, or one of the recovery codes they were
/// given at enrolment. `Debug` never shows the code.
///
/// A TOTP code is accepted once: the same code (or an older one) is refused
/// the second time, so a program signing in and then revealing a secret
/// needs the app's next code, 30 seconds on, or a recovery code. A recovery
/// code is spent when accepted. Either is read as people type it: spaces,
/// a recovery code's hyphen and its case do not matter.
///
/// A passkey, the server's other second factor, answers a WebAuthn
/// ceremony that needs a browser's or the platform's authenticator; this
/// SDK does not offer one yet, so a person whose only second factor is a
/// passkey signs in through the console.
///
/// ```
/// use casebook_sdk::SecondFactor;
///
/// let code = SecondFactor::totp("123 456");
/// let spare = SecondFactor::recovery_code("abcde-fghjk");
/// assert!(!format!("{code:?} {spare:?}").contains("456"));
/// assert!(!format!("{spare:?}").contains("abcde"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecondFactor {
    /// Six digits from an authenticator app (RFC 6238).
    Totp(OneTimeCode),
    /// One of the ten recovery codes, `abcde-fghjk`.
    RecoveryCode(OneTimeCode),
}

impl SecondFactor {
    /// The code an authenticator app shows now.
    pub fn totp(code: impl Into<String>) -> Self {
        Self::Totp(OneTimeCode::new(code))
    }

    /// One of the recovery codes given at enrolment; each works once.
    pub fn recovery_code(code: impl Into<String>) -> Self {
        Self::RecoveryCode(OneTimeCode::new(code))
    }

    /// The body's `totp_code` and `recovery_code`.
    pub(crate) fn fields(factor: Option<&Self>) -> (Option<OneTimeCode>, Option<OneTimeCode>) {
        match factor {
            None => (None, None),
            Some(Self::Totp(code)) => (Some(code.clone()), None),
            Some(Self::RecoveryCode(code)) => (None, Some(code.clone())),
        }
    }
}

/// What revealing, rotating or adding a client secret asks of the
/// signed-in person: their password again and, once they have a second
/// factor, a code. `Debug` shows neither.
///
/// The `*_with` calls take one ([`Applications::reveal_secret_with`](crate::Applications::reveal_secret_with),
/// [`rotate_secret_with`](crate::Applications::rotate_secret_with),
/// [`add_secret_with`](crate::Applications::add_secret_with),
/// [`reveal_secret_by_id_with`](crate::Applications::reveal_secret_by_id_with),
/// [`Totp::remove`](crate::Totp::remove)); the calls that take a bare
/// password send no code, which is all a person without a second factor
/// needs. Enrolled, a call without a code is a 403 [`Error::Api`] that
/// costs no attempt, and a wrong or reused code a 403 that counts toward
/// the lockout as a wrong password does.
///
/// A code is not a setting of the client: each is accepted once and a TOTP
/// code lasts 30 seconds, so it is given for the one call that needs it.
///
/// ```no_run
/// # async fn run(admin: casebook_sdk::Client, id: casebook_sdk::ApplicationId, code: String) -> Result<(), casebook_sdk::Error> {
/// use casebook_sdk::{Password, Reauthentication, SecondFactor};
///
/// let again = Reauthentication::new(Password::new("correct horse battery staple"))
///     .second_factor(SecondFactor::totp(code));
/// let secret = admin.admin().applications().reveal_secret_with(&id, &again).await?;
/// # let _ = secret; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Reauthentication {
    password: Password,
    second_factor: Option<SecondFactor>,
}

impl Reauthentication {
    /// The person's password alone: enough for someone without a second factor.
    pub fn new(password: Password) -> Self {
        Self {
            password,
            second_factor: None,
        }
    }

    /// Adds the code of a person who has a second factor.
    pub fn second_factor(mut self, factor: SecondFactor) -> Self {
        self.second_factor = Some(factor);
        self
    }

    pub(crate) fn password(&self) -> &Password {
        &self.password
    }

    /// The body's `totp_code` and `recovery_code`.
    pub(crate) fn codes(&self) -> (Option<OneTimeCode>, Option<OneTimeCode>) {
        SecondFactor::fields(self.second_factor.as_ref())
    }
}

impl From<Password> for Reauthentication {
    fn from(password: Password) -> Self {
        Self::new(password)
    }
}

impl From<&Password> for Reauthentication {
    fn from(password: &Password) -> Self {
        Self::new(password.clone())
    }
}

impl SecondStep {
    /// Finishes the sign-in (`POST /admin/v1/sessions/mfa`) and returns a
    /// client acting as the person, as [`Client::sign_in`] does.
    ///
    /// A code the server does not accept (wrong, already used, or not a
    /// code) is [`Error::SecondFactorRequired`] again, with a new step to
    /// try once more; this one is spent. An expired or spent step is a 401
    /// [`Error::Api`]: sign in again with the password.
    pub async fn complete(&self, factor: &SecondFactor) -> Result<Client, Error> {
        let (totp_code, recovery_code) = SecondFactor::fields(Some(factor));
        let body = MfaSignIn {
            mfa_token: self.mfa_token().expose().to_owned(),
            totp_code,
            recovery_code,
            passkey: None,
        };
        // A step is only ever made by `Client::execute`, around a client.
        let Some(client) = self.via().downcast_ref::<Client>() else {
            return Err(Error::Config("this second step was not made by a Client".into()));
        };
        let path = [SESSIONS[0], SESSIONS[1], SESSIONS[2], "mfa"];
        let session: Session = client.send(Method::POST, &path, &[], Some(&body)).await?;
        Ok(client.as_session(session.token))
    }
}

impl Client {
    /// Signs a person in to the admin API (`POST /admin/v1/sessions`) and
    /// returns a client that acts as them, sharing this client's connection
    /// pool. Only a signed-in person can reveal or rotate a client secret.
    ///
    /// When the person has a second factor, the password alone is not
    /// enough: the answer is [`Error::SecondFactorRequired`], whose
    /// [`SecondStep::complete`] finishes with a code. [`sign_in_with`](Self::sign_in_with)
    /// sends the code at once instead. A wrong email or password, or a
    /// disabled account, is a 401 [`Error::Api`].
    pub async fn sign_in(&self, email: &str, password: &Password) -> Result<Client, Error> {
        self.sign_in_offering(email, password, None).await
    }

    /// Signs a person with a second factor in with one request: their
    /// password and a code together. A code the server does not accept is
    /// [`Error::SecondFactorRequired`], whose step takes another; someone
    /// without a second factor is signed in and the code ignored.
    ///
    /// ```no_run
    /// # async fn run(code: String) -> Result<(), casebook_sdk::Error> {
    /// use casebook_sdk::{Client, Password, SecondFactor};
    ///
    /// let admin = Client::builder("https://casebook.example.org")
    ///     .build()?
    ///     .sign_in_with("admin@agency.org", &Password::new("correct horse battery staple"), &SecondFactor::totp(code))
    ///     .await?;
    /// # let _ = admin; Ok(()) }
    /// ```
    pub async fn sign_in_with(
        &self,
        email: &str,
        password: &Password,
        second_factor: &SecondFactor,
    ) -> Result<Client, Error> {
        self.sign_in_offering(email, password, Some(second_factor)).await
    }

    async fn sign_in_offering(
        &self,
        email: &str,
        password: &Password,
        second_factor: Option<&SecondFactor>,
    ) -> Result<Client, Error> {
        let (totp_code, recovery_code) = SecondFactor::fields(second_factor);
        let form = SignIn {
            email: email.to_owned(),
            password: password.clone(),
            totp_code,
            recovery_code,
        };
        let session: Session = self.send(Method::POST, &SESSIONS, &[], Some(&form)).await?;
        Ok(self.as_session(session.token))
    }

    /// Asks for a password reset link for `email`
    /// (`POST /admin/v1/password-resets`). Needs no sign-in. The server
    /// answers the same whether or not the address holds an account, so
    /// `Ok` says nothing about that: when it does, a link valid for an hour
    /// goes to it, leading to the console's page that sets a password (or
    /// to [`set_password`](Self::set_password) with the link's token).
    pub async fn request_password_reset(&self, email: &str) -> Result<(), Error> {
        let body = PasswordResetRequest {
            email: email.to_owned(),
        };
        self.send_empty(Method::POST, &["admin", "v1", "password-resets"], Some(&body))
            .await
    }

    /// Sets a password with the token of an invitation (48 hours) or reset
    /// (1 hour) link (`POST /admin/v1/set-password`); the token is what
    /// follows `#set-password?token=` in the link. Needs no sign-in, and
    /// every session of the account ends.
    ///
    /// The password policy's rules that need no account (length, common and
    /// repeated passwords) are checked first: such a password fails with
    /// [`Error::Validation`], unsent. One too like the address is a 422
    /// [`Error::Api`] that leaves the link working; an unknown, used or
    /// expired link is a 400.
    pub async fn set_password(&self, token: &str, password: &Password) -> Result<(), Error> {
        casebook_domain::judge_new_password(password, None).map_err(|e| Error::Validation(e.into()))?;
        let body = SetPasswordRequest {
            token: token.to_owned(),
            password: password.clone(),
        };
        self.send_empty(Method::POST, &["admin", "v1", "set-password"], Some(&body))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_tokens_never_reach_debug() {
        let client = Client::builder("https://casebook.example.org").build().unwrap();
        let step = SecondStep::new(
            client.anonymous(),
            OneTimeCode::new("cbmfa_hush"),
            "enter the code".into(),
        );
        let again =
            Reauthentication::new(Password::new("a quiet long password")).second_factor(SecondFactor::totp("314159"));
        let spare = SecondFactor::recovery_code("abcde-fghjk");
        let shown = format!(
            "{step:?} {again:?} {spare:?} {:?}",
            Error::SecondFactorRequired(step.clone())
        );
        for secret in ["cbmfa_hush", "314159", "abcde", "quiet"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("enter the code"), "{shown}");
    }

    #[test]
    fn a_factor_fills_its_own_field() {
        let (totp, recovery) = SecondFactor::fields(Some(&SecondFactor::totp("123456")));
        assert_eq!((totp.unwrap().expose(), recovery), ("123456", None));
        let (totp, recovery) = SecondFactor::fields(Some(&SecondFactor::recovery_code("abcde-fghjk")));
        assert_eq!((totp, recovery.unwrap().expose()), (None, "abcde-fghjk"));
        let body = serde_json::to_value(SignIn {
            email: "a@b.org".into(),
            password: Password::new("a quiet long password"),
            totp_code: None,
            recovery_code: None,
        })
        .unwrap();
        assert!(body.get("totp_code").is_none() && body.get("recovery_code").is_none());
    }

    #[tokio::test]
    async fn a_weak_password_is_refused_before_sending() {
        let client = Client::builder("https://casebook.invalid").build().unwrap();
        let error = client
            .set_password("link-token", &Password::new("short"))
            .await
            .unwrap_err();
        assert_eq!(error.field_errors()[0].field, "password", "{error:?}");
    }
}
