//! The shape of a JSON body: which fields a form has, of which JSON type,
//! and which must be given.
//!
//! Serde stops at the first field it cannot read and says so in its own
//! words. The contract ("Errors") makes a field missing, null where a value is needed, of the
//! wrong type or unknown a field error like any other, reported together with
//! every other violation. So the shape is checked here first, field by field,
//! against a table beside each form ([`Shaped::FIELDS`]). A field that fails
//! is taken out of the body, and a required one stands in as a neutral value
//! of its type, so that the rest still deserializes into the form and its own
//! rules run on the fields that were well shaped. What the rules say about a
//! stand-in is dropped: the shape error already speaks for that field.
//!
//! Only the rules that need no storage run beside shape errors (see
//! [`Shaped::rules`]); a well-shaped body is handed on, and its caller runs
//! every rule, with storage's facts, as before.

use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// Past this many, unknown fields are not listed: a body of thousands of
/// stray keys would otherwise buy an answer many times its own size.
pub const MAX_UNKNOWN_LISTED: usize = 20;

/// The JSON type a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A list of strings, such as role ids.
    TextList,
    Boolean,
    /// A whole number that fits in 64 bits.
    Integer,
    /// A JSON object, such as a JWK Set; its members are the form's rules' to judge.
    Object,
    /// One of these strings, such as a case's status; any other is an
    /// `invalid_value`, so that serde only reads one it knows.
    Choice(&'static [&'static str]),
}

impl Kind {
    fn fits(self, value: &Value) -> bool {
        match self {
            Self::Text | Self::Choice(_) => value.is_string(),
            Self::TextList => value.as_array().is_some_and(|items| items.iter().all(Value::is_string)),
            Self::Boolean => value.is_boolean(),
            Self::Integer => value.as_i64().is_some(),
            Self::Object => value.is_object(),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Self::Text | Self::Choice(_) => "a string",
            Self::TextList => "a list of strings",
            Self::Boolean => "true or false",
            Self::Integer => "an integer",
            Self::Object => "an object",
        }
    }

    /// What stands in for a refused required field while the other fields' rules run.
    fn stand_in(self) -> Value {
        match self {
            Self::Text => Value::String(String::new()),
            Self::Choice(values) => Value::String(values.first().copied().unwrap_or_default().to_owned()),
            Self::TextList => Value::Array(Vec::new()),
            Self::Boolean => Value::Bool(false),
            Self::Integer => Value::from(0),
            Self::Object => Value::Object(Map::new()),
        }
    }
}

/// Whether a field must be given, and what `null` means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Must be given. `null` is no value, so it counts as missing (`required`)
    /// rather than as a value of the wrong type: the fix is the same, give one.
    Required,
    /// May be left out; `null` is the same as leaving it out.
    Optional,
    /// May be left out (a change leaves it as it is); `null` clears it.
    Clearable,
}

/// One field of a form's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub presence: Presence,
}

impl Field {
    pub const fn required(name: &'static str, kind: Kind) -> Self {
        Self {
            name,
            kind,
            presence: Presence::Required,
        }
    }

    pub const fn optional(name: &'static str, kind: Kind) -> Self {
        Self {
            name,
            kind,
            presence: Presence::Optional,
        }
    }

    pub const fn clearable(name: &'static str, kind: Kind) -> Self {
        Self {
            name,
            kind,
            presence: Presence::Clearable,
        }
    }

    /// The value to hand serde (`None`: leave the field out), or why not.
    fn check(&self, value: Option<Value>) -> Result<Option<Value>, FieldError> {
        match (value, self.presence) {
            (None | Some(Value::Null), Presence::Required) => Err(FieldError::new(
                self.name,
                ErrorCode::Required,
                format!("{} is required", self.name),
            )),
            (None | Some(Value::Null), Presence::Optional) | (None, Presence::Clearable) => Ok(None),
            (Some(Value::Null), Presence::Clearable) => Ok(Some(Value::Null)),
            (Some(value), _) if self.kind.fits(&value) => {
                if let (Kind::Choice(values), Some(text)) = (self.kind, value.as_str())
                    && !values.contains(&text)
                {
                    return Err(FieldError::new(
                        self.name,
                        ErrorCode::InvalidValue,
                        format!("{} must be {}", self.name, one_of(values)),
                    ));
                }
                Ok(Some(value))
            }
            (Some(_), presence) => {
                let or_null = if presence == Presence::Required { "" } else { " or null" };
                Err(FieldError::new(
                    self.name,
                    ErrorCode::InvalidType,
                    format!("{} must be {}{or_null}", self.name, self.kind.expected()),
                ))
            }
        }
    }
}

/// A form read from a JSON object whose shape is checked first.
pub trait Shaped: DeserializeOwned {
    /// Every field, in the order people read the form: the order of its errors.
    const FIELDS: &'static [Field];

