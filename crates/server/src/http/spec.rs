//! The parts of the contract that shared layers, not handlers, decide.
//!
//! A handler's `#[utoipa::path]` documents what the handler itself answers
//! (its success, 404, 409, 422, ...). Some answers come from layers every
//! route passes through, and are written here once, from the same sources the
//! layers use, so that the document cannot drift from them:
//!
//! - access ([`auth::ROUTES`]): each operation's security requirement (the
//!   permission as an OAuth scope) and its 401 and 403;
//! - the extractors ([`crate::extract`]): 400 for a bad path parameter or
//!   query, 400/413/415 for a JSON body that cannot be read, 422 for one
//!   whose fields do not fit the form;
//! - the body-stall layer (`http::body_stall`): 408 for a request body that
//!   stops arriving, a problem outside `/oauth2`, RFC 6749 JSON within;
//! - the OAuth error type: 503 `temporarily_unavailable` when storage fails;
//! - the error types: an example of every problem document, and the
//!   `WWW-Authenticate` and `Retry-After` headers that go with 401 and 429;
//! - the path layout: a collection's `201 Created` links to every operation
//!   on `{collection}/{id}` and below, with `id` from the created body, so
//!   generated clients and stateful fuzzers can follow a record's life.
//!
//! It also writes what the whole document says once: the getting-started
//! page (`info.description`, from the constants the server keeps) and the
//! `servers`.

use crate::error::PROBLEM_JSON;
use crate::http::auth::{self, Access};
use axum::http::Method;
use casebook_domain::shape::{Body, Refusal};
use casebook_domain::wire::RevealRequest;
use serde_json::{Value, json};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, Header, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// Completes every operation of `doc`; see the module documentation.
pub fn complete(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations_mut(item) {
            complete_operation(path, &method, operation);
        }
    }
    link_created_records(doc);
    describe_tenants(doc);
    describe_api(doc);
}

/// The getting-started page `/docs` opens with: a token, a first call, the
/// conventions every operation keeps, and where the recipes are.
fn describe_api(doc: &mut OpenApi) {
    use casebook_domain::oauth::ACCESS_TOKEN_LIFETIME_SECS;
    use casebook_domain::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
    let lifetime = match ACCESS_TOKEN_LIFETIME_SECS {
        3600 => "an hour".to_owned(),
        seconds => format!("{seconds} seconds"),
    };
    doc.info.description = Some(format!(
        r#"Partner software calls the Casebook API (`/api/v1`) with an OAuth 2.0 access token it gets from
`/oauth2/token` with its Client ID and secret (the client credentials grant). Administrators register it,
and give it roles, with the admin API (`/admin/v1`) or cb Admin at `/admin`.

## Getting started

1. **Credentials.** An administrator registers your application (cb Admin, External applications, New
   Application), gives it roles, and hands you its **Client ID** and **client secret**. Keep the secret
   out of source control.
2. **A token.** Ask the token endpoint, authenticating with HTTP Basic:

   ```sh
   curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$CASEBOOK/oauth2/token"
   ```

   The answer is `{{"access_token": "…", "token_type": "Bearer", "expires_in": {ACCESS_TOKEN_LIFETIME_SECS}, "scope": "…"}}`:
   a token for {lifetime}, with one scope per permission your roles grant. Keep it and reuse it until a
   minute or so before it expires; do not ask for one per call.
3. **A first call.** Send the token as `Authorization: Bearer`:

   ```sh
   curl -s -H "Authorization: Bearer $TOKEN" "$CASEBOOK/api/v1/me"
   ```

   `/api/v1/me` answers who you are and the permissions you hold; every other operation names the one it
   needs.
4. **A 401.** When a call answers 401 with `WWW-Authenticate: Bearer error="invalid_token"`, the token was
   revoked or has expired: get a new one and repeat the call, once. If the token endpoint then answers
   `invalid_client`, the application itself is refused (disabled, its secret ended): ask the administrator.

## What every operation keeps

- **Where.** `$CASEBOOK` is the install's public URL (`CASEBOOK_PUBLIC_URL`, also the issuer and the
  Callback URL cb Admin shows for each application), or a tenant's base URL `$CASEBOOK_PUBLIC_URL/t/{{slug}}`:
  the two `servers` below, relative since this document is built without knowing where it is served (give
  a generated client the full URL). An application of a tenant uses its tenant's base URL for everything,
  tokens included.
- **Errors** outside `/oauth2` are RFC 9457 problem documents (`application/problem+json`): `type`,
  `title`, `status` and `detail`, and on 422 an `errors` list with one `{{"field", "code", "message"}}`
  per refused field. `/oauth2` answers RFC 6749 errors: `{{"error", "error_description"}}`.
- **Lists** take `limit` (1 to {MAX_PAGE_SIZE}, {DEFAULT_PAGE_SIZE} when absent) and `cursor`, and answer
  `{{"items": […], "next_cursor": …}}`: pass `next_cursor` back as `cursor` until it is `null`.
- **Retries.** A `POST` to `/api/v1` or `/admin/v1` takes an `Idempotency-Key` header (1 to 255 printable
  characters): the same key with the same body within 24 hours gets the first answer again, with
  `Idempotent-Replayed: true`, and nothing is done twice. Make one key per logical call and send it again
  on every retry of that call.
- **Support.** Every answer carries an `X-Request-Id` (send your own and it is used): quote it when you
  ask for help.

## Recipes and SDKs

`docs/recipes.md` in the Casebook repository has recipes for Python, .NET and Java: the token cached until
shortly before it expires, one new token on a 401, following pages, reading problem documents, and
idempotency keys. The Rust SDK (`casebook-sdk`) and the TypeScript SDK (`sdks/typescript`) do all of this
for you."#
    ));
}

