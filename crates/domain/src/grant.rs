//! Who may hand out what: the one rule every admin write passes through.
//!
//! A caller may create, change or remove a user, an application or a role
//! only when everything that account or role holds, before the change and
//! after it, is among the caller's own permissions. Three things follow, and
//! they are the reason for the shape of the rule rather than a list of cases:
//! - nobody hands out a permission they lack (`admin:create` cannot make an
//!   Administrator);
//! - nobody raises themselves or a role they hold past what they already
//!   hold, since their own permissions are the bound;
//! - nobody touches an account or a role more powerful than themselves, so a
//!   lesser admin cannot disable, rename, re-address or re-password a greater
//!   one, nor delete what they could not have created.
//!
//! A role counts for the permissions it carries: whoever may change a role
//! holds everything the role gives any of its holders before and after, so
//! changing it gives no account anything its author lacked.

use crate::account::AccountKind;
use crate::permission::PermissionSet;
use std::fmt;

/// A write to an account or a role, described by what the target holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantChange {
    /// A new account or role that will hold `after`.
    Create { after: PermissionSet },
    /// Any change, including one that leaves the permissions as they were
    /// (a rename, a new address, disabling): `before` is what it holds now.
    Change {
        before: PermissionSet,
        after: PermissionSet,
    },
    /// Removal of something that holds `before`.
    Remove { before: PermissionSet },
}

impl GrantChange {
    /// Everything the target holds on either side of the change.
    pub fn touched(self) -> PermissionSet {
        match self {
            Self::Create { after } => after,
            Self::Change { before, after } => before.union(after),
            Self::Remove { before } => before,
        }
    }
}

/// A refused write: the permissions the caller would need and lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingPermissions(PermissionSet);

impl MissingPermissions {
    pub fn permissions(self) -> PermissionSet {
        self.0
    }
}

impl fmt::Display for MissingPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "you can only grant or change what you hold yourself; this needs {}, which you do not hold",
            self.0.to_scope().replace(' ', ", ")
        )
    }
}

impl std::error::Error for MissingPermissions {}

/// The grant rule: may a caller holding `caller` make this change?
pub fn authorize_change(caller: PermissionSet, change: GrantChange) -> Result<(), MissingPermissions> {
    let missing = change.touched().difference(caller);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MissingPermissions(missing))
    }
}

