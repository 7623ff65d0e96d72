//! The "New Application" form and changes to a registered application.

use crate::account::AccountRef;
use crate::auth_method_form::{self, CredentialChange, Credentials, KeyFields};
use crate::client_keys::AuthMethod;
use crate::email::Email;
use crate::form::{self, Storage, rule};
use crate::quota::TokenQuota;
use crate::shape::{Field, Kind, Shaped};
use crate::sources::AllowedSources;
use crate::text::TextRule;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use validator::{Validate, ValidateArgs};

server_pub! {
    pub const APPLICATION_NAME: TextRule = TextRule {
        field: "name",
        max_chars: 100,
        multiline: false,
    };
}
server_pub! {
    pub const DESCRIPTION: TextRule = TextRule {
        field: "description",
        max_chars: 1000,
        multiline: true,
    };
}
server_pub! {
    pub const MAX_URL_CHARS: usize = 2048;
}

server_pub! {
    /// What storage knows that the rules need: which of the submitted role ids
    /// exist, and which account (if any) holds the submitted address.
    #[derive(Debug, Clone, Default)]
    pub struct ApplicationFacts {
        pub existing_roles: HashSet<String>,
        pub email_holder: Option<AccountRef>,
        /// For a change: how the application authenticates now.
        pub auth_method: Option<AuthMethod>,
        /// The operator's `CASEBOOK_ALLOW_PRIVATE_JWKS_URI`: whether a
        /// `jwks_uri` may name a loopback or private address.
        pub allow_private_jwks_uri: bool,
    }
}

server_pub! {
    /// An application's display name: trimmed, 1 to 100 characters, no control
    /// characters. It is what records show as "Created by".
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ApplicationName(String);
}

impl ApplicationName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        APPLICATION_NAME.required(raw).map(Self)
    }
}

impl AsRef<str> for ApplicationName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ApplicationName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

server_pub! {
    /// An absolute `http`/`https` URL of at most 2048 characters; blank is absent.
    pub fn application_url(raw: Option<&str>) -> Result<Option<String>, FieldError> {
        let Some(value) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let invalid = |msg: &str| FieldError::new("application_url", ErrorCode::InvalidUrl, msg.to_owned());
        if value.chars().count() > MAX_URL_CHARS {
            return Err(FieldError::new(
                "application_url",
                ErrorCode::TooLong,
                format!("application_url must be at most {MAX_URL_CHARS} characters"),
            ));
        }
        let url = url::Url::parse(value).map_err(|_| invalid("application_url must be an absolute http or https URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("application_url must be an absolute http or https URL"));
        }
        Ok(Some(value.to_owned()))
    }
}

server_pub! {
    /// The role rule lives with the forms' other rules; named here too, where it was.
    pub use crate::form::role_ids;
}

fn name_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(ApplicationName::parse(raw))
}

fn url_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(application_url(Some(raw)))
}

fn description_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(DESCRIPTION.optional(Some(raw)))
}

fn sources_rule(raw: &[String]) -> Result<(), validator::ValidationError> {
    form::rules(AllowedSources::parse(raw))
}

fn quota_rule(raw: i64) -> Result<(), validator::ValidationError> {
    rule(TokenQuota::parse(raw))
}

/// The limits of a form as sent: `None` where the field was absent or null.
fn limits(
    sources: Option<&[String]>,
    quota: Option<i64>,
) -> Result<(Option<AllowedSources>, Option<TokenQuota>), ValidationErrors> {
    Ok((
        sources.map(AllowedSources::parse).transpose()?,
        quota.map(TokenQuota::parse).transpose()?,
    ))
}