/// The contract ("Tenants"): every path answers at the root and, the same,
/// under each tenant's base URL. Said once, as two servers, rather than
/// copying every path per tenant; `/admin/v1/tenants` says it is the root's.
///
/// Both URLs are relative, since the document is built without a server
/// (`cargo xtask openapi`, the same bytes every install serves): the public
/// URL (`CASEBOOK_PUBLIC_URL`) cannot be in it. A relative URL is read
/// against where the document came from (the Server Object allows it), which is what
/// `/docs` needs: its "Try it out" calls the install the page was served by.
/// Generated clients (openapi-generator, openapi-python-client, NSwag,
/// Kiota, openapi-fetch) take the base URL when the client is made, which a
/// partner must give them anyway. A server variable holding the whole
/// public URL was the other choice: its default would be a placeholder
/// host that `/docs` then calls, and generators that read variables bake
/// that default into the client.
fn describe_tenants(doc: &mut OpenApi) {
    use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
    let root = ServerBuilder::new()
        .url("/")
        .description(Some(
            "CASEBOOK_PUBLIC_URL, the install's public URL: the root tenant, where tenants are managed",
        ))
        .build();
    let tenant = ServerBuilder::new()
        .url("/t/{slug}")
        .description(Some(
            "A tenant's base URL, CASEBOOK_PUBLIC_URL/t/{slug}: its issuer, token audience and Callback URL. Every path below answers here too, \
             except /admin/v1/tenants (404). The RFC 8414 and RFC 9728 metadata also answer at \
             /.well-known/oauth-authorization-server/t/{slug} and /.well-known/oauth-protected-resource/t/{slug}.",
        ))
        .parameter(
            "slug",
            ServerVariableBuilder::new()
                .default_value("acme")
                .description(Some("The tenant's slug: 2 to 40 of a-z, 0-9 and -")),
        )
        .build();
    doc.servers = Some(vec![root, tenant]);
}

/// Links each `POST {collection}` 201 to the operations on its record.
fn link_created_records(doc: &mut OpenApi) {
    let record_operations: Vec<(String, String)> = doc
        .paths
        .paths
        .iter_mut()
        .flat_map(|(path, item)| {
            operations_mut(item)
                .into_iter()
                .filter_map(|(_, op)| Some((path.clone(), op.operation_id.clone()?)))
                .collect::<Vec<_>>()
        })
        .collect();
    for (collection, item) in doc.paths.paths.iter_mut() {
        let Some(created) = item.post.as_mut().and_then(|op| op.responses.responses.get_mut("201")) else {
            continue;
        };
        let RefOr::T(created) = created else { continue };
        let record = format!("{collection}/{{id}}");
        for (path, operation_id) in &record_operations {
            if path == &record || path.starts_with(&format!("{record}/")) {
                let link = LinkBuilder::new()
                    .operation_id(operation_id.as_str())
                    .parameter("id", "$response.body#/id")
                    .description(format!("`{operation_id}` on the record just created"))
                    .build();
                created.links.insert(operation_id.clone(), RefOr::T(link));
            }
        }
    }
}

