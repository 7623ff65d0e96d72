//! What the fuzz targets share: JSON written from parts the fuzzer picks
//! (members may repeat, as a hostile client's would), a reader that refuses
//! a member given twice at any depth, form encoding, and the fixed context
//! (client, issuers, clock) the claim checks are run against.
//!
//! The structured inputs lean towards the names and values the parsers look
//! for, so that the fuzzer spends its time past base64 and JSON syntax, in
//! the rules.

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// The client an assertion must speak for.
pub const CLIENT_ID: &str = "cb_2VYs0nW3xZkF1qHt";
/// This install's issuer identifier: the one audience of an assertion.
pub const ISSUER: &str = "https://casebook.example";
/// An outside identity's issuer and subject, for federated tokens.
pub const OUTSIDE_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
pub const SUBJECT: &str = "system:serviceaccount:payments:exporter";
/// The clock every check runs at, in seconds.
pub const NOW: i64 = 1_800_000_000;

/// Member names the parsers give meaning to, and a few they do not.
pub const NAMES: &[&str] = &[
    "alg",
    "kid",
    "typ",
    "crit",
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "keys",
    "kty",
    "crv",
    "x",
    "y",
    "n",
    "e",
    "use",
    "d",
    "k",
    "repository",
    "kubernetes.io",
    "namespace",
    "sig",
    "enc",
    "RSA",
    "EC",
    "OKP",
    "P-256",
    "P-384",
    "Ed25519",
    "key_ops",
    "verify",
    "x5c",
    "x5t#S256",
    // The key ids of `fixed_keys`.
    "rsa",
    "ec",
    "ed",
];

/// `alg` values: the four accepted, and the classic attacks on the rest.
pub const ALGS: &[&str] = &[
    "RS256", "PS256", "ES256", "EdDSA", "none", "HS256", "RS384", "es256", "", "EdDSA ",
];

#[derive(Arbitrary, Debug, Clone)]
pub enum Name {
    Known(u8),
    Other(String),
}

impl Name {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(i) => NAMES[*i as usize % NAMES.len()],
            Self::Other(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Text {
    ClientId,
    Issuer,
    OutsideIssuer,
    Subject,
    Alg(u8),
    Name(Name),
    Other(String),
}

impl Text {
    pub fn as_str(&self) -> &str {
        match self {
            Self::ClientId => CLIENT_ID,
            Self::Issuer => ISSUER,
            Self::OutsideIssuer => OUTSIDE_ISSUER,
            Self::Subject => SUBJECT,
            Self::Alg(i) => ALGS[*i as usize % ALGS.len()],
            Self::Name(name) => name.as_str(),
            Self::Other(s) => s,
        }
    }
}

/// A JSON value as the fuzzer builds it. An object is a list of members,
/// so a name may come twice in the text written from it.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Big(u64),
    /// Seconds around [`NOW`]: where the time checks have their edges.
    NearNow(i16),
    Float(f64),
    Text(Text),
    Array(Vec<Json>),
    Object(Vec<(Name, Json)>),
}

impl Json {
    pub fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Int(n) => out.push_str(&n.to_string()),
            Self::Big(n) => out.push_str(&n.to_string()),
            Self::NearNow(d) => out.push_str(&(NOW + i64::from(*d)).to_string()),
            Self::Float(f) => match Number::from_f64(*f) {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str("null"),
            },
            Self::Text(t) => write_str(t.as_str(), out),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Object(members) => write_object(members.iter().map(|(n, v)| (n.as_str(), v)), out),
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// The value a lenient reader makes of the text: the last copy of a
    /// repeated member stands.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.to_text()).unwrap_or(Value::Null)
    }
}

pub fn write_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

/// An object whose members are written in the order given, repeats kept.
pub fn write_object<'a>(members: impl IntoIterator<Item = (&'a str, &'a Json)>, out: &mut String) {
    out.push('{');
    for (i, (name, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(name, out);
        out.push(':');
        value.write(out);
    }
    out.push('}');
}

