//! The answer bodies the SDK reads: RFC 9457 problems (`wire::Problem`,
//! read leniently), RFC 6749 error bodies (`wire::OAuthErrorBody`), token
//! responses (`wire::TokenResponse`, lenient `expires_in`) and RFC 7662
//! introspection answers. The SDK's own functions that turn a status and a
//! body into its `Error` are private, and the SDK crate brings an HTTP and
//! TLS stack into every fuzz build, so the domain's wire types are fuzzed
//! with `serde_json::from_slice`, exactly as the SDK calls it.
//!
//! Properties: what a reader keeps, written and read again, is read the
//! same (the lenient readers are idempotent, the strict ones round-trip); a
//! member a newer server adds never turns a readable body unreadable nor
//! changes what is read; `expires_in` is never negative.

#![no_main]

use arbitrary::Arbitrary;
use casebook_domain::Permission;
use casebook_domain::wire::{IntrospectionResponse, OAuthErrorBody, Problem, TokenResponse};
use casebook_domain::{ErrorCode, OAuthErrorCode};
use casebook_fuzz::{Input, Json, Member, Name, Text, input};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Arbitrary, Debug)]
enum Built {
    Problem(ProblemSpec),
    OAuth(OAuthSpec),
    Token(TokenSpec),
}

#[derive(Arbitrary, Debug)]
enum Code {
    Field(u8),
    OAuth(u8),
    Unknown(String),
    Json(Json),
}

const OTHER_CODES: [&str; 3] = ["unrecognized", "future_code", ""];
const OAUTH_CODES: [OAuthErrorCode; 9] = [
    OAuthErrorCode::InvalidRequest,
    OAuthErrorCode::InvalidClient,
    OAuthErrorCode::InvalidGrant,
    OAuthErrorCode::UnauthorizedClient,
    OAuthErrorCode::UnsupportedGrantType,
    OAuthErrorCode::InvalidScope,
    OAuthErrorCode::UnsupportedTokenType,
    OAuthErrorCode::InvalidTarget,
    OAuthErrorCode::TemporarilyUnavailable,
];

