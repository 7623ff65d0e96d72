//! The token endpoint's request: the strict form (RFC 6749 §3.1: no repeated
//! parameter, an empty one absent, credentials never in the query), the
//! grant type, and client authentication (Basic xor body, or an assertion).
//!
//! Raw input: never a panic; an accepted form, written again in a canonical
//! spelling, parses to an equal form and grant; a client read from a Basic
//! header, written again, reads the same. Built input: the parsed form, the
//! grant and the client agree with a reference model of the RFC's rules.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use casebook_domain::OAuthErrorCode;
use casebook_domain::client_assertion::{self, ASSERTION_TYPE};
use casebook_domain::token_request::{
    Form, MAX_FORM_BYTES, ProtocolError, TokenRequest, decode_component, presented_client,
};
use casebook_fuzz::{Input, form_encode_full, form_encode_minimal, input};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

const FORM_TYPE: &str = "application/x-www-form-urlencoded";

#[derive(Arbitrary, Debug)]
enum Built {
    Request {
        query: Option<String>,
        content_type: ContentType,
        body: Vec<u8>,
        authorization: Vec<Vec<u8>>,
    },
    Pairs {
        pairs: Vec<(Key, String)>,
        basic: Vec<(String, String)>,
        minimal: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum ContentType {
    Form,
    WithCharset,
    Absent,
    Other(String),
}

impl ContentType {
    fn as_header(&self) -> Option<&str> {
        match self {
            Self::Form => Some(FORM_TYPE),
            Self::WithCharset => Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            Self::Absent => None,
            Self::Other(s) => Some(s),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Key {
    GrantType,
    Scope,
    Resource,
    ClientId,
    ClientSecret,
    ClientAssertion,
    ClientAssertionType,
    Token,
    Other(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Self::GrantType => "grant_type",
            Self::Scope => "scope",
            Self::Resource => "resource",
            Self::ClientId => "client_id",
            Self::ClientSecret => "client_secret",
            Self::ClientAssertion => "client_assertion",
            Self::ClientAssertionType => "client_assertion_type",
            Self::Token => "token",
            Self::Other(s) => s,
        }
    }
}

/// A value for the grant type that is sometimes the right one.
fn value_of(key: &Key, raw: &str) -> String {
    match (key, raw) {
        (Key::GrantType, "") => "client_credentials".to_owned(),
        (Key::ClientAssertionType, "") => ASSERTION_TYPE.to_owned(),
        _ => raw.to_owned(),
    }
}

fuzz_target!(|data: &[u8]| match input::<Built>(data) {
    None => {}
    Some(Input::Raw(text)) => {
        let request = Request::read(text);
        raw(
            request.query.as_deref(),
            request.content_type.as_deref(),
            request.body,
            &request.authorization,
        );
    }
    Some(Input::Built(Built::Request {
        query,
        content_type,
        body,
        authorization,
    })) => raw(query.as_deref(), content_type.as_header(), &body, &authorization),
    Some(Input::Built(Built::Pairs { pairs, basic, minimal })) => built(&pairs, &basic, minimal),
});

/// A request written as text: `Authorization: …`, `Content-Type: …` and
/// `?query` lines, then the body. Without a Content-Type line the body is
/// a form.
struct Request<'a> {
    query: Option<String>,
    content_type: Option<String>,
    authorization: Vec<Vec<u8>>,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    fn read(mut text: &'a [u8]) -> Self {
        let mut request = Request {
            query: None,
            content_type: Some(FORM_TYPE.to_owned()),
            authorization: Vec::new(),
            body: &[],
        };
        while let Some(end) = text.iter().position(|&b| b == b'\n') {
            let line = &text[..end];
            if let Some(value) = line.strip_prefix(b"Authorization: ") {
                request.authorization.push(value.to_vec());
            } else if let Some(value) = line.strip_prefix(b"Content-Type: ") {
                request.content_type = Some(String::from_utf8_lossy(value).into_owned());
            } else if let Some(query) = line.strip_prefix(b"?") {
                request.query = Some(String::from_utf8_lossy(query).into_owned());
            } else {
                break;
            }
            text = &text[end + 1..];
        }
        request.body = text;
        request
    }
}

fn raw(query: Option<&str>, content_type: Option<&str>, body: &[u8], authorization: &[Vec<u8>]) {
    let form = Form::parse(query, content_type, body);
    let request = TokenRequest::parse(query, content_type, body);
    // The whole request is the form, then the grant: the same verdicts.
    match (&form, &request) {
        (Ok(form), Ok((grant, again))) => {
            assert_eq!(form, again);
            assert_eq!(TokenRequest::from_form(form).as_ref(), Ok(grant));
        }
        (Ok(form), Err(e)) => assert_eq!(TokenRequest::from_form(form).as_ref(), Err(e)),
        (Err(e), Err(again)) => assert_eq!(e, again),
        (Err(e), Ok(_)) => panic!("the form is refused ({e}) but the request accepted"),
    }
    let Ok(form) = form else { return };

    let pairs = decoded_pairs(body);
    for (key, value) in &pairs {
        if key != "resource" {
            let expected = Some(value.as_str()).filter(|v| !v.is_empty());
            assert_eq!(form.get(key), expected, "parameter {key:?}");
        }
    }
    // The minimal spelling is never longer than the one read, so it always
    // fits; the fully escaped one may not.
    for encode in [form_encode_minimal as fn(&str) -> String, form_encode_full] {
        let canonical = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let again = Form::parse(query, Some(FORM_TYPE), canonical.as_bytes());
        if canonical.len() > MAX_FORM_BYTES {
            assert!(again.is_err());
            continue;
        }
        let again = again.unwrap_or_else(|e| panic!("{canonical:?} is refused ({e}) once written again"));
        assert_eq!(again, form, "{canonical:?}");
        assert_eq!(TokenRequest::from_form(&again), TokenRequest::from_form(&form));
    }

    let headers: Vec<&[u8]> = authorization.iter().map(Vec::as_slice).collect();
    if let Ok(Some(client)) = presented_client(&headers, &form) {
        if let [_] = headers.as_slice() {
            let rebuilt = basic(&client.client_id, client.secret.expose());
            let again = presented_client(&[rebuilt.as_bytes()], &Form::default());
            assert_eq!(again, Ok(Some(client)), "{rebuilt:?}");
        } else {
            assert_eq!(form.get("client_id"), Some(client.client_id.as_str()));
            assert_eq!(form.get("client_secret"), Some(client.secret.expose()));
        }
    }
    if let Ok(Some(presented)) = client_assertion::presented(&headers, &form) {
        assert_eq!(form.get("client_assertion"), Some(presented.assertion));
        assert_eq!(form.get("client_id"), presented.client_id);
    }
}

/// The pairs of a form the domain accepted, decoded with its own decoder.
fn decoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let key = decode_component(key).expect("an accepted form decodes");
            let value = decode_component(value).expect("an accepted form decodes");
            (key, value)
        })
        .collect()
}

