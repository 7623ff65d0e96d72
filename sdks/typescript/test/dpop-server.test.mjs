// DPoP (RFC 9449) against the real server: tokens bound to the client's key
// with each algorithm, proofs at /api/v1 and /admin/v1, a bound token
// refused as Bearer, an application that requires DPoP, and a server that
// demands its nonces (CASEBOOK_DPOP_NONCE=true), whose use_dpop_nonce the
// client answers by sending again once.
//
// Skipped, saying so, when the server's metadata has no
// dpop_signing_alg_values_supported: a server without DPoP.

import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import { Client, DPoPKey, DPoPProofError, OAuthError } from "@casebook/sdk";
import { adminSession, registerApplication, startServer } from "./harness.mjs";

const { subtle } = webcrypto;
const ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"];
const GENERATE = {
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  PS256: { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  EdDSA: { name: "Ed25519" },
};

let server;
let session;
let nonceServer;
let nonceSession;
let metadata;
before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
  metadata = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
  if (metadata.dpop_signing_alg_values_supported === undefined) return;
  nonceServer = await startServer({ env: { CASEBOOK_DPOP_NONCE: "true" } });
  nonceSession = await adminSession(nonceServer.url);
});
after(async () => {
  await server?.stop();
  await nonceServer?.stop();
});

/** Skips `t` when the server has no DPoP; whether it was skipped. */
function withoutDpop(t) {
  if (metadata.dpop_signing_alg_values_supported !== undefined) return false;
  t.skip("the server's metadata has no dpop_signing_alg_values_supported: this casebook binary has no DPoP yet");
  return true;
}

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));

/** A fetch that records each exchange: path, status, challenge, nonce, and the error of a JSON body. */
function recording() {
  const exchanges = [];
  const fetchImpl = async (url, init) => {
    const response = await fetch(url, init);
    let error;
    try {
      error = JSON.parse(await response.clone().text()).error;
    } catch {
      // Not JSON.
    }
    exchanges.push({
      path: new URL(url).pathname,
      status: response.status,
      challenge: response.headers.get("www-authenticate") ?? "",
      nonce: response.headers.get("dpop-nonce"),
      error,
    });
    return response;
  };
  return { exchanges, fetch: fetchImpl };
}

test("the metadata lists the algorithms the SDK signs with", (t) => {
  if (withoutDpop(t)) return;
  for (const alg of ALGORITHMS) assert.ok(metadata.dpop_signing_alg_values_supported.includes(alg), alg);
});