/// The registration form, as the wire carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[validate(context = "Storage<'v_a>")]
#[non_exhaustive]
pub struct ApplicationForm {
    /// Application name: 1 to 100 characters.
    #[validate(custom(function = "name_rule"))]
    pub name: String,
    /// Where alerts about this integration go; must not belong to an existing account.
    #[validate(
        custom(function = "form::email_address"),
        custom(function = "form::email_free", use_context)
    )]
    pub email: String,
    /// Absolute http(s) URL, at most 2048 characters.
    #[serde(default)]
    #[validate(custom(function = "url_rule"))]
    pub application_url: Option<String>,
    /// Role ids; at least one, no duplicates.
    #[validate(custom(function = "form::application_roles", use_context))]
    pub roles: Vec<String>,
    /// At most 1000 characters.
    #[serde(default)]
    #[validate(custom(function = "description_rule"))]
    pub description: Option<String>,
    /// Where the application may ask for tokens and use them from: 1 to 50
    /// CIDRs (`203.0.113.0/24`, `2001:db8::/48`; a bare address is `/32` or
    /// `/128`). A CIDR with bits set past its prefix is refused, not
    /// truncated, and so is a network listed twice. Absent or `null`: any
    /// address. Elsewhere, a token request is `invalid_client` and a token is
    /// `invalid_token`, both audited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "sources_rule"))]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50, example = json!(["203.0.113.0/24", "2001:db8::/48"])))]
    pub allowed_sources: Option<Vec<String>>,
    /// At most this many tokens in any sliding hour (1 to 1000000); past it
    /// the token endpoint answers 429 `temporarily_unavailable` with
    /// `Retry-After`. Absent or `null`: no quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "quota_rule"))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1_000_000, example = 1000))]
    pub token_quota_per_hour: Option<i64>,
    /// Whether every token must be bound to a key of the application's own
    /// (DPoP, RFC 9449): a token request without a DPoP proof is then
    /// refused. Absent or `null`: false, bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = false))]
    pub dpop_bound_access_tokens: Option<bool>,
    /// How the application authenticates at the token endpoint:
    /// `client_secret_basic` (the default: a client secret, with HTTP Basic
    /// or in the form body) or `private_key_jwt` (RFC 7523: a JWT signed
    /// with one of `jwks`, or of the set at `jwks_uri`; no secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<AuthMethod>, example = "private_key_jwt")
    )]
    pub token_endpoint_auth_method: Option<String>,
    /// For `private_key_jwt` only, and then required: a JWK Set (RFC 7517)
    /// of 1 to 5 public keys (RSA of 2048 to 8192 bits, EC P-256, or OKP
    /// Ed25519), each with its own `kid`. A key with private members is
    /// refused (`private_key_material`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<serde_json::Value>,
    /// For `private_key_jwt` only, instead of `jwks`: an absolute `https`
    /// URL (no user name or password, no fragment, at most 2048 characters)
    /// that serves the application's JWK Set. The server fetches it with a
    /// 5 s timeout, reads at most 64 KiB, follows no redirect, caches it up
    /// to 5 minutes and fetches it again for an unknown `kid` at most once a
    /// minute. A loopback, private or otherwise non-public address is
    /// refused (`private_address`) unless the operator allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(format = "uri", example = "https://partner.example.org/.well-known/jwks.json")
    )]
    pub jwks_uri: Option<String>,
}

impl Shaped for ApplicationForm {
    const FIELDS: &'static [Field] = &[
        Field::required("name", Kind::Text),
        Field::required("email", Kind::Text),
        Field::optional("application_url", Kind::Text),
        Field::required("roles", Kind::TextList),
        Field::optional("description", Kind::Text),
        Field::optional("allowed_sources", Kind::TextList),
        Field::optional("token_quota_per_hour", Kind::Integer),
        Field::optional("dpop_bound_access_tokens", Kind::Boolean),
        Field::optional("token_endpoint_auth_method", Kind::Text),
        Field::optional("jwks", Kind::Object),
        Field::optional("jwks_uri", Kind::Text),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate_offline().map(drop)
    }
}

server_pub! {
    /// A registration that passed every rule; only [`ApplicationForm`] makes one.
    #[derive(Debug, Clone)]
    pub struct NewApplication {
        name: ApplicationName,
        email: Email,
        application_url: Option<String>,
        roles: Vec<String>,
        description: Option<String>,
        credentials: Credentials,
        allowed_sources: Option<AllowedSources>,
        token_quota_per_hour: Option<TokenQuota>,
        dpop_bound_access_tokens: bool,
    }
}

impl NewApplication {
    pub fn name(&self) -> &ApplicationName {
        &self.name
    }

    pub fn email(&self) -> &Email {
        &self.email
    }