/// A user's password and address are how a person signs in; an application
/// holding `admin:edit` must not be able to take over a person's account by
/// setting either. Only a signed-in person (a user) may set them for another.
pub fn may_set_sign_in_details(caller: AccountKind) -> bool {
    caller == AccountKind::User
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::Permission;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn set(scope: &str) -> PermissionSet {
        PermissionSet::parse_scope(scope).unwrap()
    }

    fn check(caller: &str, change: GrantChange, missing: &str) {
        let expected = if missing.is_empty() {
            Ok(())
        } else {
            Err(MissingPermissions(set(missing)))
        };
        assert_eq!(authorize_change(set(caller), change), expected, "{caller} → {change:?}");
    }

    #[test]
    fn the_escalations_that_were_possible_are_refused() {
        let all = PermissionSet::all().to_scope();
        let create_only = "admin:create";
        // admin:create making an Administrator.
        check(create_only, GrantChange::Create { after: set(&all) }, &{
            PermissionSet::all().difference(set(create_only)).to_scope()
        });
        // admin:edit raising its own application.
        check(
            "admin:edit engage:view",
            GrantChange::Change {
                before: set("admin:edit engage:view"),
                after: set("admin:edit engage:view admin:delete"),
            },
            "admin:delete",
        );
        // admin:edit re-passwording the first administrator (no change to
        // permissions, but a more powerful account).
        check(
            "admin:edit",
            GrantChange::Change {
                before: set("admin:edit admin:view"),
                after: set("admin:edit admin:view"),
            },
            "admin:view",
        );
        // Removing what one could not have created.
        check(
            "admin:delete",
            GrantChange::Remove {
                before: set("engage:view"),
            },
            "engage:view",
        );
    }

    #[test]
    fn a_caller_may_hand_out_and_take_back_what_it_holds() {
        check(
            "admin:create engage:view engage:create",
            GrantChange::Create {
                after: set("engage:view"),
            },
            "",
        );
        check(
            "admin:edit engage:view engage:create",
            GrantChange::Change {
                before: set("engage:view engage:create"),
                after: set("engage:view"),
            },
            "",
        );
        check(
            "admin:delete intake:view",
            GrantChange::Remove {
                before: set("intake:view"),
            },
            "",
        );
        check(
            "admin:create",
            GrantChange::Create {
                after: PermissionSet::EMPTY,
            },
            "",
        );
    }

    #[test]
    fn only_people_set_sign_in_details() {
        assert!(may_set_sign_in_details(AccountKind::User));
        assert!(!may_set_sign_in_details(AccountKind::Application));
    }

    /// A small install: roles, and accounts holding roles.
    #[derive(Debug, Clone)]
    struct Install {
        roles: BTreeMap<u8, PermissionSet>,
        accounts: BTreeMap<u8, BTreeSet<u8>>,
    }

    impl Install {
        fn held(&self, account: u8) -> PermissionSet {
            self.accounts.get(&account).map_or(PermissionSet::EMPTY, |roles| {
                PermissionSet::union_of(roles.iter().filter_map(|r| self.roles.get(r).copied()))
            })
        }

        fn role_set(&self, roles: &BTreeSet<u8>) -> PermissionSet {
            PermissionSet::union_of(roles.iter().filter_map(|r| self.roles.get(r).copied()))
        }

        /// The change `op` describes, as the server would present it to the rule.
        fn describe(&self, op: &Op) -> GrantChange {
            match op {
                Op::SetRoles { target, roles, .. } => match self.accounts.get(target) {
                    None => GrantChange::Create {
                        after: self.role_set(roles),
                    },
                    Some(_) => GrantChange::Change {
                        before: self.held(*target),
                        after: self.role_set(roles),
                    },
                },
                Op::RemoveAccount { target, .. } => GrantChange::Remove {
                    before: self.held(*target),
                },
                Op::SetRole { role, permissions, .. } => match self.roles.get(role) {
                    None => GrantChange::Create { after: *permissions },
                    Some(before) => GrantChange::Change {
                        before: *before,
                        after: *permissions,
                    },
                },
            }
        }

        fn apply(&mut self, op: &Op) {
            match op {
                Op::SetRoles { target, roles, .. } => {
                    self.accounts.insert(*target, roles.clone());
                }
                Op::RemoveAccount { target, .. } => {
                    self.accounts.remove(target);
                }
                Op::SetRole { role, permissions, .. } => {
                    self.roles.insert(*role, *permissions);
                }
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Create an account, or change its roles.
        SetRoles {
            author: u8,
            target: u8,
            roles: BTreeSet<u8>,
        },
        RemoveAccount {
            author: u8,
            target: u8,
        },
        /// Create a role, or change its permissions.
        SetRole {
            author: u8,
            role: u8,
            permissions: PermissionSet,
        },
    }

    impl Op {
        fn author(&self) -> u8 {
            match self {
                Op::SetRoles { author, .. } | Op::RemoveAccount { author, .. } | Op::SetRole { author, .. } => *author,
            }
        }
    }

    fn permission_set() -> impl Strategy<Value = PermissionSet> {
        proptest::collection::vec(0..28usize, 0..8).prop_map(|bits| {
            let all: Vec<Permission> = Permission::all().collect();
            bits.into_iter().map(|i| all[i]).collect()
        })
    }

    fn op() -> impl Strategy<Value = Op> {
        let account = 0..6u8;
        let role = 0..6u8;
        prop_oneof![
            (
                account.clone(),
                account.clone(),
                proptest::collection::btree_set(role.clone(), 0..4)
            )
                .prop_map(|(author, target, roles)| Op::SetRoles { author, target, roles }),
            (account.clone(), account.clone()).prop_map(|(author, target)| Op::RemoveAccount { author, target }),
            (account, role, permission_set()).prop_map(|(author, role, permissions)| Op::SetRole {
                author,
                role,
                permissions
            }),
        ]
    }

    fn install() -> impl Strategy<Value = Install> {
        (
            proptest::collection::btree_map(0..6u8, permission_set(), 0..6),
            proptest::collection::btree_map(0..6u8, proptest::collection::btree_set(0..6u8, 0..3), 1..6),
        )
            .prop_map(|(roles, accounts)| Install { roles, accounts })
    }

    proptest! {
        /// The security property itself: whatever sequence of changes the rule
        /// lets through, no account ever gains a permission the author of the
        /// change lacked.
        #[test]
        fn no_allowed_change_gives_anyone_what_its_author_lacked(
            mut install in install(),
            ops in proptest::collection::vec(op(), 1..40),
        ) {
            for op in ops {
                let author = op.author();
                if !install.accounts.contains_key(&author) {
                    continue;
                }
                let author_holds = install.held(author);
                if authorize_change(author_holds, install.describe(&op)).is_err() {
                    continue;
                }
                let before: BTreeMap<u8, PermissionSet> =
                    install.accounts.keys().map(|a| (*a, install.held(*a))).collect();
                install.apply(&op);
                for account in install.accounts.keys() {
                    let gained = install
                        .held(*account)
                        .difference(before.get(account).copied().unwrap_or_default());
                    prop_assert!(
                        gained.is_subset(author_holds),
                        "{op:?} gave account {account} {gained:?}, beyond its author's {author_holds:?}"
                    );
                }
            }
        }

        /// A refusal names exactly what is missing, and holding that is enough.
        #[test]
        fn the_missing_permissions_are_exactly_what_would_make_it_allowed(
            caller in permission_set(),
            before in permission_set(),
            after in permission_set(),
        ) {
            let change = GrantChange::Change { before, after };
            match authorize_change(caller, change) {
                Ok(()) => prop_assert!(before.union(after).is_subset(caller)),
                Err(missing) => {
                    prop_assert!(!missing.permissions().is_empty());
                    prop_assert!(missing.permissions().intersection(caller).is_empty());
                    prop_assert!(authorize_change(caller.union(missing.permissions()), change).is_ok());
                }
            }
        }
    }
}