test("a token bound to the key, with each algorithm: the APIs take it with proofs, and refuse it as Bearer", async (t) => {
  if (withoutDpop(t)) return;
  for (const alg of ["ES256 generated", ...ALGORITHMS]) {
    const dpop = alg === "ES256 generated" ? true : await subtle.generateKey(GENERATE[alg], false, ["sign", "verify"]);
    const app = await registerApplication(server.url, session, ["engage-worker", "auditor"]);
    const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret, dpop });
    const me = await client.me();
    assert.equal(me.client_id, app.clientId, alg);
    // A POST, a GET with a query (not part of htu) and the admin API.
    const opened = await client.cases.create({ title: `DPoP ${alg}` });
    assert.ok((await client.cases.list({ limit: 100 }).all()).some((c) => c.id === opened.id), alg);
    assert.ok((await client.admin.roles.list({ limit: 10 }).send()).items.length > 0, alg);

    const token = await client.tokenSource.token();
    assert.equal(token.tokenType, "DPoP", alg);
    assert.equal(claimsOf(token.secret()).cnf?.jkt, await client.tokenSource.dpop.thumbprint(), alg);

    // The same token as a bearer token is refused.
    const bearer = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token.secret()}` } });
    assert.equal(bearer.status, 401, alg);
    assert.match(bearer.headers.get("www-authenticate") ?? "", /\bDPoP\b/i, alg);
    // And as DPoP without a proof (401, or 400 for a request short of its header).
    const unproven = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `DPoP ${token.secret()}` } });
    assert.ok([400, 401].includes(unproven.status), `${alg}: ${unproven.status}`);
  }
});

test("a proof is taken once: the same DPoP header a second time is refused", async (t) => {
  if (withoutDpop(t)) return;
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const key = new DPoPKey();
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret, dpop: key });
  await client.me();
  const token = (await client.tokenSource.token()).secret();
  const url = `${server.url}/api/v1/me`;
  const headers = { authorization: `DPoP ${token}`, dpop: await key.proof("GET", url, token) };
  assert.equal((await fetch(url, { headers })).status, 200);
  const again = await fetch(url, { headers });
  assert.equal(again.status, 401);
  // A proof for another URL, or without the token's hash, is refused too.
  for (const proof of [await key.proof("GET", `${server.url}/api/v1/engage/cases`, token), await key.proof("GET", url)]) {
    assert.equal((await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status, 401);
  }
});

test("an application that requires DPoP gets no token without a proof", async (t) => {
  if (withoutDpop(t)) return;
  const app = await registerApplication(server.url, session, ["engage-worker"], { dpop_bound_access_tokens: true });
  const shown = await (
    await fetch(`${server.url}/admin/v1/external-applications/${app.id}`, { headers: { authorization: `Bearer ${session}` } })
  ).json();
  assert.equal(shown.dpop_bound_access_tokens, true);
  const plain = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
  await assert.rejects(plain.me(), (e) => {
    assert.ok(e instanceof OAuthError || e instanceof DPoPProofError, inspect(e));
    assert.equal(e.status, 400);
    return true;
  });
  const bound = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret, dpop: true });
  assert.equal((await bound.me()).client_id, app.clientId);
});

test("with server nonces, the token request and the API call are sent again once, with the nonce", async (t) => {
  if (withoutDpop(t)) return;
  const app = await registerApplication(nonceServer.url, nonceSession, ["engage-worker", "auditor"]);
  const { exchanges, fetch: recorded } = recording();
  const client = new Client({ baseUrl: nonceServer.url, clientId: app.clientId, clientSecret: app.clientSecret, dpop: true, fetch: recorded });
  assert.equal((await client.me()).client_id, app.clientId);

  const tokenRequests = exchanges.filter((e) => e.path === "/oauth2/token");
  assert.equal(tokenRequests.length, 2, inspect(exchanges));
  assert.equal(tokenRequests[0].status, 400);
  assert.equal(tokenRequests[0].error, "use_dpop_nonce");
  assert.ok(tokenRequests[0].nonce, "the 400 carries a DPoP-Nonce");
  assert.equal(tokenRequests[1].status, 200);

  // The API may take the token endpoint's nonce; if it wants its own, it
  // says so once and the call goes again with it.
  const calls = exchanges.filter((e) => e.path === "/api/v1/me");
  assert.ok(calls.length === 1 || calls.length === 2, inspect(exchanges));
  if (calls.length === 2) {
    assert.equal(calls[0].status, 401);
    assert.match(calls[0].challenge, /DPoP[^,]*error="use_dpop_nonce"|error="use_dpop_nonce"/);
    assert.ok(calls[0].nonce, "the 401 carries a DPoP-Nonce");
  }
  assert.equal(calls.at(-1).status, 200);

  // The nonce is kept: later calls go once, the admin API's too.
  const before = exchanges.length;
  await client.me();
  await client.cases.create({ title: "with a nonce" });
  assert.ok((await client.admin.roles.list().send()).items.length > 0);
  assert.deepEqual(exchanges.slice(before).map((e) => e.status), [200, 201, 200], inspect(exchanges.slice(before)));
});

test("with server nonces, a nonce gone stale is asked for again: once at the API, once at the token endpoint", async (t) => {
  if (withoutDpop(t)) return;
  const app = await registerApplication(nonceServer.url, nonceSession, ["engage-worker"]);
  const { exchanges, fetch: recorded } = recording();
  const key = new DPoPKey();
  const client = new Client({ baseUrl: nonceServer.url, clientId: app.clientId, clientSecret: app.clientSecret, dpop: key, fetch: recorded });
  await client.me();
  // As if the server's nonce had expired meanwhile (rememberNonce is the
  // SDK's own; no public way to age a nonce).
  const stale = () => key.rememberNonce(nonceServer.url, new Headers({ "dpop-nonce": "c3RhbGUgbm9uY2U" }));

  stale();
  let before = exchanges.length;
  assert.equal((await client.me()).client_id, app.clientId);
  let sent = exchanges.slice(before);
  assert.deepEqual(sent.map((e) => `${e.path} ${e.status}`), ["/api/v1/me 401", "/api/v1/me 200"], inspect(sent));
  assert.match(sent[0].challenge, /use_dpop_nonce/);
  assert.notEqual(key.nonce(nonceServer.url), "c3RhbGUgbm9uY2U");

  stale();
  client.tokenSource.invalidate(await client.tokenSource.token());
  before = exchanges.length;
  assert.equal((await client.me()).client_id, app.clientId);
  sent = exchanges.slice(before);
  assert.deepEqual(sent.map((e) => `${e.path} ${e.status} ${e.error ?? ""}`.trim()), [
    "/oauth2/token 400 use_dpop_nonce",
    "/oauth2/token 200",
    "/api/v1/me 200",
  ], inspect(sent));
});

test("without a key the nonce server still issues bearer tokens", async (t) => {
  if (withoutDpop(t)) return;
  const app = await registerApplication(nonceServer.url, nonceSession, ["engage-worker"]);
  const client = new Client({ baseUrl: nonceServer.url, clientId: app.clientId, clientSecret: app.clientSecret });
  assert.equal((await client.me()).client_id, app.clientId);
  assert.equal((await client.tokenSource.token()).tokenType, "Bearer");
});