    pub fn application_url(&self) -> Option<&str> {
        self.application_url.as_deref()
    }

    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// `None`: any address.
    pub fn allowed_sources(&self) -> Option<&AllowedSources> {
        self.allowed_sources.as_ref()
    }

    /// `None`: no quota.
    pub fn token_quota_per_hour(&self) -> Option<TokenQuota> {
        self.token_quota_per_hour
    }

    /// Whether a token request must carry a DPoP proof.
    pub fn dpop_bound_access_tokens(&self) -> bool {
        self.dpop_bound_access_tokens
    }
}

impl ApplicationForm {
    /// Every rule that needs no storage: what the SDK checks before sending.
    /// Whether a `jwks_uri` may name a private address is the server's
    /// setting, so that rule is left to the server.
    pub fn validate_offline(&self) -> Result<(), ValidationErrors> {
        self.validate_inner(&Storage::offline(), true).map(drop)
    }

    server_pub! {
        /// Every rule, with storage's facts: what the server checks.
        pub fn validate(&self, facts: &ApplicationFacts) -> Result<NewApplication, ValidationErrors> {
            self.validate_inner(
                &Storage::new(&facts.existing_roles, facts.email_holder.as_ref(), None),
                facts.allow_private_jwks_uri,
            )
        }
    }

    fn keys(&self) -> KeyFields<'_> {
        KeyFields {
            jwks: self.jwks.as_ref(),
            jwks_uri: self.jwks_uri.as_deref(),
        }
    }

    fn validate_inner(&self, storage: &Storage<'_>, allow_private: bool) -> Result<NewApplication, ValidationErrors> {
        let fields = self
            .validate_with_args(storage)
            .map_err(|e| form::report(e, Self::FIELDS));
        let credentials =
            auth_method_form::registration(self.token_endpoint_auth_method.as_deref(), self.keys(), allow_private);
        // The credential fields come last in the table, so their errors do too.
        let (_, credentials) = auth_method_form::both(fields, credentials)?;
        // Each rule passed above; parsing again keeps the values they vouch for.
        let (allowed_sources, token_quota_per_hour) =
            limits(self.allowed_sources.as_deref(), self.token_quota_per_hour)?;
        Ok(NewApplication {
            credentials,
            allowed_sources,
            token_quota_per_hour,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens.unwrap_or(false),
            name: ApplicationName::parse(&self.name)?,
            email: Email::parse(&self.email)?,
            application_url: application_url(self.application_url.as_deref())?,
            roles: self.roles.clone(),
            description: DESCRIPTION.optional(self.description.as_deref())?,
        })
    }
}

/// A change to a registered application: absent fields stay as they are;
/// `application_url` and `description` may be cleared with `null` or `""`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[validate(context = "Storage<'v_a>")]
#[non_exhaustive]
pub struct ApplicationChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "name_rule"))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(
        custom(function = "form::email_address"),
        custom(function = "form::email_free", use_context)
    )]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[validate(custom(function = "url_rule"))]
    pub application_url: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "form::application_roles", use_context))]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[validate(custom(function = "description_rule"))]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// New allowed sources, replacing the list; `null` accepts every address again.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>, min_items = 1, max_items = 50))]
    #[validate(custom(function = "sources_rule"))]
    pub allowed_sources: Option<Option<Vec<String>>>,
    /// A new quota; `null` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1, maximum = 1_000_000))]
    #[validate(custom(function = "quota_rule"))]
    pub token_quota_per_hour: Option<Option<i64>>,
    /// Require DPoP-bound tokens from now on (true), or issue bearer tokens
    /// again (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// `client_secret_basic` or `private_key_jwt`. Switching to
    /// `private_key_jwt` needs `jwks` and ends the client secret at once;
    /// switching back issues a new secret, to be revealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<AuthMethod>))]
    pub token_endpoint_auth_method: Option<String>,
    /// New public keys of a `private_key_jwt` application, replacing its
    /// set or its `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<serde_json::Value>,
    /// A new URL of a `private_key_jwt` application's JWK Set, replacing its
    /// inline `jwks` or its old URL; the rules of registration apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = "uri"))]
    pub jwks_uri: Option<String>,
}