/// RFC 6749 §2.3.1: each part form-encoded, then base64.
fn basic(id: &str, secret: &str) -> String {
    let joined = format!("{}:{}", form_encode_full(id), form_encode_full(secret));
    format!("Basic {}", STANDARD.encode(joined))
}

/// What the RFCs say a form of these pairs is: its parameters and
/// resources, or refused.
struct Model {
    params: BTreeMap<String, String>,
    resources: Vec<String>,
}

fn model(pairs: &[(String, String)]) -> Option<Model> {
    let mut seen = BTreeMap::new();
    let mut resources = Vec::new();
    for (key, value) in pairs {
        if key == "resource" {
            if !value.is_empty() {
                resources.push(value.clone());
            }
        } else if seen.insert(key.clone(), value.clone()).is_some() {
            return None;
        }
    }
    seen.retain(|_, v| !v.is_empty());
    Some(Model {
        params: seen,
        resources,
    })
}

fn code<T>(result: Result<T, ProtocolError>) -> Result<T, OAuthErrorCode> {
    result.map_err(|e| e.code)
}

fn built(pairs: &[(Key, String)], basics: &[(String, String)], minimal: bool) {
    let encode = if minimal { form_encode_minimal } else { form_encode_full };
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), value_of(k, v)))
        .collect();
    let body = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let parsed = Form::parse(None, Some(FORM_TYPE), body.as_bytes());
    let expected = model(&pairs).filter(|_| body.len() <= MAX_FORM_BYTES);
    let (form, model) = match (parsed, expected) {
        (Ok(form), Some(model)) => (form, model),
        (Err(_), None) => return,
        (Ok(_), None) => panic!("{body:?} is accepted, but repeats a parameter or is too large"),
        (Err(e), Some(_)) => panic!("{body:?} is refused: {e}"),
    };
    for (key, _) in &pairs {
        if key != "resource" {
            assert_eq!(form.get(key), model.params.get(key).map(String::as_str), "{key:?}");
        }
    }

    let grant = match model.params.get("grant_type").map(String::as_str) {
        None => Err(OAuthErrorCode::InvalidRequest),
        Some("client_credentials") => Ok(TokenRequest::ClientCredentials {
            scope: model.params.get("scope").cloned(),
            resources: model.resources.clone(),
        }),
        Some(_) => Err(OAuthErrorCode::UnsupportedGrantType),
    };
    assert_eq!(code(TokenRequest::from_form(&form)), grant);

    let headers: Vec<String> = basics.iter().map(|(id, secret)| basic(id, secret)).collect();
    let headers: Vec<&[u8]> = headers.iter().map(String::as_bytes).collect();
    let has = |name: &str| model.params.contains_key(name);
    let client =
        code(presented_client(&headers, &form)).map(|c| c.map(|c| (c.client_id, c.secret.expose().to_owned())));
    let expected = match basics {
        [] => match (model.params.get("client_id"), model.params.get("client_secret")) {
            (Some(id), Some(secret)) => Ok(Some((id.clone(), secret.clone()))),
            (None, None) => Ok(None),
            _ => Err(OAuthErrorCode::InvalidClient),
        },
        [_] if has("client_id") || has("client_secret") => Err(OAuthErrorCode::InvalidRequest),
        [(id, secret)] => Ok(Some((id.clone(), secret.clone()))),
        _ => Err(OAuthErrorCode::InvalidRequest),
    };
    assert_eq!(client, expected, "{basics:?} {body:?}");

    let assertion = code(client_assertion::presented(&headers, &form)).map(|p| p.map(|p| (p.client_id, p.assertion)));
    let kind = model.params.get("client_assertion_type").map(String::as_str);
    let jwt = model.params.get("client_assertion").map(String::as_str);
    let expected = match (kind, jwt) {
        (None, None) => Ok(None),
        _ if !headers.is_empty() || has("client_secret") => Err(OAuthErrorCode::InvalidRequest),
        (Some(ASSERTION_TYPE), Some(jwt)) => Ok(Some((model.params.get("client_id").map(String::as_str), jwt))),
        _ => Err(OAuthErrorCode::InvalidClient),
    };
    assert_eq!(assertion, expected, "{body:?}");
}