fn operations_mut(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
    .collect()
}

fn complete_operation(path: &str, method: &Method, op: &mut Operation) {
    let access = auth::access_of(method, path);
    let problems = path.starts_with("/admin/") || path.starts_with("/api/");
    match access {
        None | Some(Access::Public) => {}
        Some(Access::Authenticated) => {
            op.security = Some(vec![
                SecurityRequirement::new("oauth2", Vec::<String>::new()),
                SecurityRequirement::new("admin_session", Vec::<String>::new()),
            ]);
            add(
                op,
                401,
                problem("No valid credential (RFC 6750 `invalid_token` when one was sent)"),
            );
        }
        Some(Access::Permission(p)) => {
            let p = p.to_string();
            op.security = Some(vec![
                SecurityRequirement::new("oauth2", [p.clone()]),
                SecurityRequirement::new("admin_session", [p.clone()]),
            ]);
            add(
                op,
                401,
                problem("No valid credential (RFC 6750 `invalid_token` when one was sent)"),
            );
            let refusal = if auth::grant_checked(method, path) {
                format!(
                    "The caller lacks `{p}` (RFC 6750 `insufficient_scope`), or the change touches permissions \
                     the caller does not hold itself: `missing_permissions` lists them"
                )
            } else {
                format!("The caller lacks `{p}` (RFC 6750 `insufficient_scope`)")
            };
            add(op, 403, problem(&refusal));
        }
        Some(Access::Person) => {
            op.security = Some(vec![SecurityRequirement::new("admin_session", Vec::<String>::new())]);
            add(op, 401, problem("No valid session"));
            add(op, 403, problem("Not a signed-in person"));
        }
        Some(Access::SignedInUser(p)) => {
            let p = p.to_string();
            op.security = Some(vec![SecurityRequirement::new("admin_session", [p.clone()])]);
            add(op, 401, problem("No valid credential"));
            add(op, 403, problem(&format!("Not a signed-in person, or lacking `{p}`")));
        }
    }
    if problems {
        let params = op.parameters.iter().flatten().filter_map(|p| match p {
            RefOr::T(p) => Some(&p.parameter_in),
            RefOr::Ref(_) => None,
        });
        let (mut in_path, mut in_query) = (false, false);
        for at in params {
            in_path |= matches!(at, ParameterIn::Path);
            in_query |= matches!(at, ParameterIn::Query);
        }
        if op.request_body.is_some() {
            add(
                op,
                400,
                problem("The body is not JSON (a syntax error, bad UTF-8, a NUL character)"),
            );
            add(op, 422, shape_problem());
            add(
                op,
                413,
                problem(&format!("The body is larger than {} bytes", super::MAX_JSON_BYTES)),
            );
            add(op, 415, problem("The body is not `application/json`"));
            add(op, 408, problem(&body_stalled()));
        } else if in_path {
            add(op, 400, problem("The path parameter cannot be an id"));
        } else if in_query {
            add(op, 400, problem("Unknown or malformed query parameter"));
        }
    }
    let authenticated = !matches!(access, None | Some(Access::Public));
    if problems && authenticated && *method == Method::POST {
        idempotent(op);
    }
    if path.starts_with("/oauth2/") {
        if op.request_body.is_some() {
            add(op, 408, oauth_error(&format!("`invalid_request`: {}", body_stalled())));
        }
        add(
            op,
            503,
            oauth_error("`temporarily_unavailable`: storage could not be reached; retry later"),
        );
    }
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(response) = response {
            finish_response(status, response);
        }
    }
}

/// What the idempotency layer (`http::idempotency`) adds to an
/// authenticated `POST`: the header, its 409 and 422, and the mark on a
/// replayed answer.
fn idempotent(op: &mut Operation) {
    let mut header = utoipa::openapi::path::Parameter::new(super::idempotency::HEADER);
    header.parameter_in = ParameterIn::Header;
    header.required = utoipa::openapi::Required::False;
    header.description = Some(
        "1 to 255 printable ASCII characters. For 24 hours the same account sending the same key with the same \
         request gets the first answer again (with `Idempotent-Replayed: true`) and nothing is done twice"
            .to_owned(),
    );
    header.schema = Some(RefOr::T(
        utoipa::openapi::schema::Object::with_type(utoipa::openapi::schema::Type::String).into(),
    ));
    op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(header));
    add(
        op,
        409,
        problem("The first request with this `Idempotency-Key` is still running (`Retry-After` says when to retry)"),
    );
    add(
        op,
        422,
        problem("The `Idempotency-Key` is malformed, or was used with another request"),
    );
}