impl Shaped for ApplicationChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("name", Kind::Text),
        Field::optional("email", Kind::Text),
        Field::clearable("application_url", Kind::Text),
        Field::optional("roles", Kind::TextList),
        Field::clearable("description", Kind::Text),
        Field::optional("enabled", Kind::Boolean),
        Field::clearable("allowed_sources", Kind::TextList),
        Field::clearable("token_quota_per_hour", Kind::Integer),
        Field::optional("dpop_bound_access_tokens", Kind::Boolean),
        Field::optional("token_endpoint_auth_method", Kind::Text),
        Field::optional("jwks", Kind::Object),
        Field::optional("jwks_uri", Kind::Text),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.check(&Storage::offline(), None, true).map(drop)
    }
}

server_pub! {
    /// A change that passed every rule; `None` leaves a field as it is. Only
    /// [`ApplicationChange::validate`] makes one.
    #[derive(Debug, Clone)]
    pub struct ValidApplicationChange {
        name: Option<ApplicationName>,
        email: Option<Email>,
        application_url: Option<Option<String>>,
        roles: Option<Vec<String>>,
        description: Option<Option<String>>,
        enabled: Option<bool>,
        credentials: CredentialChange,
        allowed_sources: Option<Option<AllowedSources>>,
        token_quota_per_hour: Option<Option<TokenQuota>>,
        dpop_bound_access_tokens: Option<bool>,
    }
}

impl ValidApplicationChange {
    pub fn name(&self) -> Option<&ApplicationName> {
        self.name.as_ref()
    }

    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }

    /// `Some(None)` clears the URL.
    pub fn application_url(&self) -> Option<Option<&str>> {
        self.application_url.as_ref().map(Option::as_deref)
    }

    pub fn roles(&self) -> Option<&[String]> {
        self.roles.as_deref()
    }

    /// `Some(None)` clears the description.
    pub fn description(&self) -> Option<Option<&str>> {
        self.description.as_ref().map(Option::as_deref)
    }

    pub fn enabled(&self) -> Option<bool> {
        self.enabled
    }

    pub fn credentials(&self) -> &CredentialChange {
        &self.credentials
    }

    /// `Some(None)` accepts every address again.
    pub fn allowed_sources(&self) -> Option<Option<&AllowedSources>> {
        self.allowed_sources.as_ref().map(Option::as_ref)
    }

    /// `Some(None)` removes the quota.
    pub fn token_quota_per_hour(&self) -> Option<Option<TokenQuota>> {
        self.token_quota_per_hour
    }

    /// `None` leaves it as it is.
    pub fn dpop_bound_access_tokens(&self) -> Option<bool> {
        self.dpop_bound_access_tokens
    }

    /// Whether the change touches where the application may be used from
    /// or how many tokens it may get.
    pub fn changes_limits(&self) -> bool {
        self.allowed_sources.is_some() || self.token_quota_per_hour.is_some()
    }
}

impl ApplicationChange {
    server_pub! {
        /// `me` is the application being changed: keeping its own address is fine.
        pub fn validate(
            &self,
            facts: &ApplicationFacts,
            me: &AccountRef,
        ) -> Result<ValidApplicationChange, ValidationErrors> {
            let credentials = self.check(
                &Storage::new(&facts.existing_roles, facts.email_holder.as_ref(), Some(me)),
                facts.auth_method,
                facts.allow_private_jwks_uri,
            )?;
            Ok(ValidApplicationChange {
                credentials,
                name: self.name.as_deref().map(ApplicationName::parse).transpose()?,
                email: self.email.as_deref().map(Email::parse).transpose()?,
                application_url: self
                    .application_url
                    .as_ref()
                    .map(|u| application_url(u.as_deref()))
                    .transpose()?,
                roles: self.roles.clone(),
                description: self
                    .description
                    .as_ref()
                    .map(|d| DESCRIPTION.optional(d.as_deref()))
                    .transpose()?,
                enabled: self.enabled,
                allowed_sources: self
                    .allowed_sources
                    .as_ref()
                    .map(|s| limits(s.as_deref(), None).map(|(s, _)| s))
                    .transpose()?,
                token_quota_per_hour: self
                    .token_quota_per_hour
                    .map(|q| limits(None, q).map(|(_, q)| q))
                    .transpose()?,
                dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            })
        }
    }