/// One part of a compact JWS before base64: mostly an object, sometimes
/// another JSON value or bytes that are no JSON at all.
#[derive(Arbitrary, Debug, Clone)]
pub enum Part {
    Object(Vec<(Name, Json)>),
    Value(Json),
    Bytes(Vec<u8>),
}

impl Part {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Object(members) => {
                let mut out = String::new();
                write_object(members.iter().map(|(n, v)| (n.as_str(), v)), &mut out);
                out.into_bytes()
            }
            Self::Value(value) => value.to_text().into_bytes(),
            Self::Bytes(bytes) => bytes.clone(),
        }
    }
}

/// How the parts are base64-encoded: only the first is what RFC 7515 allows.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Encoding {
    UrlNoPad,
    UrlPadded,
    Standard,
}

impl Encoding {
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Self::UrlNoPad => URL_SAFE_NO_PAD.encode(bytes),
            Self::UrlPadded => URL_SAFE.encode(bytes),
            Self::Standard => STANDARD.encode(bytes),
        }
    }
}

/// A compact JWS built from its decoded parts.
#[derive(Arbitrary, Debug, Clone)]
pub struct Compact {
    pub header: Part,
    pub claims: Part,
    pub signature: Vec<u8>,
    pub encoding: Encoding,
    /// A fourth part (or more), which a compact JWS never has.
    pub extra: Option<String>,
}

impl Compact {
    pub fn encode(&self) -> String {
        join(
            self.encoding,
            &self.header.bytes(),
            &self.claims.bytes(),
            &self.signature,
            self.extra.as_deref(),
        )
    }
}

pub fn join(encoding: Encoding, header: &[u8], claims: &[u8], signature: &[u8], extra: Option<&str>) -> String {
    let mut out = format!(
        "{}.{}.{}",
        encoding.encode(header),
        encoding.encode(claims),
        encoding.encode(signature)
    );
    if let Some(extra) = extra {
        out.push('.');
        out.push_str(extra);
    }
    out
}

/// Members written first, in this order, when present; then the rest.
pub fn members_text(fixed: &[(&str, &Option<Json>)], rest: &[(Name, Json)]) -> Vec<u8> {
    let mut out = String::new();
    let fixed = fixed
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (*name, v)));
    let rest = rest.iter().map(|(n, v)| (n.as_str(), v));
    write_object(fixed.chain(rest), &mut out);
    out.into_bytes()
}

/// Why a JSON text is not what a strict reader accepts.
#[derive(Debug)]
pub struct Repeated(pub String);

/// A JSON value read so that a member given twice in any object, at any
/// depth, is an error: the reader the JOSE parts must pass to be accepted.
pub fn strict_json(bytes: &[u8]) -> Result<Value, Repeated> {
    serde_json::from_slice::<Strict>(bytes)
        .map(|s| s.0)
        .map_err(|e| Repeated(e.to_string()))
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format_args!("member {name:?} is given twice")));
            }
            let Strict(value) = map.next_value()?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

/// Decodes one part of a compact JWS the way RFC 7515 writes it.
pub fn b64url(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part).ok()
}