impl Code {
    fn json(&self) -> Json {
        let text = |s: &str| Json::Text(Text::Other(s.to_owned()));
        match self {
            Self::Field(i) => {
                let i = usize::from(*i) % (ErrorCode::ALL.len() + OTHER_CODES.len());
                match ErrorCode::ALL.get(i) {
                    Some(code) => text(code.as_str()),
                    None => text(OTHER_CODES[i - ErrorCode::ALL.len()]),
                }
            }
            Self::OAuth(i) => text(OAUTH_CODES[usize::from(*i) % OAUTH_CODES.len()].as_str()),
            Self::Unknown(s) => text(s),
            Self::Json(j) => j.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct FieldErrorSpec {
    field: Member,
    code: Code,
    message: Member,
    extra: Vec<(Name, Json)>,
}

#[derive(Arbitrary, Debug)]
enum KindSpec {
    User,
    Application,
    Other(Member),
}

#[derive(Arbitrary, Debug)]
struct HolderSpec {
    kind: KindSpec,
    id: Member,
    name: Member,
}

#[derive(Arbitrary, Debug)]
enum ListSpec<T> {
    List(Vec<T>),
    Other(Json),
}

#[derive(Arbitrary, Debug)]
struct ProblemSpec {
    kind: Member,
    title: Member,
    status: Option<Json>,
    detail: Member,
    errors: Option<ListSpec<FieldErrorSpec>>,
    holders: Option<ListSpec<HolderSpec>>,
    missing_permissions: Option<ListSpec<Member>>,
    extra: Vec<(Name, Json)>,
}

fn object(members: &[(&str, Option<Json>)], extra: &[(Name, Json)]) -> Json {
    let mut all: Vec<(Name, Json)> = members
        .iter()
        .filter_map(|(n, v)| v.clone().map(|v| (Name::Other((*n).to_owned()), v)))
        .collect();
    all.extend(extra.iter().cloned());
    Json::Object(all)
}

fn list<T>(spec: &Option<ListSpec<T>>, item: impl Fn(&T) -> Json) -> Option<Json> {
    spec.as_ref().map(|spec| match spec {
        ListSpec::List(items) => Json::Array(items.iter().map(item).collect()),
        ListSpec::Other(json) => json.clone(),
    })
}

impl ProblemSpec {
    fn text(&self) -> String {
        let errors = list(&self.errors, |e| {
            object(
                &[
                    ("field", e.field.json()),
                    ("code", Some(e.code.json())),
                    ("message", e.message.json()),
                ],
                &e.extra,
            )
        });
        let holders = list(&self.holders, |h| {
            let kind = match &h.kind {
                KindSpec::User => Some(Json::Text(Text::Other("user".into()))),
                KindSpec::Application => Some(Json::Text(Text::Other("application".into()))),
                KindSpec::Other(m) => m.json(),
            };
            object(&[("kind", kind), ("id", h.id.json()), ("name", h.name.json())], &[])
        });
        let missing = list(&self.missing_permissions, |m| m.json().unwrap_or(Json::Null));
        object(
            &[
                ("type", self.kind.json()),
                ("title", self.title.json()),
                ("status", self.status.clone()),
                ("detail", self.detail.json()),
                ("errors", errors),
                ("holders", holders),
                ("missing_permissions", missing),
            ],
            &self.extra,
        )
        .to_text()
    }
}

#[derive(Arbitrary, Debug)]
struct OAuthSpec {
    error: Option<Code>,
    description: Member,
    extra: Vec<(Name, Json)>,
}

#[derive(Arbitrary, Debug)]
enum Seconds {
    Int(i64),
    Float(f64),
    Text(String),
    Json(Json),
}

#[derive(Arbitrary, Debug)]
struct TokenSpec {
    access_token: Member,
    token_type: Member,
    expires_in: Option<Seconds>,
    scope: Member,
    extra: Vec<(Name, Json)>,
}

fuzz_target!(|data: &[u8]| {
    let body = match input::<Built>(data) {
        None => return,
        Some(Input::Raw(bytes)) => bytes.to_vec(),
        Some(Input::Built(Built::Problem(spec))) => spec.text().into_bytes(),
        Some(Input::Built(Built::OAuth(spec))) => object(
            &[
                ("error", spec.error.as_ref().map(Code::json)),
                ("error_description", spec.description.json()),
            ],
            &spec.extra,
        )
        .to_text()
        .into_bytes(),
        Some(Input::Built(Built::Token(spec))) => {
            let seconds = spec.expires_in.as_ref().map(|s| match s {
                Seconds::Int(n) => Json::Int(*n),
                Seconds::Float(f) => Json::Float(*f),
                Seconds::Text(t) => Json::Text(Text::Other(t.clone())),
                Seconds::Json(j) => j.clone(),
            });
            object(
                &[
                    ("access_token", spec.access_token.json()),
                    ("token_type", spec.token_type.json()),
                    ("expires_in", seconds),
                    ("scope", spec.scope.json()),
                ],
                &spec.extra,
            )
            .to_text()
            .into_bytes()
        }
    };
    problem(&body);
    oauth_error(&body);
    token_response(&body);
    same_again::<IntrospectionResponse>(&body);
});

/// As the SDK reads a problem: an empty body is the status alone.
fn read_problem(body: &[u8]) -> Result<Problem, serde_json::Error> {
    match body {
        [] => Ok(Problem::default()),
        _ => serde_json::from_slice(body),
    }
}

fn problem(body: &[u8]) {
    let Ok(problem) = read_problem(body) else { return };
    let written = serde_json::to_vec(&problem).expect("a problem serializes");
    assert_eq!(
        read_problem(&written).ok().as_ref(),
        Some(&problem),
        "{}",
        String::from_utf8_lossy(&written)
    );
    for error in problem.errors.iter().flatten() {
        // A code this version does not know is kept as the server wrote it.
        if error.code == ErrorCode::Unrecognized {
            assert!(ErrorCode::parse(error.code_str()).is_none(), "{:?}", error.code_str());
        } else {
            assert_eq!(error.code_str(), error.code.as_str());
        }
    }
    for permission in problem.missing_permissions.iter().flatten() {
        if let Ok(parsed) = permission.parse::<Permission>() {
            assert_eq!(parsed.to_string().parse::<Permission>().ok(), Some(parsed));
        }
    }
    newer_member_changes_nothing(body, &problem, read_problem);
}

fn oauth_error(body: &[u8]) {
    let Some(error) = same_again::<OAuthErrorBody>(body) else {
        return;
    };
    let mut expected = serde_json::json!({"error": error.error.as_str()});
    if let Some(description) = &error.error_description {
        expected["error_description"] = description.as_str().into();
    }
    assert_eq!(serde_json::to_value(&error).ok(), Some(expected));
    newer_member_changes_nothing(body, &error, |b| serde_json::from_slice::<OAuthErrorBody>(b));
}

fn token_response(body: &[u8]) {
    let Ok(token) = serde_json::from_slice::<TokenResponse>(body) else {
        return;
    };
    assert!(
        token.expires_in.is_none_or(|s| s >= 0),
        "expires_in {:?}",
        token.expires_in
    );
    let written = serde_json::to_vec(&token).expect("a token response serializes");
    let again: TokenResponse = serde_json::from_slice(&written).expect("a written token response reads");
    let fields = |t: &TokenResponse| {
        (
            t.access_token.clone(),
            t.token_type.clone(),
            t.expires_in,
            t.scope.clone(),
        )
    };
    assert_eq!(fields(&again), fields(&token));
}

/// A strict reader's value, written and read again, is the same value.
fn same_again<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(body: &[u8]) -> Option<T> {
    let value: T = serde_json::from_slice(body).ok()?;
    let written = serde_json::to_vec(&value).expect("a wire value serializes");
    let again: T = serde_json::from_slice(&written).expect("a written wire value reads");
    assert_eq!(again, value);
    Some(value)
}

/// The body as a newer server might send it: one member more, at the end.
fn newer_member_changes_nothing<T: PartialEq + std::fmt::Debug, E>(
    body: &[u8],
    read: &T,
    reader: impl Fn(&[u8]) -> Result<T, E>,
) {
    let Ok(serde_json::Value::Object(mut members)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    if members.contains_key("zz_added_later") {
        return;
    }
    // Only a body without repeated members: serde's last copy and the
    // Value's last copy would otherwise be compared across two readers.
    if casebook_fuzz::strict_json(body).is_err() {
        return;
    }
    members.insert("zz_added_later".into(), serde_json::json!({"nested": [1, "two", null]}));
    let newer = serde_json::to_vec(&members).expect("an object serializes");
    let again = reader(&newer).ok();
    assert_eq!(
        again.as_ref(),
        Some(read),
        "a member a newer server adds changes the reading"
    );
}
