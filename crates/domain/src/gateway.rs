//! Forward auth's route policy (the contract's "Forward auth"): which
//! permission a request to one of the platform's other services needs,
//! decided from its method and URI alone.
//!
//! Routes are tried in order and the first that matches decides; a request
//! no route matches is refused. The URI is normalised once, before
//! matching and never after: query and fragment dropped, percent-encoded
//! unreserved characters decoded, other escapes in upper case, dot
//! segments removed (RFC 3986 §6.2.2, §5.2.4). A URI that could mean one
//! path here and another to the service behind the proxy is refused
//! outright: an encoded slash or backslash, a NUL, a backslash, a control
//! character or a broken escape.
//!
//! The policy is read by the server (TOML) into [`PolicyFile`] and
//! compiled here, every mistake reported with the route it is in.

use crate::permission::Permission;
use serde::Deserialize;
use std::fmt;

/// The policy as written: `[[route]]` tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    pub route: Vec<RouteSpec>,
}

/// One `[[route]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub method: MethodSpec,
    pub path: String,
    #[serde(default)]
    pub permission: Option<String>,
    #[serde(default)]
    pub public: bool,
}

/// `"GET"`, `["GET", "HEAD"]` or `"*"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MethodSpec {
    One(String),
    Many(Vec<String>),
}

/// A mistake in the policy, in route `route` (counting from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub route: usize,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "route {}: {}", self.route, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Methods {
    Any,
    Listed(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches this segment exactly, as normalised.
    Literal(String),
    /// `{name}`: any one non-empty segment.
    One,
    /// `{*name}`: the remainder, one segment or more.
    Rest,
}

/// What a route grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAccess {
    Public,
    Needs(Permission),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    methods: Methods,
    segments: Vec<Segment>,
    access: RouteAccess,
}

/// A compiled policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    routes: Vec<Route>,
}

/// The verdict on a request's method and URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Route `route` (counting from 0) matched and grants this.
    Route { route: usize, access: RouteAccess },
    /// No route matches: refused.
    NoRoute,
    /// The URI is refused before any matching, for this reason.
    Unsafe(Unsafe),
}

/// Why a URI is refused unmatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsafe {
    NotAPath,
    EncodedSeparator,
    Backslash,
    ControlCharacter,
    BrokenEscape,
}

impl Unsafe {
    pub fn describe(self) -> &'static str {
        match self {
            Self::NotAPath => "the forwarded URI is not an absolute path",
            Self::EncodedSeparator => "the forwarded URI holds an encoded slash, backslash or NUL",
            Self::Backslash => "the forwarded URI holds a backslash",
            Self::ControlCharacter => "the forwarded URI holds a control character",
            Self::BrokenEscape => "the forwarded URI holds a broken percent-escape",
        }
    }
}

/// The path of `uri` as matching sees it; see the module's note.
pub fn normalise(uri: &str) -> Result<String, Unsafe> {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(Unsafe::NotAPath);
    }
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'%' {
            let hex = path.get(at + 1..at + 3).ok_or(Unsafe::BrokenEscape)?;
            let value = u8::from_str_radix(hex, 16).map_err(|_| Unsafe::BrokenEscape)?;
            if hex.starts_with(['+', '-']) {
                return Err(Unsafe::BrokenEscape);
            }
            match value {
                b'/' | b'\\' | 0 => return Err(Unsafe::EncodedSeparator),
                v if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') => {
                    decoded.push(char::from(v));
                }
                _ => {
                    decoded.push('%');
                    decoded.push_str(&hex.to_ascii_uppercase());
                }
            }
            at += 3;
            continue;
        }
        if byte == b'\\' {
            return Err(Unsafe::Backslash);
        }
        if byte.is_ascii_control() {
            return Err(Unsafe::ControlCharacter);
        }
        // Bytes above ASCII stay as they are: a proxy forwards them raw.
        let ch = path[at..].chars().next().ok_or(Unsafe::BrokenEscape)?;
        if ch.is_control() {
            return Err(Unsafe::ControlCharacter);
        }
        decoded.push(ch);
        at += ch.len_utf8();
    }
    Ok(remove_dot_segments(&decoded))
}

/// RFC 3986 §5.2.4 on an absolute path, segment by segment: `.` goes,
/// `..` takes the segment before it (never above the root).
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    kept.pop();
                }
                // A dot segment at the end leaves a directory: "/a/." is "/a/".
                if i == last {
                    kept.push("");
                }
            }
            other => kept.push(other),
        }
    }
    format!("/{}", kept.join("/"))
}