/// Every byte but the unreserved ones percent-encoded: the spelling no
/// form decoder can misread.
pub fn form_encode_full(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 3);
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Only what must be escaped is: `%`, `&`, `=`, `+`, and a space as `+`.
/// Never longer than any spelling a form decoder took the text from.
pub fn form_encode_minimal(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            ' ' => out.push('+'),
            '%' | '&' | '=' | '+' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A member that is absent, text (the usual case), or any JSON value.
#[derive(Arbitrary, Debug, Clone)]
pub enum Member {
    Absent,
    Text(Text),
    Json(Json),
}

impl Member {
    pub fn json(&self) -> Option<Json> {
        match self {
            Self::Absent => None,
            Self::Text(t) => Some(Json::Text(t.clone())),
            Self::Json(j) => Some(j.clone()),
        }
    }
}

/// A key's material, sized by the fuzzer rather than spelled by it: the
/// rules are about lengths, leading zeros and exponents, not about bits.
#[derive(Arbitrary, Debug, Clone)]
pub enum KeyKind {
    Rsa {
        bytes: u16,
        first: u8,
        fill: u8,
        last: u8,
        e: Exponent,
    },
    P256 {
        x: u8,
        y: u8,
        fill: u8,
    },
    Ed25519 {
        len: u8,
        fill: u8,
    },
    /// An Ed25519 key whose every byte the fuzzer picks: small-order and
    /// non-canonical points are a few exact values.
    Ed25519Exact([u8; 32]),
    Other {
        kty: Member,
        crv: Member,
    },
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Exponent {
    F4,
    Bytes(Vec<u8>),
}

fn encoded(bytes: &[u8]) -> Json {
    Json::Text(Text::Other(URL_SAFE_NO_PAD.encode(bytes)))
}

fn material(len: usize, first: u8, fill: u8, last: u8) -> Json {
    let mut bytes = vec![fill; len];
    if let Some(b) = bytes.last_mut() {
        *b = last;
    }
    if let Some(b) = bytes.first_mut() {
        *b = first;
    }
    encoded(&bytes)
}

fn text(s: &str) -> Json {
    Json::Text(Text::Other(s.to_owned()))
}

#[derive(Arbitrary, Debug, Clone)]
pub struct JwkSpec {
    pub kind: KeyKind,
    pub kid: Member,
    pub alg: Member,
    pub use_: Member,
    /// Written after the rest: a repeat of a member, or a private one.
    pub extra: Vec<(Name, Json)>,
}

impl JwkSpec {
    pub fn write(&self, out: &mut String) {
        let mut members: Vec<(&str, Json)> = Vec::new();
        match &self.kind {
            KeyKind::Rsa {
                bytes,
                first,
                fill,
                last,
                e,
            } => {
                members.push(("kty", text("RSA")));
                members.push(("n", material(usize::from(*bytes) % 1100, *first, *fill, *last)));
                let e = match e {
                    Exponent::F4 => encoded(&[1, 0, 1]),
                    Exponent::Bytes(e) => encoded(&e[..e.len().min(9)]),
                };
                members.push(("e", e));
            }
            KeyKind::P256 { x, y, fill } => {
                members.push(("kty", text("EC")));
                members.push(("crv", text("P-256")));
                members.push(("x", material(usize::from(*x) % 40, *fill, *fill, *fill)));
                members.push(("y", material(usize::from(*y) % 40, *fill, *fill, *fill)));
            }
            KeyKind::Ed25519 { len, fill } => {
                members.push(("kty", text("OKP")));
                members.push(("crv", text("Ed25519")));
                members.push(("x", material(usize::from(*len) % 40, *fill, *fill, *fill)));
            }
            KeyKind::Ed25519Exact(x) => {
                members.push(("kty", text("OKP")));
                members.push(("crv", text("Ed25519")));
                members.push(("x", encoded(x)));
            }
            KeyKind::Other { kty, crv } => {
                members.extend(kty.json().map(|v| ("kty", v)));
                members.extend(crv.json().map(|v| ("crv", v)));
            }
        }
        members.extend(self.kid.json().map(|v| ("kid", v)));
        members.extend(self.alg.json().map(|v| ("alg", v)));
        members.extend(self.use_.json().map(|v| ("use", v)));
        let extra = self.extra.iter().map(|(n, v)| (n.as_str(), v));
        write_object(members.iter().map(|(n, v)| (*n, v)).chain(extra), out);
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum SetShape {
    Set,
    WithMembers(Vec<(Name, Json)>),
    KeysNotAList(Json),
    NotAnObject(Json),
}

/// A JWK Set as JSON text, from keys the fuzzer sized.
#[derive(Arbitrary, Debug, Clone)]
pub struct JwkSetSpec {
    pub keys: Vec<JwkSpec>,
    pub shape: SetShape,
}

impl JwkSetSpec {
    pub fn to_text(&self) -> String {
        let mut keys = String::from("[");
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                keys.push(',');
            }
            key.write(&mut keys);
        }
        keys.push(']');
        let mut out = String::new();
        match &self.shape {
            SetShape::Set => out = format!("{{\"keys\":{keys}}}"),
            SetShape::WithMembers(members) => {
                out.push_str("{\"keys\":");
                out.push_str(&keys);
                for (name, value) in members {
                    out.push(',');
                    write_str(name.as_str(), &mut out);
                    out.push(':');
                    value.write(&mut out);
                }
                out.push('}');
            }
            SetShape::KeysNotAList(value) => {
                out.push_str("{\"keys\":");
                value.write(&mut out);
                out.push('}');
            }
            SetShape::NotAnObject(value) => value.write(&mut out),
        }
        out
    }

    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.to_text()).unwrap_or(Value::Null)
    }
}