/// Adds a response unless the handler documents its own for that status.
fn add(op: &mut Operation, status: u16, response: Response) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert(RefOr::T(response));
}

fn body_stalled() -> String {
    format!(
        "The body stalled: nothing arrived for {} s (the connection is then closed)",
        super::BODY_STALL_TIMEOUT.as_secs()
    )
}

fn oauth_error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("OAuthErrorBody")))
                .build(),
        )
        .build()
}

/// The extractor's 422, where a handler documents none of its own. Its
/// example is what the extractor answers (for the reveal form), not the
/// generic one: no form-less endpoint says whether an address is in use.
fn shape_problem() -> Response {
    let mut response = problem(
        "A field is missing, of the wrong type, given twice or unknown, or breaks a rule: every such field is listed",
    );
    let errors = match Body::parse(br#"{"password": 5, "remember": true}"#).map(Body::read::<RevealRequest>) {
        Ok(Err(Refusal::Invalid(errors))) => errors,
        _ => return response,
    };
    if let Some(RefOr::T(content)) = response.content.get_mut(PROBLEM_JSON) {
        content.example = Some(json!({
            "type": "about:blank",
            "title": "Unprocessable Entity",
            "status": 422,
            "detail": errors.to_string(),
            "errors": errors.errors(),
        }));
    }
    response
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// Adds the headers of a status and, to a problem document without one, an example.
fn finish_response(status: &str, response: &mut Response) {
    let header = |description: &str| {
        let mut header = Header::default();
        header.description = Some(description.to_owned());
        RefOr::T(header)
    };
    match status {
        "401" => {
            response.headers.entry("WWW-Authenticate".into()).or_insert_with(|| {
                header("The challenges: `Bearer realm=\"casebook\"` with RFC 6750 `error` and, at `/api/v1` and `/admin/v1`, RFC 9728 `resource_metadata`, beside `DPoP algs=\"…\"` (RFC 9449 §7.1; `DPoP error=\"invalid_dpop_proof\"` or `\"use_dpop_nonce\"`, with a `DPoP-Nonce` header, when a DPoP-bound token's proof is refused); or `Basic` at the OAuth endpoints")
            });
        }
        "429" => {
            response
                .headers
                .entry("Retry-After".into())
                .or_insert_with(|| header("Seconds to wait before trying again"));
        }
        _ => {}
    }
    if let Some(RefOr::T(content)) = response.content.get_mut(PROBLEM_JSON)
        && content.example.is_none()
        && let Ok(code) = status.parse::<u16>()
    {
        content.example = Some(problem_example(code));
    }
}

/// What the server sends for a status, as an example a reader can trust.
pub fn problem_example(status: u16) -> Value {
    let (title, detail) = match status {
        400 => (
            "Bad Request",
            "the body is not valid JSON: EOF while parsing an object at line 1 column 1",
        ),
        401 => (
            "Unauthorized",
            "this endpoint needs a bearer token: an access token from /oauth2/token, or an admin session",
        ),
        403 => (
            "Forbidden",
            "this needs the admin:edit permission, which the caller does not have",
        ),
        404 => ("Not Found", "application not found"),
        408 => {
            let detail = crate::error::ApiError::RequestTimeout(super::BODY_STALL_TIMEOUT).to_string();
            return json!({"type": "about:blank", "title": "Request Timeout", "status": 408, "detail": detail});
        }
        409 => (
            "Conflict",
            "the role is still assigned to 1 account(s) (Partner App); remove it from them first",
        ),
        413 => (
            "Payload Too Large",
            "the request body is larger than this endpoint accepts",
        ),
        415 => (
            "Unsupported Media Type",
            "send the body as JSON with Content-Type: application/json",
        ),
        422 => {
            return json!({
                "type": "about:blank",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "name: name is required; email: this address belongs to an existing Casebook account; use another (a group mailbox or a +tag sub-address serves)",
                "errors": [
                    {"field": "name", "code": "required", "message": "name is required"},
                    {"field": "email", "code": "email_in_use", "message": "this address belongs to an existing Casebook account; use another (a group mailbox or a +tag sub-address serves)"},
                ],
            });
        }
        429 => (
            "Too Many Requests",
            "too many wrong passwords: secrets are locked for you for 15 more minute(s)",
        ),
        _ => ("Error", "the request could not be completed"),
    };
    json!({"type": "about:blank", "title": title, "status": status, "detail": detail})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation of the document, as `METHOD path`.
    fn operations(doc: &mut OpenApi) -> Vec<(String, Operation)> {
        doc.paths
            .paths
            .iter_mut()
            .flat_map(|(path, item)| {
                operations_mut(item)
                    .into_iter()
                    .map(|(method, op)| (format!("{method} {path}"), op.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The contract ("Partner experience"): the document describes every
    /// operation. A handler's doc comment gives both: its first line is the
    /// summary; after a blank `///` line, the description.
    #[test]
    fn every_operation_has_a_summary_and_a_description() {
        let mut doc = crate::http::openapi();
        let mut lacking = Vec::new();
        for (name, op) in operations(&mut doc) {
            let summary = op.summary.as_deref().unwrap_or("").trim();
            let description = op.description.as_deref().unwrap_or("").trim();
            if summary.is_empty() || summary.contains('\n') || summary.len() > 80 {
                lacking.push(format!(
                    "{name}: the summary must be one line of at most 80 bytes, got {summary:?}"
                ));
            }
            if description.is_empty() {
                lacking.push(format!("{name}: no description"));
            }
        }
        assert!(
            lacking.is_empty(),
            "write the handler's doc comment as a one-line summary, a blank `///` line, then the description:\n{}",
            lacking.join("\n")
        );
    }

    /// `/docs` shows tags in the order the document lists them, and a tag
    /// it does not list after all the listed ones: every tag is listed, and
    /// the partner's API comes first, then OAuth, then the admin API.
    #[test]
    fn the_partner_api_comes_first() {
        let mut doc = crate::http::openapi();
        let listed: Vec<String> = doc.tags.iter().flatten().map(|t| t.name.clone()).collect();
        for (name, op) in operations(&mut doc) {
            for tag in op.tags.iter().flatten() {
                assert!(
                    listed.contains(tag),
                    "{name}: tag {tag:?} is not in the document's tags {listed:?}"
                );
            }
        }
        assert_eq!(listed.first().map(String::as_str), Some("casebook api"), "{listed:?}");
        assert_eq!(listed.get(1).map(String::as_str), Some("oauth"), "{listed:?}");
        let first_admin = listed.iter().position(|t| t.starts_with("admin: ")).unwrap_or(0);
        let last_admin = listed.iter().rposition(|t| t.starts_with("admin: ")).unwrap_or(0);
        assert!(first_admin > 1, "{listed:?}");
        assert!(
            listed[first_admin..=last_admin]
                .iter()
                .all(|t| t.starts_with("admin: ")),
            "the admin tags stay together: {listed:?}"
        );
        // Each /api/v1 operation is under the partner's tag.
        for (name, op) in operations(&mut doc) {
            if name.contains(" /api/v1/") {
                assert_eq!(op.tags.as_deref(), Some(&["casebook api".to_owned()][..]), "{name}");
            }
        }
    }

    /// The document names where it is served (relative: it is built without
    /// a server) and opens with a getting-started page.
    #[test]
    fn servers_and_getting_started() {
        let doc = crate::http::openapi();
        let urls: Vec<&str> = doc.servers.iter().flatten().map(|s| s.url.as_str()).collect();
        assert_eq!(urls, ["/", "/t/{slug}"]);
        for server in doc.servers.iter().flatten() {
            let description = server.description.as_deref().unwrap_or("");
            assert!(description.contains("CASEBOOK_PUBLIC_URL"), "{description}");
        }
        let intro = doc.info.description.as_deref().unwrap_or("");
        for needed in [
            "grant_type=client_credentials",
            "/api/v1/me",
            "application/problem+json",
            "invalid_token",
            "next_cursor",
            "Idempotency-Key",
            "X-Request-Id",
            "docs/recipes.md",
        ] {
            assert!(
                intro.contains(needed),
                "the getting-started page lacks {needed:?}:\n{intro}"
            );
        }
    }
}
