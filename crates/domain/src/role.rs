//! Roles: named permission sets, the same catalog for users and applications.

use crate::form::{self, rule};
use crate::permission::{Action, Module, Permission, PermissionSet};
use crate::shape::{Field, Kind, Shaped};
use crate::text::TextRule;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use validator::Validate;

const ROLE_NAME: TextRule = TextRule {
    field: "name",
    max_chars: 100,
    multiline: false,
};

/// A role's name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        ROLE_NAME.required(raw).map(Self)
    }
}

impl AsRef<str> for RoleName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

server_pub! {
    /// A role of the catalog every install starts with.
    #[derive(Debug, Clone)]
    pub struct SeedRole {
        pub name: &'static str,
        pub permissions: PermissionSet,
    }
}

server_pub! {
    /// The seeded catalog of the contract ("Roles and permissions").
    pub fn seeded_roles() -> Vec<SeedRole> {
        use Action::*;
        use Module::*;
        let set = |ps: &[(Module, Action)]| ps.iter().map(|&(m, a)| Permission::new(m, a)).collect();
        vec![
            SeedRole {
                name: "Administrator",
                permissions: PermissionSet::all(),
            },
            SeedRole {
                name: "Engage Supervisor",
                permissions: set(&[(Engage, View), (Engage, Create), (Engage, Edit)]),
            },
            SeedRole {
                name: "Engage Worker",
                permissions: set(&[(Engage, View), (Engage, Create)]),
            },
            SeedRole {
                name: "Intake Screener",
                permissions: set(&[(Intake, View), (Intake, Create), (Intake, Edit)]),
            },
            SeedRole {
                name: "Auditor",
                permissions: Module::AGENCY.into_iter().map(|m| Permission::new(m, View)).collect(),
            },
        ]
    }
}

server_pub! {
    /// Every `admin` permission: what it takes to manage users, roles and
    /// applications, and so to undo any change made to them.
    pub fn administration() -> PermissionSet {
        Action::ALL
            .into_iter()
            .map(|action| Permission::new(Module::Admin, action))
            .collect()
    }
}

server_pub! {
    /// The install must keep a person who can administer it: some user whose
    /// roles together grant every `admin` permission. Applications do not count;
    /// reveal and rotate are for signed-in people only, and an application's
    /// credentials are not a way back in for an organisation that locked itself
    /// out. Given each user's permissions as they would be after a change, tells
    /// whether that change may go ahead.
    pub fn keeps_an_administrator(users: impl IntoIterator<Item = PermissionSet>) -> bool {
        let needed = administration();
        users.into_iter().any(|held| needed.is_subset(held))
    }
}

/// A role as an admin submits it: `{"name", "permissions": ["engage:view", …]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RoleForm {
    /// 1 to 100 characters.
    #[validate(custom(function = "name_rule"))]
    pub name: String,
    /// At least one `module:action`, no duplicates.
    #[validate(custom(function = "permissions_value"))]
    pub permissions: Vec<String>,
}

/// A role change: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RoleChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "name_rule"))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "permissions_value"))]
    pub permissions: Option<Vec<String>>,
}

impl Shaped for RoleForm {
    const FIELDS: &'static [Field] = &[
        Field::required("name", Kind::Text),
        Field::required("permissions", Kind::TextList),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

impl Shaped for RoleChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("name", Kind::Text),
        Field::optional("permissions", Kind::TextList),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

/// A validated role; only [`RoleForm::validate`] makes one.
#[derive(Debug, Clone)]
pub struct ValidRole {
    name: RoleName,
    permissions: PermissionSet,
}

impl ValidRole {
    pub fn name(&self) -> &RoleName {
        &self.name
    }

    pub fn permissions(&self) -> PermissionSet {
        self.permissions
    }
}

fn name_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(RoleName::parse(raw))
}

fn permissions_value(raw: &[String]) -> Result<(), validator::ValidationError> {
    rule(permissions_rule(raw))
}

fn permissions_rule(raw: &[String]) -> Result<PermissionSet, FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new(
            "permissions",
            ErrorCode::Required,
            "a role needs at least one permission",
        ));
    }
    let mut seen = HashSet::new();
    let mut set = PermissionSet::EMPTY;
    for text in raw {
        let permission: Permission = text
            .trim()
            .parse()
            .map_err(|e: crate::permission::PermissionParseError| {
                FieldError::new("permissions", ErrorCode::InvalidPermission, format!("{text:?}: {e}"))
            })?;
        if !seen.insert(permission) {
            return Err(FieldError::new(
                "permissions",
                ErrorCode::DuplicatePermission,
                format!("{permission} is listed twice"),
            ));
        }
        set.insert(permission);
    }
    Ok(set)
}

impl RoleForm {
    pub fn validate(&self) -> Result<ValidRole, ValidationErrors> {
        Validate::validate(self).map_err(|e| form::report(e, Self::FIELDS))?;
        // Each rule passed above; parsing again keeps the values they vouch for.
        Ok(ValidRole {
            name: RoleName::parse(&self.name)?,
            permissions: permissions_rule(&self.permissions)?,
        })
    }
}

/// A validated role change; only [`RoleChange::validate`] makes one.
#[derive(Debug, Clone)]
pub struct ValidRoleChange {
    name: Option<RoleName>,
    permissions: Option<PermissionSet>,
}

impl ValidRoleChange {
    pub fn name(&self) -> Option<&RoleName> {
        self.name.as_ref()
    }

    pub fn permissions(&self) -> Option<PermissionSet> {
        self.permissions
    }
}

