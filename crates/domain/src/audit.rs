//! The audit trail's rules: what a change is called, and how what changed
//! is told. The server reads a record before and after a change, in the
//! change's transaction, and these decide what the event says; so an event
//! says what happened to the record, never what a form sent.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// What changed in one record, field by field, in the trail's wire shape:
/// `{"field": {"from": …, "to": …}}`; a set shown as what it gained and
/// lost, `{"permissions": {"added": […], "removed": […]}}`; a secret only as
/// `{"password": {"changed": true}}`, never a value. A field that did not
/// move is left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes(Map<String, Value>);

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// A plain value (a name, a URL, a flag, a quota, or null).
    pub fn field(&mut self, name: &str, from: impl Into<Value>, to: impl Into<Value>) -> &mut Self {
        let (from, to) = (from.into(), to.into());
        if from != to {
            self.0.insert(name.to_owned(), json!({ "from": from, "to": to }));
        }
        self
    }

    /// A list whose order means nothing (an account's roles by name, an
    /// application's sources), shown whole before and after, sorted.
    pub fn list<S: AsRef<str>>(
        &mut self,
        name: &str,
        from: impl IntoIterator<Item = S>,
        to: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        let (from, to) = (set_of(from), set_of(to));
        if from != to {
            self.0.insert(name.to_owned(), json!({ "from": from, "to": to }));
        }
        self
    }

    /// A set told by what it gained and lost (a role's permissions): a long
    /// list with one entry moved reads as that entry.
    pub fn delta<S: AsRef<str>>(
        &mut self,
        name: &str,
        from: impl IntoIterator<Item = S>,
        to: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        let (from, to) = (set_of(from), set_of(to));
        let added: Vec<&String> = to.difference(&from).collect();
        let removed: Vec<&String> = from.difference(&to).collect();
        if !added.is_empty() || !removed.is_empty() {
            self.0
                .insert(name.to_owned(), json!({ "added": added, "removed": removed }));
        }
        self
    }

    /// A secret that was set anew: that it changed, and nothing of it.
    pub fn secret(&mut self, name: &str) -> &mut Self {
        self.0.insert(name.to_owned(), json!({ "changed": true }));
        self
    }

    /// Whether `name` moved.
    pub fn moved(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The value of `name` after the change, when it moved as a plain field.
    pub fn to(&self, name: &str) -> Option<&Value> {
        self.0.get(name)?.get("to")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// A list whose order means nothing, as a sorted set (serialised sorted).
fn set_of<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> BTreeSet<String> {
    items.into_iter().map(|s| s.as_ref().to_owned()).collect()
}

/// What a change to a record that can be switched off is called: its
/// flag's move when the flag moved (whatever else moved with it), a change
/// otherwise, so that an edit which re-sends `enabled: true` is a change.
pub fn change_verb(enabled_before: bool, enabled_after: bool) -> &'static str {
    match (enabled_before, enabled_after) {
        (true, false) => "disabled",
        (false, true) => "enabled",
        _ => "changed",
    }
}

/// The actor of what an operator does on the command line
/// (`casebook keys rotate`, `casebook tenants create`, …): no account, so
/// the trail names the tool.
pub const OPERATOR_ID: &str = "cli";
pub const OPERATOR_NAME: &str = "casebook CLI";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_field_that_did_not_move_is_left_out() {
        let mut changes = Changes::new();
        changes
            .field("name", "Intake", "Intake")
            .field("url", Value::Null, "https://a.example");
        assert_eq!(
            changes.into_value(),
            json!({ "url": { "from": null, "to": "https://a.example" } })
        );
    }

    #[test]
    fn a_secret_is_told_without_its_value() {
        let mut changes = Changes::new();
        changes.secret("password");
        assert_eq!(changes.into_value(), json!({ "password": { "changed": true } }));
    }

    #[test]
    fn permissions_are_told_by_what_they_gained_and_lost() {
        let mut changes = Changes::new();
        changes.delta(
            "permissions",
            ["cases:view", "cases:edit"],
            ["cases:view", "admin:edit"],
        );
        assert_eq!(
            changes.into_value(),
            json!({ "permissions": { "added": ["admin:edit"], "removed": ["cases:edit"] } })
        );
    }

    #[test]
    fn the_verb_follows_the_flag_only_when_it_moved() {
        assert_eq!(change_verb(true, true), "changed");
        assert_eq!(change_verb(false, false), "changed");
        assert_eq!(change_verb(true, false), "disabled");
        assert_eq!(change_verb(false, true), "enabled");
    }

    proptest! {
        /// A list's order never makes a change, and a moved list shows
        /// exactly the two sets.
        #[test]
        fn lists_are_compared_as_sets(
            from in proptest::collection::btree_set("[a-z]{1,6}", 0..6),
            to in proptest::collection::btree_set("[a-z]{1,6}", 0..6),
        ) {
            let mut changes = Changes::new();
            let reversed: Vec<String> = from.iter().rev().cloned().collect();
            changes.list("roles", from.iter().cloned(), reversed);
            prop_assert!(changes.is_empty());
            let mut changes = Changes::new();
            changes.list("roles", from.iter().cloned(), to.iter().cloned());
            prop_assert_eq!(changes.moved("roles"), from != to);
            let mut delta = Changes::new();
            delta.delta("roles", from.iter().cloned(), to.iter().cloned());
            prop_assert_eq!(delta.moved("roles"), from != to);
        }
    }
}