    /// Every rule that needs no storage: what the SDK checks before sending.
    /// Whether the stored method allows the key fields, and whether a
    /// `jwks_uri` may name a private address, are left to the server.
    pub fn validate_offline(&self) -> Result<(), ValidationErrors> {
        self.check(&Storage::offline(), None, true).map(drop)
    }

    fn check(
        &self,
        storage: &Storage<'_>,
        stored: Option<AuthMethod>,
        allow_private: bool,
    ) -> Result<CredentialChange, ValidationErrors> {
        let fields = self
            .validate_with_args(storage)
            .map_err(|e| form::report(e, Self::FIELDS));
        let keys = KeyFields {
            jwks: self.jwks.as_ref(),
            jwks_uri: self.jwks_uri.as_deref(),
        };
        let credentials =
            auth_method_form::change(self.token_endpoint_auth_method.as_deref(), keys, stored, allow_private);
        auth_method_form::both(fields, credentials).map(|(_, c)| c)
    }
}

server_pub! {
    /// `Option<Option<T>>` that tells "absent" (outer `None`) from `null` (inner `None`).
    pub mod double_option {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        pub fn serialize<T: Serialize, S: Serializer>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(inner) => inner.serialize(serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Option<T>>, D::Error> {
            Option::<T>::deserialize(deserializer).map(Some)
        }
    }
}

#[cfg(test)]
mod limits_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountKind;
    use proptest::prelude::*;

    fn form() -> ApplicationForm {
        ApplicationForm {
            name: "Partner Sync".into(),
            email: "sync@partner.org".into(),
            application_url: Some("https://partner.org/casebook".into()),
            roles: vec!["r1".into()],
            description: Some("Nightly sync".into()),
            ..Default::default()
        }
    }

    fn facts() -> ApplicationFacts {
        ApplicationFacts {
            existing_roles: ["r1", "r2"].into_iter().map(String::from).collect(),
            email_holder: None,
            auth_method: None,
            allow_private_jwks_uri: false,
        }
    }

    fn check(edit: impl FnOnce(&mut ApplicationForm), facts: ApplicationFacts, expected: &[(&str, ErrorCode)]) {
        let mut f = form();
        edit(&mut f);
        let got: Vec<(String, ErrorCode)> = match f.validate(&facts) {
            Ok(_) => vec![],
            Err(e) => e.into_errors().into_iter().map(|e| (e.field, e.code)).collect(),
        };
        let expected: Vec<(String, ErrorCode)> = expected.iter().map(|(f, c)| (f.to_string(), *c)).collect();
        assert_eq!(got, expected);
    }

    use ErrorCode::*;

    #[test]
    fn a_complete_form_passes_and_is_trimmed() {
        let mut f = form();
        f.name = "  Partner Sync  ".into();
        f.email = " Sync@Partner.org ".into();
        let app = f.validate(&facts()).unwrap();
        assert_eq!(app.name.as_ref(), "Partner Sync");
        assert_eq!(app.email.normalized(), "sync@partner.org");
        check(|_| {}, facts(), &[]);
        check(|f| f.application_url = None, facts(), &[]);
        check(|f| f.description = Some("".into()), facts(), &[]);
    }

    #[test]
    fn name_rules() {
        check(|f| f.name = "".into(), facts(), &[("name", Required)]);
        check(|f| f.name = "   ".into(), facts(), &[("name", Required)]);
        check(|f| f.name = "n".repeat(100), facts(), &[]);
        check(|f| f.name = "n".repeat(101), facts(), &[("name", TooLong)]);
        check(|f| f.name = "é".repeat(100), facts(), &[]);
        check(
            |f| f.name = "a\u{1b}[31m".into(),
            facts(),
            &[("name", InvalidCharacters)],
        );
        check(
            |f| f.name = "two\nlines".into(),
            facts(),
            &[("name", InvalidCharacters)],
        );
    }

    #[test]
    fn email_rules() {
        check(|f| f.email = "".into(), facts(), &[("email", Required)]);
        check(
            |f| f.email = "not-an-address".into(),
            facts(),
            &[("email", InvalidEmail)],
        );
        check(
            |f| f.email = format!("{}@x.org", "a".repeat(250)),
            facts(),
            &[("email", TooLong)],
        );
        let held = ApplicationFacts {
            email_holder: Some(AccountRef::new(AccountKind::User, "u1")),
            ..facts()
        };
        check(|_| {}, held, &[("email", EmailInUse)]);
    }

    #[test]
    fn url_rules() {
        check(|f| f.application_url = Some("http://partner.org".into()), facts(), &[]);
        check(
            |f| f.application_url = Some("ftp://partner.org".into()),
            facts(),
            &[("application_url", InvalidUrl)],
        );
        check(
            |f| f.application_url = Some("/relative/path".into()),
            facts(),
            &[("application_url", InvalidUrl)],
        );
        check(
            |f| f.application_url = Some("javascript:alert(1)".into()),
            facts(),
            &[("application_url", InvalidUrl)],
        );
        check(
            |f| f.application_url = Some(format!("https://p.org/{}", "a".repeat(2048))),
            facts(),
            &[("application_url", TooLong)],
        );
    }

    #[test]
    fn role_rules() {
        check(|f| f.roles = vec![], facts(), &[("roles", Required)]);
        check(|f| f.roles = vec!["r1".into(), "r2".into()], facts(), &[]);
        check(
            |f| f.roles = vec!["r1".into(), "r1".into()],
            facts(),
            &[("roles", DuplicateRole)],
        );
        check(|f| f.roles = vec!["r9".into()], facts(), &[("roles", UnknownRole)]);
    }

    #[test]
    fn description_rules() {
        check(|f| f.description = Some("d".repeat(1000)), facts(), &[]);
        check(
            |f| f.description = Some("d".repeat(1001)),
            facts(),
            &[("description", TooLong)],
        );
        check(|f| f.description = Some("line one\nline two".into()), facts(), &[]);
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let f = ApplicationForm {
            name: "".into(),
            email: "nope".into(),
            application_url: Some("ftp://x".into()),
            roles: vec!["r9".into(), "r9".into()],
            description: Some("d".repeat(1001)),
            ..Default::default()
        };
        let errors = f.validate(&facts()).unwrap_err();
        for (field, code) in [
            ("name", Required),
            ("email", InvalidEmail),
            ("application_url", InvalidUrl),
            ("roles", UnknownRole),
            ("roles", DuplicateRole),
            ("description", TooLong),
        ] {
            assert!(errors.has(field, code), "{field} {code}: {errors:?}");
        }
    }

    #[test]
    fn offline_validation_skips_only_storage_facts() {
        let mut f = form();
        f.roles = vec!["does-not-exist".into()];
        assert!(f.validate_offline().is_ok());
        f.roles = vec![];
        assert!(f.validate_offline().unwrap_err().has("roles", Required));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"name":"a","email":"a@b.org","roles":["r1"],"client_secret":"x"}"#;
        assert!(serde_json::from_str::<ApplicationForm>(json).is_err());
    }

    #[test]
    fn a_change_may_keep_its_own_address_but_not_take_another() {
        let me = AccountRef::new(AccountKind::Application, "a1");
        let change = ApplicationChange {
            email: Some("sync@partner.org".into()),
            ..Default::default()
        };
        let mine = ApplicationFacts {
            email_holder: Some(me.clone()),
            ..facts()
        };
        assert!(change.validate(&mine, &me).is_ok());
        let theirs = ApplicationFacts {
            email_holder: Some(AccountRef::new(AccountKind::User, "u1")),
            ..facts()
        };
        assert!(change.validate(&theirs, &me).unwrap_err().has("email", EmailInUse));
    }

    #[test]
    fn change_tells_null_from_absent() {
        let c: ApplicationChange = serde_json::from_str(r#"{"description":null}"#).unwrap();
        assert_eq!(c.description, Some(None));
        assert_eq!(c.application_url, None);
    }

    #[test]
    fn dpop_binding_is_off_unless_asked_for_and_a_change_may_move_it_either_way() {
        assert!(!form().validate(&facts()).unwrap().dpop_bound_access_tokens());
        let null: ApplicationForm =
            serde_json::from_str(r#"{"name":"A","email":"a@b.org","roles":["r1"],"dpop_bound_access_tokens":null}"#)
                .unwrap();
        assert!(!null.validate(&facts()).unwrap().dpop_bound_access_tokens());
        let asked = ApplicationForm::new("A", "a@b.org")
            .roles(["r1"])
            .dpop_bound_access_tokens(true);
        assert!(asked.validate(&facts()).unwrap().dpop_bound_access_tokens());
        assert_eq!(serde_json::to_value(&asked).unwrap()["dpop_bound_access_tokens"], true);
        // The SDK leaves out what it was not asked to send, for older servers.
        let plain = serde_json::to_value(ApplicationForm::new("A", "a@b.org")).unwrap();
        assert!(plain.get("dpop_bound_access_tokens").is_none());

        let me = AccountRef::new(AccountKind::Application, "a1");
        for required in [true, false] {
            let change = ApplicationChange::new().dpop_bound_access_tokens(required);
            assert_eq!(
                serde_json::to_value(&change).unwrap(),
                serde_json::json!({ "dpop_bound_access_tokens": required })
            );
            let valid = change.validate(&facts(), &me).unwrap();
            assert_eq!(valid.dpop_bound_access_tokens(), Some(required));
            assert!(!valid.changes_limits());
        }
        let untouched = ApplicationChange::new()
            .name("Renamed")
            .validate(&facts(), &me)
            .unwrap();
        assert_eq!(untouched.dpop_bound_access_tokens(), None);
    }

    #[test]
    fn dpop_binding_of_another_json_type_is_a_shape_error_naming_it() {
        use crate::shape::{Body, Refusal};
        fn refused<T: Shaped>(body: serde_json::Value) -> Vec<(String, ErrorCode)> {
            match Body::parse(body.to_string().as_bytes()).unwrap().read::<T>() {
                Err(Refusal::Invalid(e)) => e.into_errors().into_iter().map(|e| (e.field, e.code)).collect(),
                Ok(_) => vec![],
                Err(other) => panic!("{other:?}"),
            }
        }
        let expected = vec![("dpop_bound_access_tokens".to_owned(), InvalidType)];
        for value in [
            serde_json::json!("yes"),
            serde_json::json!(1),
            serde_json::json!([true]),
        ] {
            let body = serde_json::json!({
                "name": "A", "email": "a@b.org", "roles": ["r1"], "dpop_bound_access_tokens": value
            });
            assert_eq!(refused::<ApplicationForm>(body), expected, "{value}");
            assert_eq!(
                refused::<ApplicationChange>(serde_json::json!({ "dpop_bound_access_tokens": value })),
                expected,
                "{value}"
            );
        }
        assert!(refused::<ApplicationChange>(serde_json::json!({ "dpop_bound_access_tokens": false })).is_empty());
    }

    fn any_form() -> impl Strategy<Value = ApplicationForm> {
        (
            ".{0,120}",
            ".{0,60}",
            proptest::option::of(".{0,80}"),
            proptest::collection::vec("[a-z0-9]{0,4}", 0..4),
            proptest::option::of(".{0,40}"),
        )
            .prop_map(|(name, email, application_url, roles, description)| ApplicationForm {
                name,
                email,
                application_url,
                roles,
                description,
                ..Default::default()
            })
    }

    proptest! {
        #[test]
        fn no_input_panics_the_validator(f in any_form()) {
            let _ = f.validate(&facts());
            let _ = f.validate_offline();
        }

        #[test]
        fn every_form_round_trips_through_serde(f in any_form()) {
            let json = serde_json::to_string(&f).unwrap();
            let back: ApplicationForm = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, f);
        }

        #[test]
        fn valid_forms_stay_valid_once_normalised(name in "[A-Za-z][A-Za-z0-9 ]{0,60}", local in "[a-z0-9]{1,10}") {
            let f = ApplicationForm {
                name: format!("  {name} "),
                email: format!(" {local}@Agency.org"),
                application_url: None,
                roles: vec!["r1".into()],
                description: None,
                ..Default::default()
            };
            let once = f.validate(&facts()).unwrap();
            let again = ApplicationForm {
                name: once.name.to_string(),
                email: once.email.to_string(),
                ..f.clone()
            }
            .validate(&facts())
            .unwrap();
            prop_assert_eq!(once.name, again.name);
            prop_assert_eq!(once.email.as_str(), again.email.as_str());
        }
    }
}
