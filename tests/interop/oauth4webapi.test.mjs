// oauth4webapi, the strict OAuth 2.0 client and resource-server library,
// against a live server: discovery, the client credentials grant,
// introspection, revocation, RFC 9068 validation of the token, and DPoP
// (RFC 9449) with the library's DPoP handle, each with the library's own
// checks and no special cases for Casebook.
//
//   node oauth4webapi.test.mjs BASE_URL [--dpop-nonce]
//
// BASE_URL is the public URL or a tenant's base URL ({public URL}/t/{slug}),
// which is that tenant's issuer and audience; CASEBOOK_ADMIN_EMAIL and
// CASEBOOK_ADMIN_PASSWORD name an administrator there. --dpop-nonce is for
// a server started with CASEBOOK_DPOP_NONCE=true: it runs the checks of the
// nonces it demands instead of the rest. Prints one line per check; exits 1
// when any fails, with the library's error on stderr.
import * as oauth from "oauth4webapi";
import assert from "node:assert/strict";

const args = process.argv.slice(2);
const nonceMode = args.includes("--dpop-nonce");
const base = (args.find((a) => !a.startsWith("--")) || process.env.CASEBOOK_URL || "").replace(/\/+$/, "");
const email = process.env.CASEBOOK_ADMIN_EMAIL;
const password = process.env.CASEBOOK_ADMIN_PASSWORD;
if (!base || !email || !password) {
  console.error("usage: CASEBOOK_ADMIN_EMAIL=… CASEBOOK_ADMIN_PASSWORD=… node oauth4webapi.test.mjs BASE_URL [--dpop-nonce]");
  process.exit(2);
}
const issuer = new URL(base);
const label = `${issuer.pathname === "/" ? "root" : issuer.pathname}${nonceMode ? " nonce" : ""}`;
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

// ------------------------------------------------------------------ DPoP

const ME = new URL(`${base}/api/v1/me`);
const ES256 = { name: "ECDSA", namedCurve: "P-256" };
// oauth4webapi names Ed25519 proofs by the fully-specified "Ed25519";
// RFC 9449 servers, Casebook among them, know it as "EdDSA". Its docs'
// remedy, for when the server lists EdDSA only.
const remapEd25519 = {
  [oauth.modifyAssertion]: (header) => {
    if (header.alg === "Ed25519") header.alg = "EdDSA";
  },
};
const newKeyPair = (algorithm = ES256) => crypto.subtle.generateKey(algorithm, false, ["sign", "verify"]);
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));

let dpopKeys;
let dpop;
let dpopToken;
let dpopRequest;

/** A client credentials grant with a DPoP handle; with `retryNonce`, once more on use_dpop_nonce, as the library's docs show. */
async function dpopGrant(handle, { retryNonce = false } = {}) {
  const request = () => oauth.clientCredentialsGrantRequest(as, client, clientAuth, {}, { ...insecure, DPoP: handle });
  const processed = async (response) => oauth.processClientCredentialsResponse(as, client, await response);
  if (!retryNonce) return processed(request());
  return processed(request()).catch((error) => {
    if (oauth.isDPoPNonceError(error)) return processed(request());
    throw error;
  });
}

/** GET /api/v1/me with a DPoP handle, the request kept for validation; its JSON. */
async function dpopMe(token, handle) {
  const response = await oauth.protectedResourceRequest(token, "GET", ME, undefined, undefined, {
    ...insecure,
    DPoP: handle,
    [oauth.customFetch]: (url, init) => {
      dpopRequest = new Request(url, init);
      return fetch(url, init);
    },
  });
  assert.equal(response.status, 200);
  return response.json();
}

/** What a call refused with a challenge was refused with: status and challenges. */
async function refused(call) {
  try {
    await call();
  } catch (error) {
    if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error;
    return { status: error.status, challenges: error.cause, error };
  }
  throw new Error("the call was not refused");
}

async function introspect(token, options = {}) {
  const response = await oauth.introspectionRequest(as, client, clientAuth, token, { ...insecure, ...options });
  return oauth.processIntrospectionResponse(as, client, response);
}

const discovery = ["discovery", async () => {
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
  }];
const clientCredentials = ["client credentials", async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, {}, insecure);
    const token = await oauth.processClientCredentialsResponse(as, client, response);
    assert.equal(token.token_type, "bearer");
    assert.equal(token.expires_in, 3600);
    accessToken = token.access_token;
    return `client_secret_basic: a bearer token for ${token.expires_in} s`;
  }];

