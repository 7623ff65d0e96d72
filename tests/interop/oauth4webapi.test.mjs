// oauth4webapi, the strict OAuth 2.0 client and resource-server library,
// against a live server: discovery, the client credentials grant,
// introspection, revocation, and RFC 9068 validation of the token, each with
// the library's own checks and no special cases for Casebook.
//
//   node oauth4webapi.test.mjs BASE_URL
//
// BASE_URL is the public URL or a tenant's base URL ({public URL}/t/{slug}),
// which is that tenant's issuer and audience; CASEBOOK_ADMIN_EMAIL and
// CASEBOOK_ADMIN_PASSWORD name an administrator there. Prints one line per
// check; exits 1 when any fails, with the library's error on stderr.
import * as oauth from "oauth4webapi";
import assert from "node:assert/strict";

const base = (process.argv[2] || process.env.CASEBOOK_URL || "").replace(/\/+$/, "");
const email = process.env.CASEBOOK_ADMIN_EMAIL;
const password = process.env.CASEBOOK_ADMIN_PASSWORD;
if (!base || !email || !password) {
  console.error("usage: CASEBOOK_ADMIN_EMAIL=… CASEBOOK_ADMIN_PASSWORD=… node oauth4webapi.test.mjs BASE_URL");
  process.exit(2);
}
const issuer = new URL(base);
const label = issuer.pathname === "/" ? "root" : issuer.pathname;
// The library refuses plain http, rightly; a server on loopback has no TLS
// to offer, and nothing else may be reached without it.
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const insecure = issuer.protocol === "http:" && LOOPBACK.has(issuer.hostname)
  ? { [oauth.allowInsecureRequests]: true }
  : {};
// An audience the server never issues for.
const OTHER_AUDIENCE = "https://other-resource.example.org";

// ------------------------------------------------------------------ admin API

async function admin(method, path, body, bearer, expect) {
  const headers = { "content-type": "application/json" };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch(base + path, { method, headers, body: JSON.stringify(body) });
  const text = await response.text();
  if (response.status !== expect) {
    throw new Error(`${method} ${path}: expected ${expect}, got ${response.status}: ${text.slice(0, 500)}`);
  }
  return JSON.parse(text);
}

async function register() {
  const session = (await admin("POST", "/admin/v1/sessions", { email, password }, null, 201)).token;
  // A tenant's seeded roles keep their names but carry ids of their own.
  const roles = (await admin("GET", "/admin/v1/roles", undefined, session, 200)).items;
  const role = roles.find((r) => r.name === "Engage Worker") ?? roles.find((r) => r.permissions.length);
  // An application's address is unique in its tenant: one per run.
  const tag = Math.random().toString(36).slice(2, 10);
  const app = await admin("POST", "/admin/v1/external-applications",
    { name: `oauth4webapi check ${tag}`, email: `interop+${tag}@casebook.example.org`, roles: [role.id] },
    session, 201);
  const { client_secret: secret } = await admin("POST",
    `/admin/v1/external-applications/${app.id}/client-secret/reveal`, { password }, session, 200);
  return { client: { client_id: app.client_id }, secret };
}

let client;
let clientAuth;
try {
  const registered = await register();
  client = registered.client;
  clientAuth = oauth.ClientSecretBasic(registered.secret);
} catch (error) {
  console.error(error);
  console.log(`oauth4webapi ${label}: FAILED to register an application: ${error.message}`);
  process.exit(1);
}

// ------------------------------------------------------------------ checks

let as;
let accessToken;

function bearerRequest(token) {
  return new Request(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
}

async function introspect(token, options = {}) {
  const response = await oauth.introspectionRequest(as, client, clientAuth, token, { ...insecure, ...options });
  return oauth.processIntrospectionResponse(as, client, response);
}

const checks = [
  ["discovery", async () => {
    // RFC 8414 §3.1: for an issuer with a path, the well-known part goes
    // before the path, not after it as OpenID Connect does.
    const response = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure });
    const fetched = new URL(response.url).pathname;
    as = await oauth.processDiscoveryResponse(issuer, response);
    assert.equal(as.issuer, base);
    for (const name of ["token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"]) {
      assert.ok(as[name]?.startsWith(`${base}/`), `${name}: ${as[name]}`);
    }
    return `issuer = ${as.issuer} from ${fetched}`;
  }],
  ["client credentials", async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, {}, insecure);
    const token = await oauth.processClientCredentialsResponse(as, client, response);
    assert.equal(token.token_type, "bearer");
    assert.equal(token.expires_in, 3600);
    accessToken = token.access_token;
    return `client_secret_basic: a bearer token for ${token.expires_in} s`;
  }],
  ["RFC 9068 validateJwtAccessToken", async () => {
    const claims = await oauth.validateJwtAccessToken(as, bearerRequest(accessToken), base, insecure);
    assert.equal(claims.client_id, client.client_id);
    assert.equal(claims.iss, base);
    return `accepted: at+jwt, iss and aud = ${base}, key from the jwks_uri`;
  }],
  ["RFC 9068 validateJwtAccessToken", async () => {
    try {
      await oauth.validateJwtAccessToken(as, bearerRequest(accessToken), OTHER_AUDIENCE, insecure);
    } catch (error) {
      assert.ok(error instanceof oauth.OperationProcessingError, String(error));
      assert.equal(error.cause?.claim, "aud", error.message);
      return `refused for another audience (${error.message})`;
    }
    throw new Error(`a token for ${base} was accepted by ${OTHER_AUDIENCE}`);
  }],
  ["introspection", async () => {
    const answer = await introspect(accessToken);
    assert.equal(answer.active, true);
    assert.equal(answer.client_id, client.client_id);
    return "the token is active, for its client";
  }],
  ["introspection, RFC 9701 JWT answer", async () => {
    const answer = await introspect(accessToken, { requestJwtResponse: true });
    assert.equal(answer.active, true);
    assert.equal(answer.client_id, client.client_id);
    return "token-introspection+jwt: typ, iss, aud = client_id, iat checked; active";
  }],
  ["revocation, then introspection", async () => {
    const response = await oauth.revocationRequest(as, client, clientAuth, accessToken, insecure);
    await oauth.processRevocationResponse(response);
    const answer = await introspect(accessToken);
    assert.deepEqual(answer, { active: false });
    return 'revoked; introspection says {"active": false}';
  }],
];

let passed = 0;
let failed = 0;
for (const [name, check] of checks) {
  let outcome;
  try {
    outcome = await check();
    passed += 1;
  } catch (error) {
    failed += 1;
    outcome = `FAILED: ${error?.name}: ${error?.message}`;
    console.error(`--- ${label} ${name}:`, error);
    if (error?.cause !== undefined) console.error("cause:", error.cause);
  }
  console.log(`oauth4webapi ${label.padEnd(16)} ${name.padEnd(36)} ${outcome}`);
  // Without metadata or a token, every later check would fail for the same reason.
  if (as === undefined || (accessToken === undefined && failed)) break;
}
console.log(`oauth4webapi ${label}: ${passed} passed, ${failed} failed`);
process.exit(failed || passed !== checks.length ? 1 : 0);