impl Policy {
    /// Compiles `file`, or every mistake in it.
    pub fn compile(file: &PolicyFile) -> Result<Self, Vec<PolicyError>> {
        let mut errors = Vec::new();
        if file.route.is_empty() {
            errors.push(PolicyError {
                route: 0,
                message: "the policy has no [[route]]: it would refuse every request".into(),
            });
        }
        let mut routes = Vec::new();
        for (at, spec) in file.route.iter().enumerate() {
            let mut fail = |message: String| {
                errors.push(PolicyError {
                    route: at + 1,
                    message: format!("(path {:?}) {message}", spec.path),
                })
            };
            let methods = methods(&spec.method).map_err(&mut fail).ok();
            let segments = pattern(&spec.path).map_err(&mut fail).ok();
            let access = match (spec.public, spec.permission.as_deref()) {
                (true, None) => Some(RouteAccess::Public),
                (true, Some(_)) => {
                    fail("a route is public or needs a permission, not both".into());
                    None
                }
                (false, None) => {
                    fail("a route needs a permission, or public = true".into());
                    None
                }
                (false, Some(text)) => match text.parse::<Permission>() {
                    Ok(permission) => Some(RouteAccess::Needs(permission)),
                    Err(_) => {
                        fail(format!(
                            "permission {text:?} does not exist; permissions are module:action, such as placements:view"
                        ));
                        None
                    }
                },
            };
            if let (Some(methods), Some(segments), Some(access)) = (methods, segments, access) {
                routes.push(Route {
                    methods,
                    segments,
                    access,
                });
            }
        }
        if errors.is_empty() {
            Ok(Self { routes })
        } else {
            Err(errors)
        }
    }

    /// The decision for a request of `method` to `uri` (a path, perhaps
    /// with a query, as the proxy forwards it).
    pub fn decide(&self, method: &str, uri: &str) -> Decision {
        let path = match normalise(uri) {
            Ok(path) => path,
            Err(why) => return Decision::Unsafe(why),
        };
        let segments: Vec<&str> = path[1..].split('/').collect();
        self.routes
            .iter()
            .position(|route| route.methods.admit(method) && matches(&route.segments, &segments))
            .map_or(Decision::NoRoute, |route| Decision::Route {
                route,
                access: self.routes[route].access,
            })
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

impl Methods {
    fn admit(&self, method: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Listed(listed) => listed.iter().any(|m| m == method),
        }
    }
}

fn matches(pattern: &[Segment], segments: &[&str]) -> bool {
    match (pattern.split_first(), segments.split_first()) {
        (None, None) => true,
        (Some((Segment::Rest, _)), Some((first, _))) => !first.is_empty(),
        (Some((Segment::One, rest)), Some((first, others))) => !first.is_empty() && matches(rest, others),
        (Some((Segment::Literal(literal), rest)), Some((first, others))) => literal == first && matches(rest, others),
        _ => false,
    }
}

fn methods(spec: &MethodSpec) -> Result<Methods, String> {
    let listed = match spec {
        MethodSpec::One(one) if one == "*" => return Ok(Methods::Any),
        MethodSpec::One(one) => vec![one.clone()],
        MethodSpec::Many(many) => many.clone(),
    };
    if listed.is_empty() {
        return Err("method lists no method".into());
    }
    for method in &listed {
        // RFC 9110 §9.1: a token; the registered methods are upper case, and
        // a method compares with case, so "get" would never match.
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "method {method:?} is not a method in upper case such as GET, or \"*\" (alone) for any"
            ));
        }
    }
    Ok(Methods::Listed(listed))
}

fn pattern(path: &str) -> Result<Vec<Segment>, String> {
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return Err("path must be an absolute path without query or fragment".into());
    }
    let mut segments = Vec::new();
    let mut names = std::collections::HashSet::new();
    let parts: Vec<&str> = path[1..].split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let (rest, name) = match inner.strip_prefix('*') {
                Some(name) => (true, name),
                None => (false, inner),
            };
            let valid = !name.is_empty()
                && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(format!("{{{inner}}} is not a parameter name (lower case letters, digits, _)"));
            }
            if !names.insert(name) {
                return Err(format!("parameter {name} is named twice"));
            }
            if rest && i != parts.len() - 1 {
                return Err(format!("{{*{name}}} must be the last segment"));
            }
            segments.push(if rest { Segment::Rest } else { Segment::One });
            continue;
        }
        if part.contains(['{', '}']) {
            return Err(format!(
                "segment {part:?}: a parameter is a whole segment, {{name}} or {{*name}}"
            ));
        }
        if matches!(*part, "." | "..") {
            return Err("a pattern has no dot segments".into());
        }
        // A literal compares with a request's segment as normalised alike.
        let normalised = normalise(&format!("/{part}")).map_err(|why| format!("segment {part:?}: {}", why.describe()))?;
        segments.push(Segment::Literal(normalised[1..].to_owned()));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests;
