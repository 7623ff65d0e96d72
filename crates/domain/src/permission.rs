//! Permissions (`module:action`) and sets of them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A Casebook module that permissions are granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Module {
    Engage,
    Intake,
    Investigations,
    Placements,
    Providers,
    Admin,
    /// Managing the install's tenants: held only in the root tenant
    /// (the contract, "Tenants").
    Tenants,
}

impl Module {
    pub const ALL: [Module; 7] = [
        Self::Engage,
        Self::Intake,
        Self::Investigations,
        Self::Placements,
        Self::Providers,
        Self::Admin,
        Self::Tenants,
    ];

    /// The modules every tenant has; `tenants` exists only at the root.
    pub const AGENCY: [Module; 6] = [
        Self::Engage,
        Self::Intake,
        Self::Investigations,
        Self::Placements,
        Self::Providers,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Engage => "engage",
            Self::Intake => "intake",
            Self::Investigations => "investigations",
            Self::Placements => "placements",
            Self::Providers => "providers",
            Self::Admin => "admin",
            Self::Tenants => "tenants",
        }
    }
}

/// What may be done in a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    View,
    Create,
    Edit,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Self::View, Self::Create, Self::Edit, Self::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Create => "create",
            Self::Edit => "edit",
            Self::Delete => "delete",
        }
    }
}

impl FromStr for Module {
    type Err = PermissionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or(PermissionParseError)
    }
}

impl FromStr for Action {
    type Err = PermissionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or(PermissionParseError)
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not `module:action` with a known module and action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a permission is written module:action, with module one of engage, intake, investigations, placements, providers, admin, tenants and action one of view, create, edit, delete"
)]
pub struct PermissionParseError;

/// One action on one module, written `module:action` (`engage:view`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    pub module: Module,
    pub action: Action,
}

impl Permission {
    pub const fn new(module: Module, action: Action) -> Self {
        Self { module, action }
    }

    /// Every permission there is, in a fixed order (module, then action).
    pub fn all() -> impl Iterator<Item = Permission> {
        Module::ALL
            .into_iter()
            .flat_map(|m| Action::ALL.into_iter().map(move |a| Permission::new(m, a)))
    }

    fn bit(self) -> u32 {
        1 << (self.module as u32 * 4 + self.action as u32)
    }
}

impl FromStr for Permission {
    type Err = PermissionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (module, action) = s.split_once(':').ok_or(PermissionParseError)?;
        Ok(Self::new(module.parse()?, action.parse()?))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.module, self.action)
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of permissions: 7 modules × 4 actions fit one word, so union and
/// subset checks on the hot path are single instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn all() -> Self {
        Permission::all().collect()
    }

    /// Every permission a tenant other than the root can hold.
    pub fn agency() -> Self {
        Self::all().difference(Self::platform())
    }

    /// The `tenants` module's permissions: only the root tenant has them.
    pub fn platform() -> Self {
        Action::ALL
            .into_iter()
            .map(|action| Permission::new(Module::Tenants, action))
            .collect()
    }

    /// What of `self` a tenant can hold: all of it at the root, the agency
    /// modules elsewhere.
    pub fn within(self, root: bool) -> Self {
        if root { self } else { self.intersection(Self::agency()) }
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn insert(&mut self, permission: Permission) {
        self.0 |= permission.bit();
    }

    pub fn union(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 | other.0)
    }

    pub fn intersection(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & other.0)
    }

    /// What `self` holds that `other` does not.
    pub fn difference(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & !other.0)
    }

    pub fn is_subset(self, of: PermissionSet) -> bool {
        self.0 & !of.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// In the fixed order of [`Permission::all`].
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::all().filter(move |p| self.contains(*p))
    }

    /// Space-separated, as in an OAuth `scope`.
    pub fn to_scope(self) -> String {
        self.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")
    }

    pub fn to_strings(self) -> Vec<String> {
        self.iter().map(|p| p.to_string()).collect()
    }

    /// Parses a space-separated list; an empty string is the empty set.
    pub fn parse_scope(scope: &str) -> Result<Self, PermissionParseError> {
        scope.split(' ').filter(|s| !s.is_empty()).map(str::parse).collect()
    }

    /// The union of the permissions of several roles: an account's permissions.
    pub fn union_of(sets: impl IntoIterator<Item = PermissionSet>) -> Self {
        sets.into_iter().fold(Self::EMPTY, Self::union)
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = PermissionSet::EMPTY;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|p| p.to_string())).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_display() {
        for (text, ok) in [
            ("engage:view", true),
            ("admin:delete", true),
            ("providers:edit", true),
            ("engage", false),
            ("engage:", false),
            (":view", false),
            ("Engage:view", false),
            ("engage:approve", false),
            ("billing:view", false),
            ("engage:view:x", false),
        ] {
            assert_eq!(text.parse::<Permission>().is_ok(), ok, "{text}");
        }
        assert_eq!(Permission::all().count(), 28);
        assert!("tenants:view".parse::<Permission>().is_ok());
        assert_eq!(PermissionSet::agency().len() + PermissionSet::platform().len(), 28);
    }

    #[test]
    fn scope_round_trip_and_union() {
        let a = PermissionSet::parse_scope("engage:view engage:create").unwrap();
        let b = PermissionSet::parse_scope("intake:view  engage:view").unwrap();
        let u = PermissionSet::union_of([a, b]);
        assert_eq!(u.to_scope(), "engage:view engage:create intake:view");
        assert!(a.is_subset(u) && b.is_subset(u) && !u.is_subset(a));
        assert!(PermissionSet::parse_scope("engage:view nope").is_err());
        assert!(PermissionSet::parse_scope("").unwrap().is_empty());
    }

    fn permission() -> impl Strategy<Value = Permission> {
        (0..6usize, 0..4usize).prop_map(|(m, a)| Permission::new(Module::ALL[m], Action::ALL[a]))
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(p in permission()) {
            prop_assert_eq!(p.to_string().parse::<Permission>().unwrap(), p);
        }

        #[test]
        fn parse_then_display_is_identity_or_error(s in "[a-z]{0,15}:?[a-z]{0,8}") {
            if let Ok(p) = s.parse::<Permission>() {
                prop_assert_eq!(p.to_string(), s);
            }
        }

        #[test]
        fn scope_text_round_trips(ps in proptest::collection::vec(permission(), 0..24)) {
            let set: PermissionSet = ps.into_iter().collect();
            prop_assert_eq!(PermissionSet::parse_scope(&set.to_scope()).unwrap(), set);
        }
    }
}
