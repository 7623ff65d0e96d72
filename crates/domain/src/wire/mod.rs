//! What the server answers with, and the few bodies it reads that are not
//! forms: one definition for the server, which writes them, and the SDK,
//! which reads them.
//!
//! Writing is exact: the server's JSON and the OpenAPI document come from
//! these types. Reading is forgiving where a newer server may send what an
//! older SDK does not know: unknown fields are ignored, and unknown
//! permissions and field error codes do not fail the whole answer.
//!
//! Two doc audiences share these types. `///` comments on fields are what
//! the OpenAPI document says of them, word for word (`utoipa` reads them);
//! notes for Rust callers are `doc` attributes left out when the `openapi`
//! feature is on, so they reach the SDK's documentation and not the spec.

mod admin;
mod api;
mod federated;
mod oauth;
mod passkeys;
mod problem;
mod scanning;
mod secrets;
mod sign_in;
mod usage;
mod webhooks;

pub use admin::{
    Application, AuditEvent, RevealRequest, RevealedSecret, Role, RotateRequest, Session, SignIn, Tenant, User,
};
pub use api::{Case, Me, Report};
pub use federated::{FederatedCredential, FederatedCredentials};
pub use oauth::{
    Confirmation, IntrospectionJwtClaims, IntrospectionResponse, OAuthErrorBody, ProtectedResourceMetadata,
    ServerMetadata, TOKEN_INTROSPECTION_JWT, TokenResponse,
};
pub use passkeys::{
    MfaPasskeyStart, Passkey, PasskeyOptions, PasskeyRegistration, PasskeyRegistrationStart, PasskeyRemoval, Passkeys,
};
pub use problem::Problem;
pub use scanning::{LeakAlert, LeakLabel, LeakVerdict};
pub use secrets::{ClientSecretInfo, ClientSecretValue, ClientSecrets, EndedSecretInfo, NewSecretRequest, SecretState};
pub use sign_in::{
    MfaSignIn, OneTimeCode, PasskeyProof, PasswordResetRequest, RecoveryCodes, SecondFactor, SetPasswordRequest,
    Settings, SettingsChange, TotpConfirmation, TotpEnrolment, TotpEnrolmentRequest, TotpRemoval,
};
pub use usage::{ApplicationUsage, TenantUsage, Usage, UsageBucket, UsageRefusals};
pub use webhooks::{CreatedWebhook, Webhook, WebhookDeliveries, WebhookDelivery, Webhooks};

use crate::AccountKind;
use crate::ids::{AccountId, ApplicationId, UserId};
use serde::{Deserialize, Serialize};

/// A page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(description = "A page of a list: `next_cursor` is null on the last page.")
)]
pub struct Page<T> {
    #[cfg_attr(not(feature = "openapi"), doc = "The items of this page, in the server's order.")]
    pub items: Vec<T>,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "Pass to `List::cursor` for the next page; `None` on the last page."
    )]
    /// Pass as `?cursor=` for the next page; always present, `null` on the last page.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// Who created or last changed a record.
///
/// The same shape as [`Holder`], kept apart because the OpenAPI document
/// names and describes the two on their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(description = "Who did something."))]
pub struct Actor {
    #[cfg_attr(not(feature = "openapi"), doc = "A user or an application.")]
    pub kind: AccountKind,
    #[cfg_attr(not(feature = "openapi"), doc = "The account's id.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: AccountId,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The name records show as \"Created by\" / \"Last updated by\"."
    )]
    pub name: String,
}

/// An account that holds a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Holder {
    pub kind: AccountKind,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: AccountId,
    pub name: String,
}

/// The typed id of an account that its kind says is an application, or a user.
macro_rules! typed_account_ids {
    ($($ty:ty),*) => {$(
        impl $ty {
            /// The application's id, when the account is an application.
            pub fn application_id(&self) -> Option<ApplicationId> {
                (self.kind == AccountKind::Application).then(|| ApplicationId::new(self.id.as_str()))
            }

            /// The user's id, when the account is a user.
            pub fn user_id(&self) -> Option<UserId> {
                (self.kind == AccountKind::User).then(|| UserId::new(self.id.as_str()))
            }
        }
    )*};
}

typed_account_ids!(Actor, Holder, Me);

/// Permissions on the wire: `["engage:view", …]`, in the fixed order of
/// [`Permission::all`](crate::Permission::all).
pub(crate) mod permissions {
    use crate::{Permission, PermissionSet};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(set: &PermissionSet, serializer: S) -> Result<S::Ok, S::Error> {
        set.to_strings().serialize(serializer)
    }

    /// A permission this reader does not know yet (a newer server's module)
    /// is skipped rather than failing the whole answer.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PermissionSet, D::Error> {
        let raw = Vec::<String>::deserialize(deserializer)?;
        Ok(raw.iter().filter_map(|p| p.parse::<Permission>().ok()).collect())
    }
}

#[cfg(test)]
mod tests;