/// A time claim: near [`NOW`] mostly, where the edges are.
#[derive(Arbitrary, Debug, Clone)]
pub enum Time {
    Absent,
    Near(i16),
    Json(Json),
}

impl Time {
    pub fn json(&self) -> Option<Json> {
        match self {
            Self::Absent => None,
            Self::Near(d) => Some(Json::NearNow(*d)),
            Self::Json(j) => Some(j.clone()),
        }
    }
}

/// An `aud`: one value, or a list of texts.
#[derive(Arbitrary, Debug, Clone)]
pub enum Audience {
    One(Member),
    List(Vec<Text>),
}

impl Audience {
    pub fn json(&self) -> Option<Json> {
        match self {
            Self::One(member) => member.json(),
            Self::List(texts) => Some(Json::Array(texts.iter().cloned().map(Json::Text).collect())),
        }
    }
}

/// A JWT whose header and claims are objects with the registered members
/// first, then whatever else the fuzzer adds (repeats included).
#[derive(Arbitrary, Debug, Clone)]
pub struct Jwt {
    pub alg: Member,
    pub kid: Member,
    pub header_extra: Vec<(Name, Json)>,
    pub iss: Member,
    pub sub: Member,
    pub aud: Audience,
    pub exp: Time,
    pub iat: Time,
    pub nbf: Time,
    pub jti: Member,
    pub claims_extra: Vec<(Name, Json)>,
    pub signature: Vec<u8>,
}

impl Jwt {
    pub fn encode(&self) -> String {
        let header = members_text(
            &[("alg", &self.alg.json()), ("kid", &self.kid.json())],
            &self.header_extra,
        );
        let claims = members_text(
            &[
                ("iss", &self.iss.json()),
                ("sub", &self.sub.json()),
                ("aud", &self.aud.json()),
                ("exp", &self.exp.json()),
                ("iat", &self.iat.json()),
                ("nbf", &self.nbf.json()),
                ("jti", &self.jti.json()),
            ],
            &self.claims_extra,
        );
        join(Encoding::UrlNoPad, &header, &claims, &self.signature, None)
    }
}

/// The decoded claims of a token some reader accepted, read leniently.
pub fn claims_of(token: &str) -> Option<Map<String, Value>> {
    let claims = token.split('.').nth(1)?;
    match serde_json::from_slice(&b64url(claims)?).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A fixed key set: one key of each kind, the RSA one bound to RS256.
pub fn fixed_keys() -> Value {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let mut n = vec![0xC5u8; 256];
    n[255] = 0x01;
    serde_json::json!({"keys": [
        {"kty": "RSA", "kid": "rsa", "alg": "RS256", "n": b64(&n), "e": "AQAB"},
        {"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64(&[7; 32]), "y": b64(&[9; 32])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(&[3; 32])},
    ]})
}

/// What one fuzz input is: text as a client sends it (the committed seeds
/// are real requests, tokens and documents, and the fuzzer mutates them as
/// such), or, after a leading 0xFF byte that no text starts with, a value
/// built by `arbitrary` that reaches deeper rules than mutated text does.
#[derive(Debug)]
pub enum Input<'a, T> {
    Raw(&'a [u8]),
    Built(T),
}

pub const BUILT: u8 = 0xFF;

pub fn input<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<Input<'a, T>> {
    match data.split_first() {
        Some((&BUILT, rest)) => T::arbitrary_take_rest(arbitrary::Unstructured::new(rest))
            .ok()
            .map(Input::Built),
        _ => Some(Input::Raw(data)),
    }
}