const checks = nonceMode ? [
  discovery,
  clientCredentials,
  ["DPoP nonce: token endpoint", async () => {
    dpopKeys = await newKeyPair();
    dpop = oauth.DPoP(client, dpopKeys);
    const first = await dpopGrant(dpop).then(() => undefined, (error) => error);
    assert.ok(first !== undefined, "a token was issued to a proof without the server's nonce");
    assert.ok(oauth.isDPoPNonceError(first), String(first));
    assert.equal(first.status, 400);
    const token = await dpopGrant(dpop);
    assert.equal(token.token_type, "dpop");
    dpopToken = token.access_token;
    return "400 use_dpop_nonce with a DPoP-Nonce, then a DPoP token with it";
  }],
  ["DPoP nonce: protectedResourceRequest", async () => {
    // A new handle of the same key knows no nonce yet: the API asks for one.
    const fresh = oauth.DPoP(client, dpopKeys);
    const first = await refused(() => dpopMe(dpopToken, fresh));
    assert.equal(first.status, 401);
    assert.ok(oauth.isDPoPNonceError(first.error), JSON.stringify(first.challenges));
    const me = await dpopMe(dpopToken, fresh);
    assert.equal(me.client_id, client.client_id);
    return "401 DPoP use_dpop_nonce with a DPoP-Nonce, then 200 with it";
  }],
  ["DPoP nonce: kept", async () => {
    const me = await dpopMe(dpopToken, dpop);
    assert.equal(me.client_id, client.client_id);
    const again = await dpopMe(dpopToken, dpop);
    assert.equal(again.client_id, client.client_id);
    return "the handle's nonce serves the next two calls: 200, 200";
  }],
  ["DPoP nonce: retried as the docs show", async () => {
    // The library's documented pattern end to end, with a handle of its own.
    const handle = oauth.DPoP(client, await newKeyPair());
    const token = await dpopGrant(handle, { retryNonce: true });
    const call = () => dpopMe(token.access_token, handle);
    const me = await call().catch((error) => {
      if (oauth.isDPoPNonceError(error)) return call();
      throw error;
    });
    assert.equal(me.client_id, client.client_id);
    return "isDPoPNonceError, then once more: a token and the call";
  }],
] : [
  discovery,
  clientCredentials,
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
  ["DPoP client credentials", async () => {
    assert.ok(as.dpop_signing_alg_values_supported?.includes("ES256"),
      `dpop_signing_alg_values_supported: ${JSON.stringify(as.dpop_signing_alg_values_supported)}`);
    dpopKeys = await newKeyPair();
    dpop = oauth.DPoP(client, dpopKeys);
    // No nonce asked for: the first request is answered.
    const token = await dpopGrant(dpop);
    assert.equal(token.token_type, "dpop");
    dpopToken = token.access_token;
    assert.equal(claimsOf(dpopToken).cnf?.jkt, await dpop.calculateThumbprint());
    return "ES256: token_type DPoP, cnf.jkt = the key's thumbprint";
  }],
  ["DPoP protectedResourceRequest", async () => {
    const me = await dpopMe(dpopToken, dpop);
    assert.equal(me.client_id, client.client_id);
    return "GET /api/v1/me with Authorization: DPoP and a proof: 200";
  }],
  ["RFC 9449 validateJwtAccessToken", async () => {
    const claims = await oauth.validateJwtAccessToken(as, dpopRequest, base, { ...insecure, requireDPoP: true });
    assert.equal(claims.client_id, client.client_id);
    assert.equal(claims.cnf?.jkt, await dpop.calculateThumbprint());
    return "accepted: the proof (htm, htu, ath, signature) and cnf.jkt";
  }],
  ["DPoP token as Bearer", async () => {
    const { status, challenges } = await refused(() =>
      oauth.protectedResourceRequest(dpopToken, "GET", ME, undefined, undefined, insecure));
    assert.equal(status, 401);
    assert.ok(challenges.some((c) => c.parameters.error === "invalid_token"), JSON.stringify(challenges));
    assert.ok(challenges.some((c) => c.scheme === "dpop"), JSON.stringify(challenges));
    return `refused 401: ${challenges.map((c) => `${c.scheme} ${c.parameters.error ?? ""}`.trim()).join(", ")}`;
  }],
  ["DPoP introspection", async () => {
    const answer = await introspect(dpopToken);
    assert.equal(answer.active, true);
    assert.equal(String(answer.token_type).toLowerCase(), "dpop");
    assert.equal(answer.cnf?.jkt, await dpop.calculateThumbprint());
    return "active, token_type DPoP, cnf.jkt";
  }],
  ["DPoP Ed25519 key", async () => {
    const keys = await newKeyPair({ name: "Ed25519" });
    const handle = oauth.DPoP(client, keys, remapEd25519);
    const token = await dpopGrant(handle);
    assert.equal(token.token_type, "dpop");
    assert.equal((await dpopMe(token.access_token, handle)).client_id, client.client_id);
    // Unremapped, the proof says "Ed25519": taken only if the metadata lists it.
    const listed = as.dpop_signing_alg_values_supported.includes("Ed25519");
    const plain = await dpopGrant(oauth.DPoP(client, keys)).then(() => undefined, (error) => error);
    if (listed) {
      assert.equal(plain, undefined, String(plain));
      return "EdDSA proofs taken; Ed25519 too, as the metadata lists";
    }
    assert.ok(plain instanceof oauth.ResponseBodyError, String(plain));
    assert.equal(plain.status, 400);
    assert.equal(plain.error, "invalid_dpop_proof");
    return "EdDSA proofs taken; alg Ed25519, not listed, 400 invalid_dpop_proof";
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
  // Nor can the DPoP checks go on without a DPoP token.
  if ((name === "DPoP client credentials" || name === "DPoP nonce: token endpoint") && dpopToken === undefined) break;
}
console.log(`oauth4webapi ${label}: ${passed} passed, ${failed} failed`);
process.exit(failed || passed !== checks.length ? 1 : 0);