impl RoleChange {
    pub fn validate(&self) -> Result<ValidRoleChange, ValidationErrors> {
        Validate::validate(self).map_err(|e| form::report(e, Self::FIELDS))?;
        Ok(ValidRoleChange {
            name: self.name.as_deref().map(RoleName::parse).transpose()?,
            permissions: self.permissions.as_deref().map(permissions_rule).transpose()?,
        })
    }
}

/// The id of a seeded role: its name as a slug (`Engage Supervisor` →
/// `engage-supervisor`), the same on every install, so docs and scripts can
/// name them.
pub fn seed_role_id(name: &str) -> String {
    crate::text::fold(name).replace(' ', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_roles_have_slug_ids() {
        let ids: Vec<String> = seeded_roles().iter().map(|r| seed_role_id(r.name)).collect();
        assert_eq!(
            ids,
            [
                "administrator",
                "engage-supervisor",
                "engage-worker",
                "intake-screener",
                "auditor"
            ]
        );
    }

    fn scope(role: &str) -> String {
        seeded_roles()
            .into_iter()
            .find(|r| r.name == role)
            .unwrap()
            .permissions
            .to_scope()
    }

    #[test]
    fn the_seeded_catalog_is_spec_s() {
        assert_eq!(seeded_roles().len(), 5);
        // At the root; every other tenant seeds it `within` its agency modules (24).
        assert_eq!(PermissionSet::parse_scope(&scope("Administrator")).unwrap().len(), 28);
        assert_eq!(scope("Engage Supervisor"), "engage:view engage:create engage:edit");
        assert_eq!(scope("Engage Worker"), "engage:view engage:create");
        assert_eq!(scope("Intake Screener"), "intake:view intake:create intake:edit");
        assert_eq!(
            scope("Auditor"),
            "engage:view intake:view investigations:view placements:view providers:view admin:view"
        );
    }

    #[test]
    fn account_permissions_are_the_union_of_roles() {
        let roles = seeded_roles();
        let worker = roles[2].permissions;
        let screener = roles[3].permissions;
        let both = PermissionSet::union_of([worker, screener]);
        assert_eq!(
            both.to_scope(),
            "engage:view engage:create intake:view intake:create intake:edit"
        );
    }

    fn check(name: &str, permissions: &[&str], expected: &[(&str, ErrorCode)]) {
        let form = RoleForm {
            name: name.into(),
            permissions: permissions.iter().map(|s| s.to_string()).collect(),
        };
        let got: Vec<(String, ErrorCode)> = match form.validate() {
            Ok(_) => vec![],
            Err(e) => e.into_errors().into_iter().map(|e| (e.field, e.code)).collect(),
        };
        let expected: Vec<(String, ErrorCode)> = expected.iter().map(|(f, c)| (f.to_string(), *c)).collect();
        assert_eq!(got, expected, "{name:?} {permissions:?}");
    }

    #[test]
    fn role_form_rules() {
        check("Billing", &["engage:view"], &[]);
        check("  ", &["engage:view"], &[("name", ErrorCode::Required)]);
        check(&"r".repeat(101), &["engage:view"], &[("name", ErrorCode::TooLong)]);
        check("Bad\u{7}", &["engage:view"], &[("name", ErrorCode::InvalidCharacters)]);
        check("R", &[], &[("permissions", ErrorCode::Required)]);
        check("R", &["engage:fly"], &[("permissions", ErrorCode::InvalidPermission)]);
        check(
            "R",
            &["engage:view", "engage:view"],
            &[("permissions", ErrorCode::DuplicatePermission)],
        );
        check(
            "",
            &[],
            &[("name", ErrorCode::Required), ("permissions", ErrorCode::Required)],
        );
    }

    #[test]
    fn an_administrator_holds_every_admin_permission() {
        let admin = administration();
        assert_eq!(admin.len(), Action::ALL.len());
        assert!(admin.iter().all(|p| p.module == Module::Admin));
        let seeded = seeded_roles();
        let administrator = seeded.iter().find(|r| r.name == "Administrator").unwrap();
        assert!(keeps_an_administrator([administrator.permissions]));
        assert!(!keeps_an_administrator([]));
        let auditor = seeded.iter().find(|r| r.name == "Auditor").unwrap();
        assert!(!keeps_an_administrator([auditor.permissions, PermissionSet::EMPTY]));
        let mut all_but_delete = PermissionSet::EMPTY;
        for action in [Action::View, Action::Create, Action::Edit] {
            all_but_delete.insert(Permission::new(Module::Admin, action));
        }
        assert!(!keeps_an_administrator([all_but_delete]));
        // Two roles that only together make an administrator.
        let mut delete = PermissionSet::EMPTY;
        delete.insert(Permission::new(Module::Admin, Action::Delete));
        assert!(keeps_an_administrator([all_but_delete.union(delete)]));
    }

    proptest::proptest! {
        #[test]
        fn one_administrator_among_any_users_is_enough(
            others in proptest::collection::vec(
                proptest::sample::subsequence(Permission::all().collect::<Vec<_>>(), 0..=28),
                0..8,
            ),
            at in 0usize..8,
        ) {
            let mut users: Vec<PermissionSet> =
                others.into_iter().map(|held| held.into_iter().collect()).collect();
            let expected = users.iter().any(|u| administration().iter().all(|p| u.contains(p)));
            proptest::prop_assert_eq!(keeps_an_administrator(users.iter().copied()), expected);
            users.insert(at.min(users.len()), administration());
            proptest::prop_assert!(keeps_an_administrator(users));
        }
    }
}
