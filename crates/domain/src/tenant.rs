//! Tenants: one install serving many agencies (the contract, "Tenants").
//! Which slugs are valid, where a tenant lives, and the forms that create
//! and change one. Whether a slug is taken is storage's to say.

use crate::email::Email;
use crate::shape::{Field, Kind, Shaped};
use crate::text::TextRule;
use crate::user::Password;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The root tenant's slug and id: what an install has from its first start.
pub const ROOT: &str = "root";

pub const MIN_SLUG_CHARS: usize = 2;
pub const MAX_SLUG_CHARS: usize = 40;

/// The path segment that introduces a tenant under the public URL.
pub const TENANT_PATH_PREFIX: &str = "/t/";

const TENANT_NAME: TextRule = TextRule {
    field: "name",
    max_chars: 100,
    multiline: false,
};

/// A tenant's slug: 2 to 40 of `a-z`, `0-9` and `-`, neither first nor last
/// a `-`. Parsing does not refuse `root` (it names the root tenant in a URL
/// or a CLI flag); [`TenantSlug::for_new_tenant`] does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let chars = raw.chars().count();
        if raw.is_empty() {
            return Err(FieldError::new("slug", ErrorCode::Required, "slug is required"));
        }
        if chars < MIN_SLUG_CHARS {
            return Err(FieldError::new(
                "slug",
                ErrorCode::TooShort,
                format!("slug must be at least {MIN_SLUG_CHARS} characters"),
            ));
        }
        if chars > MAX_SLUG_CHARS {
            return Err(FieldError::new(
                "slug",
                ErrorCode::TooLong,
                format!("slug must be at most {MAX_SLUG_CHARS} characters"),
            ));
        }
        let allowed = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !allowed || raw.starts_with('-') || raw.ends_with('-') {
            return Err(FieldError::new(
                "slug",
                ErrorCode::InvalidCharacters,
                "slug is made of a-z, 0-9 and -, and neither starts nor ends with -",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A slug a new tenant may take: valid, and not the root's.
    pub fn for_new_tenant(raw: &str) -> Result<Self, FieldError> {
        let slug = Self::parse(raw)?;
        if slug.is_root() {
            return Err(FieldError::new(
                "slug",
                ErrorCode::NameInUse,
                "slug \"root\" is the root tenant's",
            ));
        }
        Ok(slug)
    }

    pub fn root() -> Self {
        Self(ROOT.to_owned())
    }

    pub fn is_root(&self) -> bool {
        self.0 == ROOT
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's base URL: its issuer, `aud`, RFC 8707 resource and the
/// Callback URL of its applications. The root's is the public URL itself.
pub fn base_url(public_url: &str, slug: &str) -> String {
    let public_url = public_url.trim_end_matches('/');
    if slug == ROOT {
        public_url.to_owned()
    } else {
        format!("{public_url}{TENANT_PATH_PREFIX}{slug}")
    }
}

/// Where a request path points: the tenant it names (none for the root)
/// and the path beneath that tenant's base URL. `/t/acme/oauth2/token` is
/// `acme` and `/oauth2/token`; the RFC 8414 §3.1 and RFC 9728 §3.1 forms
/// `/.well-known/oauth-authorization-server/t/acme` are `acme` and the
/// well-known path. A path that names no valid slug is the root's as it
/// stands, so that the root's router answers it (with its 404).
pub fn split_tenant_path(path: &str) -> (Option<&str>, std::borrow::Cow<'_, str>) {
    use std::borrow::Cow;
    if let Some(rest) = path.strip_prefix(TENANT_PATH_PREFIX) {
        let (slug, below) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if TenantSlug::parse(slug).is_ok() {
            let below = if below.is_empty() {
                Cow::Borrowed("/")
            } else {
                Cow::Borrowed(below)
            };
            return (Some(slug), below);
        }
        return (None, Cow::Borrowed(path));
    }
    for well_known in WELL_KNOWN_WITH_ISSUER_PATH {
        if let Some(slug) = path
            .strip_prefix(well_known)
            .and_then(|rest| rest.strip_prefix(TENANT_PATH_PREFIX))
            && TenantSlug::parse(slug).is_ok()
        {
            return (Some(slug), Cow::Borrowed(*well_known));
        }
    }
    (None, Cow::Borrowed(path))
}

/// The metadata documents RFC 8414 §3.1 and RFC 9728 §3.1 place before an
/// issuer's path rather than after it.
const WELL_KNOWN_WITH_ISSUER_PATH: &[&str] = &[
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-protected-resource",
];

/// The storage key of a value unique within a tenant (an account's email, a
/// role's folded name), in the columns whose single-tenant uniqueness the
/// release after this one narrows to `(tenant_id, …)`. The root's keys are
/// the values themselves, as every earlier release wrote them; another
/// tenant's are prefixed by its id and U+001F, which no email and no role
/// name can hold, so keys of two tenants never meet.
pub fn unique_key(tenant_id: &str, value: &str) -> String {
    if tenant_id == ROOT {
        value.to_owned()
    } else {
        format!("{tenant_id}\u{1f}{value}")
    }
}

/// A new tenant as an operator submits it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantForm {
    /// 2 to 40 of `a-z`, `0-9` and `-`; never changes.
    pub slug: String,
    /// The agency's name, as people read it.
    pub name: String,
    /// The tenant's first Administrator.
    pub admin_email: String,
    /// That Administrator's password; generated and shown once when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Password))]
    pub admin_password: Option<Password>,
}

/// A [`TenantForm`] that passed every rule storage need not answer.
#[derive(Debug, Clone)]
pub struct NewTenant {
    slug: TenantSlug,
    name: String,
    admin_email: Email,
    admin_password: Option<Password>,
}

impl NewTenant {
    pub fn slug(&self) -> &TenantSlug {
        &self.slug
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn admin_email(&self) -> &Email {
        &self.admin_email
    }

    /// The password asked for, if any; the caller generates one otherwise.
    pub fn admin_password(&self) -> Option<&Password> {
        self.admin_password.as_ref()
    }
}

impl TenantForm {
    pub fn validate(&self) -> Result<NewTenant, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let slug = errors.check(TenantSlug::for_new_tenant(&self.slug));
        let name = errors.check(TENANT_NAME.required(&self.name));
        let admin_email = errors.check(Email::parse_field("admin_email", &self.admin_email));
        if let Some(password) = &self.admin_password {
            errors.check(password.check_new_for(&self.admin_email).map_err(|e| {
                FieldError::new(
                    "admin_password",
                    e.code,
                    e.message.replacen("password", "admin_password", 1),
                )
            }));
        }
        match (slug, name, admin_email) {
            (Some(slug), Some(name), Some(admin_email)) if errors.is_empty() => Ok(NewTenant {
                slug,
                name,
                admin_email,
                admin_password: self.admin_password.clone(),
            }),
            _ => Err(errors),
        }
    }
}

impl Shaped for TenantForm {
    const FIELDS: &'static [Field] = &[
        Field::required("slug", Kind::Text),
        Field::required("name", Kind::Text),
        Field::required("admin_email", Kind::Text),
        Field::optional("admin_password", Kind::Text),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

/// A change to a tenant: its name, or whether it serves.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A [`TenantChange`] whose values passed their rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidTenantChange {
    pub name: Option<String>,
    pub enabled: Option<bool>,
}

impl TenantChange {
    pub fn validate(&self) -> Result<ValidTenantChange, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match self.name.as_deref() {
            Some(raw) => errors.check(TENANT_NAME.required(raw)),
            None => None,
        };
        errors.finish(|| ValidTenantChange {
            name,
            enabled: self.enabled,
        })
    }
}

impl Shaped for TenantChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("name", Kind::Text),
        Field::optional("enabled", Kind::Boolean),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

/// Why a change to a tenant is refused whatever its values: the root tenant
/// serves the install's platform team and can be neither disabled nor
/// deleted.
pub fn root_is_permanent(slug: &TenantSlug, change: Option<&ValidTenantChange>) -> bool {
    slug.is_root() && change.is_none_or(|c| c.enabled == Some(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugs() {
        for (raw, ok) in [
            ("ab", true),
            ("acme-county", true),
            ("a1", true),
            ("0-9", true),
            ("a", false),
            ("", false),
            ("-ab", false),
            ("ab-", false),
            ("Acme", false),
            ("ac_me", false),
            ("ac.me", false),
            ("acmé", false),
            (&"a".repeat(40), true),
            (&"a".repeat(41), false),
        ] {
            assert_eq!(TenantSlug::parse(raw).is_ok(), ok, "{raw:?}");
        }
        assert!(TenantSlug::parse("root").is_ok());
        assert_eq!(
            TenantSlug::for_new_tenant("root").unwrap_err().code,
            ErrorCode::NameInUse
        );
    }

    #[test]
    fn base_urls() {
        assert_eq!(base_url("https://cb.example", "root"), "https://cb.example");
        assert_eq!(base_url("https://cb.example/", "acme"), "https://cb.example/t/acme");
    }

    #[test]
    fn tenant_paths() {
        let split = |p| {
            let (slug, rest) = split_tenant_path(p);
            (slug.map(str::to_owned), rest.into_owned())
        };
        assert_eq!(split("/oauth2/token"), (None, "/oauth2/token".into()));
        assert_eq!(
            split("/t/acme/oauth2/token"),
            (Some("acme".into()), "/oauth2/token".into())
        );
        assert_eq!(split("/t/acme"), (Some("acme".into()), "/".into()));
        assert_eq!(split("/t/acme/"), (Some("acme".into()), "/".into()));
        assert_eq!(split("/t/Bad/x"), (None, "/t/Bad/x".into()));
        assert_eq!(
            split("/.well-known/oauth-authorization-server/t/acme"),
            (Some("acme".into()), "/.well-known/oauth-authorization-server".into())
        );
        assert_eq!(
            split("/.well-known/oauth-protected-resource/t/acme"),
            (Some("acme".into()), "/.well-known/oauth-protected-resource".into())
        );
        assert_eq!(
            split("/.well-known/oauth-protected-resource/t/acme/x"),
            (None, "/.well-known/oauth-protected-resource/t/acme/x".into())
        );
    }

    #[test]
    fn forms() {
        let form = TenantForm {
            slug: "root".into(),
            name: " ".into(),
            admin_email: "nope".into(),
            admin_password: Some(Password::new("short")),
        };
        let errors = form.validate().unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["slug", "name", "admin_email", "admin_password"]);
        let ok = TenantForm {
            slug: "acme".into(),
            name: "Acme County".into(),
            admin_email: "admin@acme.example".into(),
            admin_password: None,
        };
        assert_eq!(ok.validate().unwrap().slug().as_str(), "acme");
        assert!(root_is_permanent(&TenantSlug::root(), None));
        let disable = ValidTenantChange {
            name: None,
            enabled: Some(false),
        };
        assert!(root_is_permanent(&TenantSlug::root(), Some(&disable)));
        assert!(!root_is_permanent(&TenantSlug::parse("acme").unwrap(), Some(&disable)));
    }

    proptest! {
        /// Two tenants' keys never meet, and the root's are the values.
        #[test]
        fn unique_keys_never_meet(a in "[a-z0-9]{1,12}", b in "[a-z0-9]{1,12}", x in "[ -~]{0,20}", y in "[ -~]{0,20}") {
            prop_assume!(a != b || x != y);
            let (ka, kb) = (unique_key(&a, &x), unique_key(&b, &y));
            prop_assert_ne!(ka, kb);
        }

        /// Every path under a tenant splits back to the root's path.
        #[test]
        fn tenant_paths_strip_to_the_roots(slug in "[a-z0-9][a-z0-9-]{0,38}[a-z0-9]", rest in "(/[a-z0-9._-]{1,10}){0,4}") {
            let path = format!("/t/{slug}{rest}");
            let (found, below) = split_tenant_path(&path);
            prop_assert_eq!(found, Some(slug.as_str()));
            prop_assert_eq!(below.as_ref(), if rest.is_empty() { "/" } else { rest.as_str() });
        }
    }
}
