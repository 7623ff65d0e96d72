//! The file format, `apiVersion: casebook/v1`: the one set of types that
//! serde reads and writes and that the JSON Schema is derived from.
//!
//! A record is matched with the server's by its name, so the file holds no
//! id; and it holds no secret. A field left out means its default (no URL,
//! enabled, bearer tokens, a client secret): the file states an
//! application in full, as Terraform's resources do.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The only version of the format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    #[default]
    #[serde(rename = "casebook/v1")]
    V1,
}

/// A tenant's roles and applications.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "casebookctl configuration")]
pub struct Config {
    /// Always `casebook/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    /// Roles, matched with the tenant's by name.
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    /// External applications, matched with the tenant's by name.
    #[serde(default)]
    pub applications: Vec<ApplicationSpec>,
}

/// A role: what it grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// 1 to 100 characters; how applications name it in `roles`.
    pub name: String,
    /// `module:action`, e.g. `engage:view`; at least one, no duplicates.
    pub permissions: Vec<String>,
}

/// How an application authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A client secret.
    #[default]
    ClientSecretBasic,
    /// A JWT signed with one of `jwks`, or of the set at `jwks_uri` (RFC 7523).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

fn enabled() -> bool {
    true
}

/// An external application: every field of the registration and change
/// forms, its roles by name, and its federated credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSpec {
    /// 1 to 100 characters; unique in the tenant.
    pub name: String,
    /// Where alerts about the integration go.
    pub email: String,
    /// The partner's absolute http(s) URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_url: Option<String>,
    /// At most 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Role names; at least one.
    pub roles: Vec<String>,
    /// Whether the application may get tokens. Default: true.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// 1 to 50 CIDRs the application may ask for and use tokens from; left out: any address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_sources: Option<Vec<String>>,
    /// The most tokens in any sliding hour (1 to 1000000); left out: no quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_quota_per_hour: Option<i64>,
    /// Whether every token must be DPoP-bound (RFC 9449). Default: false.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Default: `client_secret_basic`.
    #[serde(default)]
    pub token_endpoint_auth_method: AuthMethod,
    /// The public JWK Set of a `private_key_jwt` application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where a `private_key_jwt` application's JWK Set is fetched from, instead of `jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Outside identities whose tokens the application accepts in place of a
    /// secret, matched by name within the application. One left out of the
    /// file is removed from the application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedSpec>,
}

/// An outside identity (issuer and subject) an application trusts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FederatedSpec {
    /// Unique within the application.
    pub name: String,
    /// Exactly as the tokens' `iss` carry it.
    pub issuer: String,
    /// The issuer's JWK Set; exactly one of `jwks` and `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where the issuer publishes its JWK Set (`https`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The exact `sub` of the workload's tokens.
    pub subject: String,
    /// The `aud` the tokens must carry; left out: the server's issuer identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Further claims the tokens must carry.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
    /// The longest a token may have been issued for, 1 to 86400 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_token_lifetime_seconds: Option<i64>,
    /// Whether each token's `jti` is accepted once. Default: false.
    #[serde(default)]
    pub single_use: bool,
}

/// The file's text, as `export` writes it.
pub fn to_yaml(config: &Config) -> Result<String, String> {
    serde_saphyr::to_string(config).map_err(|e| format!("writing YAML: {e}"))
}

/// The JSON Schema of the file, for editors (`casebookctl schema`).
pub fn schema() -> String {
    let schema = schemars::schema_for!(Config);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    /// The committed copy editors point at is the schema the types make.
    #[test]
    fn committed_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/casebook-v1.schema.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::schema(),
            "crates/cli/schema/casebook-v1.schema.json was not up-to-date: run \
             `cargo run -p casebook-cli -- schema > crates/cli/schema/casebook-v1.schema.json` and commit"
        );
    }
}
