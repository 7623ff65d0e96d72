//! RFC 9457 problem documents, the error answer of the admin and Casebook APIs.

use super::Holder;
use crate::validation::{ErrorCode, FieldError};
use serde::de::{IgnoredAny, IntoDeserializer};
use serde::{Deserialize, Deserializer, Serialize};

/// An RFC 9457 problem document.
///
/// Read leniently, so that a problem from a newer server (or a proxy's
/// sparser one) still comes through: absent, `null` or unreadable `type`,
/// `title`, `status` and `detail` are empty, a field
/// error code this reader does not know becomes [`ErrorCode::Unrecognized`]
/// with the server's code kept ([`FieldError::code_str`]), and holders it
/// cannot read are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(description = "An RFC 9457 problem document."))]
pub struct Problem {
    /// `about:blank`: the status says it all, `title` is its phrase.
    #[serde(rename = "type", default, deserialize_with = "or_default")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub kind: String,
    #[serde(default, deserialize_with = "or_default")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub title: String,
    #[serde(default, deserialize_with = "or_default")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub status: u16,
    #[serde(default, deserialize_with = "or_default")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub detail: String,
    /// Every refused field, on 422.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "field_errors")]
    pub errors: Option<Vec<FieldError>>,
    /// Accounts that still hold a role, on a refused role removal.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "readable_holders"
    )]
    pub holders: Option<Vec<Holder>>,
    /// On a 403 from the grant rule: the permissions the change touches that
    /// the caller does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!(["admin:delete"])))]
    pub missing_permissions: Option<Vec<String>>,
    /// On a 401 from signing in: the password was right and the account
    /// has a second factor; finish at `POST /admin/v1/sessions/mfa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_required: Option<bool>,
    /// With `mfa_required`: the token for the second step (5 minutes, single use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub mfa_token: Option<crate::wire::OneTimeCode>,
    /// On a 403: the tenant requires a second factor of administrators and
    /// this person has none yet; enrol at `/admin/v1/users/me/totp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_enrolment_required: Option<bool>,
}

fn field_errors<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<FieldError>>, D::Error> {
    #[derive(Deserialize)]
    struct Wire {
        field: String,
        code: String,
        #[serde(default)]
        message: String,
    }
    let Some(errors) = Option::<Vec<Wire>>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let read = |e: Wire| {
        let code: Result<ErrorCode, serde::de::value::Error> =
            ErrorCode::deserialize(e.code.as_str().into_deserializer());
        match code {
            Ok(code) => FieldError::new(e.field, code, e.message),
            Err(_) => FieldError::unrecognized(e.field, e.code, e.message),
        }
    };
    Ok(Some(errors.into_iter().map(read).collect()))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Readable<T> {
    Yes(T),
    No(IgnoredAny),
}

fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(deserializer: D) -> Result<T, D::Error> {
    Ok(match Readable::<T>::deserialize(deserializer)? {
        Readable::Yes(value) => value,
        Readable::No(_) => T::default(),
    })
}

fn readable_holders<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<Holder>>, D::Error> {
    Ok(
        match Option::<Readable<Vec<Readable<Holder>>>>::deserialize(deserializer)? {
            Some(Readable::Yes(holders)) => Some(
                holders
                    .into_iter()
                    .filter_map(|h| match h {
                        Readable::Yes(h) => Some(h),
                        Readable::No(_) => None,
                    })
                    .collect(),
            ),
            _ => None,
        },
    )
}