    /// The form's rules that need nothing from storage, run beside shape
    /// errors so that one answer lists them all. Storage's rules (an address
    /// in use, a role that does not exist) run once the shape is right.
    fn rules(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

/// Why a body was not read as a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// JSON, but not an object (e.g. `[]` or `5`): there is no field to blame,
    /// so this is no field error. Names what was sent ("an array").
    NotAnObject(&'static str),
    /// Every shape error, with the storage-free rules' errors of the other fields.
    Invalid(ValidationErrors),
    /// The checked fields still did not deserialize: a form's table disagrees
    /// with its type. Serde's words, which may quote a value (a password):
    /// for tests, not for answers or logs.
    Unreadable(String),
}

/// A JSON body as sent. An object keeps each key as often as it came: a
/// field given twice is refused rather than one copy silently winning.
#[derive(Debug, Clone, PartialEq)]
pub struct Body(Parsed);

#[derive(Debug, Clone, PartialEq)]
enum Parsed {
    Object(Vec<(String, Value)>),
    Other(&'static str),
}

impl Body {
    /// Errors are syntax errors only: anything that is JSON parses.
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// Every key and value of an object body, repeats included; none otherwise.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        let entries = match &self.0 {
            Parsed::Object(entries) => entries.as_slice(),
            Parsed::Other(_) => &[],
        };
        entries.iter().map(|(key, value)| (key.as_str(), value))
    }

    /// The form, or every reason it cannot be one.
    pub fn read<T: Shaped>(self) -> Result<T, Refusal> {
        let entries = match self.0 {
            Parsed::Object(entries) => entries,
            Parsed::Other(kind) => return Err(Refusal::NotAnObject(kind)),
        };
        let Sorted {
            object,
            mut errors,
            unknown,
        } = sort_out(T::FIELDS, entries);
        let form: T = serde_json::from_value(Value::Object(object)).map_err(|e| Refusal::Unreadable(e.to_string()))?;
        if errors.is_empty() && unknown.is_empty() {
            return Ok(form);
        }
        let refused: BTreeSet<String> = errors.iter().map(|e| e.field.clone()).collect();
        if let Err(rules) = form.rules() {
            errors.extend(rules.into_errors().into_iter().filter(|e| !refused.contains(&e.field)));
        }
        // Stable: each field's errors keep the order its rules gave them.
        errors.sort_by_key(|e| position(T::FIELDS, &e.field));
        let mut report = ValidationErrors::new();
        errors.into_iter().for_each(|e| report.push(e));
        let listing = names(T::FIELDS);
        for key in unknown.into_iter().take(MAX_UNKNOWN_LISTED) {
            report.push(FieldError::new(
                key,
                ErrorCode::UnknownField,
                format!("this form has no such field; its fields are {listing}"),
            ));
        }
        Err(Refusal::Invalid(report))
    }
}

/// A body sorted against a form's table.
struct Sorted {
    /// What serde may read: the well-shaped fields, and stand-ins.
    object: Map<String, Value>,
    /// One shape error per refused field, in the table's order.
    errors: Vec<FieldError>,
    unknown: BTreeSet<String>,
}

fn sort_out(fields: &[Field], entries: Vec<(String, Value)>) -> Sorted {
    let mut given: Vec<Vec<Value>> = vec![Vec::new(); fields.len()];
    let mut unknown = BTreeSet::new();
    for (key, value) in entries {
        match fields.iter().position(|f| f.name == key) {
            Some(at) => given[at].push(value),
            None => {
                unknown.insert(key);
            }
        }
    }
    let mut object = Map::new();
    let mut errors = Vec::new();
    for (field, mut values) in fields.iter().zip(given) {
        let checked = if values.len() > 1 {
            Err(FieldError::new(
                field.name,
                ErrorCode::InvalidValue,
                format!("{} is given more than once; send each field once", field.name),
            ))
        } else {
            field.check(values.pop())
        };
        match checked {
            Ok(Some(value)) => {
                object.insert(field.name.to_owned(), value);
            }
            Ok(None) => {}
            Err(error) => {
                errors.push(error);
                if field.presence == Presence::Required {
                    object.insert(field.name.to_owned(), field.kind.stand_in());
                }
            }
        }
    }
    Sorted {
        object,
        errors,
        unknown,
    }
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
pub(crate) fn one_of(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    match quoted.split_last() {
        None => "nothing".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Where `field` comes in `fields`; after all of them if it is not there.
pub(crate) fn position(fields: &[Field], field: &str) -> usize {
    fields.iter().position(|f| f.name == field).unwrap_or(fields.len())
}

fn names(fields: &[Field]) -> String {
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    names.join(", ")
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BodyVisitor).map(Self)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Parsed::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Parsed::Other("an array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Parsed, E> {
        Ok(Parsed::Other("a string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Parsed, E> {
        Ok(Parsed::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Parsed, E> {
        Ok(Parsed::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Parsed, E> {
        Ok(Parsed::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Parsed, E> {
        Ok(Parsed::Other("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Parsed, E> {
        Ok(Parsed::Other("null"))
    }
}

#[cfg(test)]
mod tests;
