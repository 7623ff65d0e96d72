// DPoP (RFC 9449) against a scripted server on loopback, which checks every
// proof it is sent with WebCrypto and answers as RFC 9449 and the contract
// say: a nonce asked for (400 use_dpop_nonce at the token endpoint, 401
// WWW-Authenticate DPoP error="use_dpop_nonce" at the API), a refused proof,
// a Bearer token where a DPoP one was asked for. dpop-server.test.mjs runs
// the same client against the real server.

import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import { createServer } from "node:http";
import { test } from "node:test";
import { inspect } from "node:util";
import {
  ApiError,
  Client,
  ConfigError,
  DPoPKey,
  DPoPProofError,
  OAuthError,
  TokenSource,
  UnexpectedResponseError,
} from "@casebook/sdk";

const SECRET = "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0a0xjF3P";
const { subtle } = webcrypto;

const b64u = (bytes) => Buffer.from(bytes).toString("base64url");
const json = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
const dpopGrant = (value, tokenType = "DPoP") =>
  JSON.stringify({ access_token: value, token_type: tokenType, expires_in: 3600, scope: "engage:view" });
const problem = (status, title, detail = "") => JSON.stringify({ type: "about:blank", title, status, detail });
const ME = JSON.stringify({ kind: "application", client_id: "cb_1", permissions: ["engage:view"] });

/** The WebCrypto key pairs of each algorithm, made with node:crypto's WebCrypto as a caller would. */
const GENERATE = {
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  PS256: { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  EdDSA: { name: "Ed25519" },
};
const VERIFY = {
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
  RS256: [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
  PS256: [{ name: "RSA-PSS", hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 32 }],
  EdDSA: [{ name: "Ed25519" }, { name: "Ed25519" }],
};
const keyPair = (alg, extractable = false) => subtle.generateKey(GENERATE[alg], extractable, ["sign", "verify"]);

/** RFC 7638, worked out here apart from the SDK's. */
function thumbprintOf(jwk) {
  const members = { EC: ["crv", "kty", "x", "y"], RSA: ["e", "kty", "n"], OKP: ["crv", "kty", "x"] }[jwk.kty];
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash("sha256").update(canonical).digest("base64url");
}

/**
 * Checks a `DPoP` header as a server does (RFC 9449 §4.3): its header, its
 * signature by the key it carries, `htm`, `htu`, `iat` and, with an access
 * token, `ath`. Its header and claims.
 */
async function verifyProof(proof, { htm, htu, accessToken }) {
  assert.equal(typeof proof, "string", "a DPoP header was sent");
  const [h, p, s, ...rest] = proof.split(".");
  assert.equal(rest.length, 0);
  const header = json(h);
  const claims = json(p);
  assert.equal(header.typ, "dpop+jwt");
  assert.ok(header.alg in VERIFY, header.alg);
  assert.deepEqual(Object.keys(header).sort(), ["alg", "jwk", "typ"]);
  for (const member of ["d", "p", "q", "dp", "dq", "qi", "key_ops", "ext"]) {
    assert.ok(!(member in header.jwk), `the proof's jwk carries ${member}`);
  }
  const [importParams, verifyParams] = VERIFY[header.alg];
  const key = await subtle.importKey("jwk", header.jwk, importParams, false, ["verify"]);
  const signature = Buffer.from(s, "base64url");
  if (header.alg === "ES256") assert.equal(signature.length, 64, "an ES256 JWS signature is r || s");
  assert.ok(await subtle.verify(verifyParams, key, signature, Buffer.from(`${h}.${p}`)), "the signature holds");
  assert.equal(claims.htm, htm);
  assert.equal(claims.htu, htu);
  assert.ok(Number.isInteger(claims.iat) && Math.abs(claims.iat - Date.now() / 1000) < 5, `iat ${claims.iat}`);
  assert.match(claims.jti, /^[A-Za-z0-9_-]{22,}$/);
  if (accessToken === undefined) assert.equal(claims.ath, undefined);
  else assert.equal(claims.ath, createHash("sha256").update(accessToken).digest("base64url"));
  return { header, claims };
}

/**
 * Serves `script(request, n, proof)` for the n-th request (from 0) of each
 * path, `proof` the checked `DPoP` header's claims (or undefined when none
 * came); records every request. An answer is `{ status, headers, body }`.
 */
async function scripted(script) {
  const counts = {};
  const requests = [];
  const server = createServer(async (req, res) => {
    const path = req.url.split("?")[0];
    const n = counts[path] ?? 0;
    counts[path] = n + 1;
    const url = `http://127.0.0.1:${server.address().port}`;
    let proof;
    let failure;
    try {
      if (req.headers.dpop !== undefined) {
        const accessToken = path === "/oauth2/token" ? undefined : req.headers.authorization?.replace(/^DPoP /, "");
        proof = await verifyProof(req.headers.dpop, { htm: req.method, htu: `${url}${path}`, accessToken });
      }
    } catch (error) {
      failure = error;
    }
    requests.push({ path, method: req.method, authorization: req.headers.authorization, proof, failure });
    const answer = failure
      ? { status: 599, body: String(failure) }
      : await script(req, n, proof?.claims);
    res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
    res.end(answer.body ?? "");
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    counts,
    requests,
    /** Every proof was good: no request failed the checks. */
    assertProofsHeld() {
      for (const r of requests) assert.equal(r.failure, undefined, `${r.method} ${r.path}: ${r.failure}`);
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((ok) => server.close(ok));
    },
  };
}

const clientOf = (fake, options) =>
  new Client({ baseUrl: fake.url, clientId: "cb_1", clientSecret: SECRET, retry: { initialBackoffMs: 10 }, ...options });

/** A server that takes any good proof: DPoP tokens t-1, t-2, …; `/api/v1/me` and the cases list. */
function plain(req, n) {
  if (req.url === "/oauth2/token") return { status: 200, body: dpopGrant(`t-${n + 1}`) };
  if (req.url === "/api/v1/me") return { status: 200, body: ME };
  if (req.url.startsWith("/api/v1/engage/cases")) return { status: 200, body: '{"items":[],"next_cursor":null}' };
  return { status: 404, body: problem(404, "Not Found") };
}

test("every token request and API call carries a proof of the key, with each algorithm", async () => {
  const fake = await scripted(plain);
  try {
    const options = [
      ["ES256 generated", true],
      ["ES256", await keyPair("ES256")],
      ["RS256", await keyPair("RS256")],
      ["PS256", await keyPair("PS256")],
      ["EdDSA", await keyPair("EdDSA")],
    ];
    for (const [name, dpop] of options) {
      const from = fake.requests.length;
      const client = clientOf(fake, { dpop });
      const key = client.tokenSource.dpop;
      assert.ok(key instanceof DPoPKey, name);
      assert.equal(key.algorithm, name.split(" ")[0]);
      assert.equal((await client.me()).client_id, "cb_1");
      await client.cases.list({ limit: 5 }).send();
      await client.cases.create({ title: "x" }).catch(() => {});
      const token = await client.tokenSource.token();
      assert.equal(token.tokenType, "DPoP");
      fake.assertProofsHeld();

      const sent = fake.requests.slice(from);
      assert.deepEqual(sent.map((r) => `${r.method} ${r.path}`), [
        "POST /oauth2/token",
        "GET /api/v1/me",
        "GET /api/v1/engage/cases",
        "POST /api/v1/engage/cases",
      ]);
      assert.match(sent[0].authorization, /^Basic /, "the client authenticates as before");
      for (const r of sent.slice(1)) assert.equal(r.authorization, `DPoP ${token.secret()}`, name);
      for (const r of sent) assert.equal(r.proof.header.alg, key.algorithm, name);
      // One key throughout, the one the thumbprint names.
      const jwks = new Set(sent.map((r) => JSON.stringify(r.proof.header.jwk)));
      assert.equal(jwks.size, 1);
      assert.equal(await key.thumbprint(), thumbprintOf(sent[0].proof.header.jwk));
    }
    // A fresh jti in every proof.
    const jtis = fake.requests.map((r) => r.proof.claims.jti);
    assert.equal(new Set(jtis).size, jtis.length);
  } finally {
    await fake.close();
  }
});

test("the generated key is ES256 with a private key nothing can export, made once", async () => {
  const generateKey = subtle.generateKey;
  const made = [];
  subtle.generateKey = async (...args) => {
    const pair = await generateKey.apply(subtle, args);
    made.push({ args, pair });
    return pair;
  };
  const fake = await scripted(plain);
  try {
    const client = clientOf(fake, { dpop: true });
    await Promise.all(Array.from({ length: 20 }, () => client.me()));
    assert.equal(made.length, 1, "one key for every call");
    assert.deepEqual(made[0].args[0], { name: "ECDSA", namedCurve: "P-256" });
    assert.equal(made[0].pair.privateKey.extractable, false);
    await assert.rejects(subtle.exportKey("jwk", made[0].pair.privateKey));
    fake.assertProofsHeld();
  } finally {
    subtle.generateKey = generateKey;
    await fake.close();
  }
});

test("a nonce asked for is sent again once, at the token endpoint and at the API, and the latest one is kept", async () => {
  let apiNonce = "n-api-1";
  const fake = await scripted((req, n, proof) => {
    if (req.url === "/oauth2/token") {
      // The first request has no nonce: 400 use_dpop_nonce with one.
      if (proof.nonce !== "n-token-1") {
        return { status: 400, headers: { "dpop-nonce": "n-token-1" }, body: JSON.stringify({ error: "use_dpop_nonce", error_description: "a nonce, please" }) };
      }
      // A success may bring the next one too.
      return { status: 200, headers: { "dpop-nonce": "n-token-2" }, body: dpopGrant(`t-${n}`) };
    }
    if (req.url === "/api/v1/me") {
      if (proof.nonce !== apiNonce) {
        return {
          status: 401,
          headers: { "dpop-nonce": apiNonce, "www-authenticate": 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 RS256 PS256 EdDSA"' },
          body: problem(401, "Unauthorized", "use the nonce"),
        };
      }
      return { status: 200, body: ME };
    }
    return { status: 404, body: problem(404, "Not Found") };
  });
  try {
    const client = clientOf(fake, { dpop: true });
    assert.equal((await client.me()).client_id, "cb_1");
    fake.assertProofsHeld();
    const nonces = () => fake.requests.map((r) => `${r.path} ${r.proof.claims.nonce ?? "-"}`);
    assert.deepEqual(nonces(), [
      "/oauth2/token -",
      "/oauth2/token n-token-1",
      // The success's nonce is the latest of the origin.
      "/api/v1/me n-token-2",
      "/api/v1/me n-api-1",
    ]);
    assert.equal(client.tokenSource.dpop.nonce(fake.url), "n-api-1");
    // Kept: the next call carries it and goes once.
    await client.me();
    assert.equal(fake.counts["/api/v1/me"], 3);
    assert.equal(fake.requests.at(-1).proof.claims.nonce, "n-api-1");
    // The server moves on: one more retry, with the new one.
    apiNonce = "n-api-2";
    await client.me();
    assert.deepEqual(nonces().slice(-2), ["/api/v1/me n-api-1", "/api/v1/me n-api-2"]);
    assert.equal(fake.counts["/oauth2/token"], 2);
  } finally {
    await fake.close();
  }
});

test("a server that keeps asking for a nonce is asked once more, then a DPoPProofError", async () => {
  let nonce = 0;
  const fake = await scripted((req) => {
    nonce += 1;
    const headers = { "dpop-nonce": `n-${nonce}` };
    if (req.url === "/oauth2/token" && req.headers["x-test"] === "grant") return { status: 200, body: dpopGrant("t-1") };
    if (req.url === "/oauth2/token") return { status: 400, headers, body: JSON.stringify({ error: "use_dpop_nonce" }) };
    return { status: 401, headers: { ...headers, "www-authenticate": 'DPoP error="use_dpop_nonce"' }, body: problem(401, "Unauthorized") };
  });
  try {
    const tokens = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET, dpop: true });
    await assert.rejects(tokens.token(), (e) => {
      assert.ok(e instanceof DPoPProofError, inspect(e));
      assert.equal(e.kind, "dpop_proof");
      assert.equal(e.code, "use_dpop_nonce");
      assert.equal(e.status, 400);
      assert.equal(e.transient, false);
      return true;
    });
    assert.equal(fake.counts["/oauth2/token"], 2, "sent twice, no more");

    // At the API, with a token from the same origin.
    const client = clientOf(fake, { dpop: true, fetch: (url, init) => fetch(url, { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), "x-test": "grant" } }) });
    await assert.rejects(client.me(), (e) => e instanceof DPoPProofError && e.code === "use_dpop_nonce" && e.status === 401);
    assert.equal(fake.counts["/api/v1/me"], 2, "sent twice, no more");
    fake.assertProofsHeld();
  } finally {
    await fake.close();
  }
});

test("use_dpop_nonce without a nonce to use is not sent again", async () => {
  const fake = await scripted((req) =>
    req.url === "/oauth2/token"
      ? { status: 400, body: JSON.stringify({ error: "use_dpop_nonce" }) }
      : { status: 404, body: problem(404, "Not Found") },
  );
  try {
    const client = clientOf(fake, { dpop: true });
    await assert.rejects(client.me(), (e) => e instanceof DPoPProofError && e.code === "use_dpop_nonce");
    assert.equal(fake.counts["/oauth2/token"], 1);
  } finally {
    await fake.close();
  }
});

test("a refused proof is a DPoPProofError at once: invalid_dpop_proof at the token endpoint and at the API", async () => {
  let tokenFails = true;
  const fake = await scripted((req) => {
    if (req.url === "/oauth2/token") {
      return tokenFails
        ? { status: 400, body: JSON.stringify({ error: "invalid_dpop_proof", error_description: "iat is too far from now" }) }
        : { status: 200, body: dpopGrant("t-1") };
    }
    return {
      status: 401,
      headers: { "www-authenticate": 'DPoP error="invalid_dpop_proof", algs="ES256 EdDSA"' },
      body: problem(401, "Unauthorized", "the proof's htu is not this URL"),
    };
  });
  try {
    const client = clientOf(fake, { dpop: true });
    await assert.rejects(client.me(), (e) => {
      assert.ok(e instanceof DPoPProofError, inspect(e));
      assert.ok(!(e instanceof OAuthError));
      assert.equal(e.code, "invalid_dpop_proof");
      assert.equal(e.status, 400);
      assert.equal(e.description, "iat is too far from now");
      assert.equal(e.transient, false);
      return true;
    });
    assert.equal(fake.counts["/oauth2/token"], 1, "not retried");
    // Remembered for a while, as other refusals are.
    await assert.rejects(client.me(), DPoPProofError);
    assert.equal(fake.counts["/oauth2/token"], 1);

    tokenFails = false;
    const other = clientOf(fake, { dpop: true });
    await assert.rejects(other.cases.list().send(), (e) => {
      assert.ok(e instanceof DPoPProofError, inspect(e));
      assert.ok(!(e instanceof ApiError));
      assert.equal(e.code, "invalid_dpop_proof");
      assert.equal(e.status, 401);
      assert.deepEqual(e.algorithms, ["ES256", "EdDSA"]);
      assert.equal(e.description, "the proof's htu is not this URL");
      return true;
    });
    assert.equal(fake.counts["/api/v1/engage/cases"], 1, "a GET refused for its proof is not retried");
  } finally {
    await fake.close();
  }
});

test("a DPoP token the API calls invalid_token is renewed once, with a proof for the new token", async () => {
  const fake = await scripted((req, n) => {
    if (req.url === "/oauth2/token") return { status: 200, body: dpopGrant(`t-${n + 1}`) };
    if (req.headers.authorization === "DPoP t-1") {
      return { status: 401, headers: { "www-authenticate": 'DPoP error="invalid_token", algs="ES256"' }, body: problem(401, "Unauthorized") };
    }
    return { status: 200, body: ME };
  });
  try {
    const client = clientOf(fake, { dpop: true });
    await client.me();
    fake.assertProofsHeld();
    assert.deepEqual(fake.requests.map((r) => `${r.path} ${r.authorization.split(" ")[0]} ${r.authorization.startsWith("DPoP") ? r.authorization.slice(5) : ""}`), [
      "/oauth2/token Basic ",
      "/api/v1/me DPoP t-1",
      "/oauth2/token Basic ",
      "/api/v1/me DPoP t-2",
    ]);
  } finally {
    await fake.close();
  }
});

test("a Bearer token where a DPoP one was asked for is refused, and the reverse", async () => {
  const fake = await scripted((req) => {
    const asked = req.headers.dpop !== undefined;
    return { status: 200, body: dpopGrant("t-1", asked ? "Bearer" : "DPoP") };
  });
  try {
    const dpop = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET, dpop: true });
    await assert.rejects(dpop.token(), (e) => e instanceof UnexpectedResponseError && /not DPoP/.test(e.message));
    const bearer = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET });
    await assert.rejects(bearer.token(), (e) => e instanceof UnexpectedResponseError && /not Bearer/.test(e.message));
  } finally {
    await fake.close();
  }
});

test("nonces are kept per origin", async () => {
  const a = await scripted((req) =>
    req.url === "/oauth2/token" ? { status: 200, headers: { "dpop-nonce": "from-a" }, body: dpopGrant("t-a") } : { status: 200, body: ME },
  );
  const b = await scripted((req) => (req.url === "/oauth2/token" ? { status: 200, body: dpopGrant("t-b") } : { status: 200, body: ME }));
  try {
    const key = new DPoPKey();
    await clientOf(a, { dpop: key }).me();
    await clientOf(b, { dpop: key }).me();
    assert.equal(key.nonce(a.url), "from-a");
    assert.equal(key.nonce(b.url), undefined);
    assert.equal(a.requests.at(-1).proof.claims.nonce, "from-a");
    assert.ok(b.requests.every((r) => r.proof.claims.nonce === undefined), "a's nonce never went to b");
    a.assertProofsHeld();
    b.assertProofsHeld();
  } finally {
    await a.close();
    await b.close();
  }
});

test("the private key never shows in strings, JSON, inspect or errors", async () => {
  const fake = await scripted((req) =>
    req.url === "/oauth2/token"
      ? { status: 200, body: dpopGrant("t-1") }
      : { status: 401, headers: { "www-authenticate": 'DPoP error="invalid_dpop_proof"' }, body: problem(401, "Unauthorized") },
  );
  try {
    for (const alg of ["ES256", "RS256", "EdDSA"]) {
      // Extractable, so that the test can know what must never show.
      const pair = await keyPair(alg, true);
      const { d } = await subtle.exportKey("jwk", pair.privateKey);
      assert.ok(d.length > 20);
      const client = clientOf(fake, { dpop: pair });
      const error = await client.me().catch((e) => e);
      assert.ok(error instanceof DPoPProofError);
      const key = client.tokenSource.dpop;
      const logged = [];
      const log = console.log;
      console.log = (...args) => logged.push(args.map((a) => (typeof a === "string" ? a : inspect(a, { depth: 10 }))).join(" "));
      try {
        console.log(key, client, client.tokenSource, error);
        console.log({ key });
      } finally {
        console.log = log;
      }
      for (const shown of [
        String(key),
        `${key}`,
        JSON.stringify(key),
        JSON.stringify({ key }),
        inspect(key),
        inspect({ nested: { key } }, { depth: 10 }),
        String(client),
        JSON.stringify(client),
        inspect(client, { depth: 10 }),
        JSON.stringify(client.tokenSource),
        inspect(client.tokenSource, { depth: 10 }),
        String(error),
        inspect(error, { depth: 10 }),
        JSON.stringify(error),
        ...logged,
      ]) {
        assert.ok(!shown.includes(d), shown);
        assert.ok(!shown.includes(SECRET), shown);
      }
      assert.ok(inspect(key).includes("[redacted]"));
      assert.match(JSON.stringify(client.tokenSource), /"dpop":\{"algorithm":"[A-Za-z0-9]+","privateKey":"\[redacted\]"\}/);
    }
  } finally {
    await fake.close();
  }
});

test("unusable keys and clashing options are ConfigErrors, before anything is sent", async () => {
  const rsa = (modulusLength, hash) =>
    subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash }, false, ["sign", "verify"]);
  const es256 = await keyPair("ES256");
  const hidden = await subtle.importKey("jwk", await subtle.exportKey("jwk", es256.publicKey), GENERATE.ES256, false, ["verify"]);
  const ed = await keyPair("EdDSA");
  const cases = [
    ["P-384", await subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, ["sign", "verify"]), /P-384/],
    ["RSA-1024", await rsa(1024, "SHA-256"), /1024 bits/],
    ["RS384", await rsa(2048, "SHA-384"), /SHA-384/],
    ["HMAC", { privateKey: await subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]), publicKey: es256.publicKey }, /CryptoKeyPair/],
    ["a hidden public key", { privateKey: es256.privateKey, publicKey: hidden }, /extractable/],
    ["mismatched halves", { privateKey: es256.privateKey, publicKey: ed.publicKey }, /algorithm/],
    ["not a key pair", { privateKey: "d", publicKey: "x" }, /CryptoKeyPair/],
  ];
  let calls = 0;
  const counting = (...args) => {
    calls += 1;
    return fetch(...args);
  };
  for (const [name, dpop, message] of cases) {
    assert.throws(
      () => new Client({ baseUrl: "http://127.0.0.1:9", clientId: "cb_1", clientSecret: SECRET, dpop, fetch: counting }),
      (e) => {
        assert.ok(e instanceof ConfigError, `${name}: ${inspect(e)}`);
        assert.match(e.message, message, name);
        return true;
      },
    );
  }
  const tokens = new TokenSource({ tokenUrl: "http://127.0.0.1:9/oauth2/token", clientId: "cb_1", clientSecret: SECRET, dpop: true });
  assert.throws(() => new Client({ baseUrl: "http://127.0.0.1:9", tokenSource: tokens, dpop: true }), (e) => e instanceof ConfigError && /dpop/.test(e.message));
  assert.equal(calls, 0);
  // dpop: false is no DPoP at all.
  assert.equal(new Client({ baseUrl: "http://127.0.0.1:9", clientId: "cb_1", clientSecret: SECRET, dpop: false }).tokenSource.dpop, undefined);
});

test("clients sharing a token source share its key, and their calls carry proofs of it", async () => {
  const fake = await scripted(plain);
  try {
    const tokens = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET, dpop: await keyPair("EdDSA") });
    const reader = new Client({ baseUrl: fake.url, tokenSource: tokens });
    const writer = new Client({ baseUrl: fake.url, tokenSource: tokens });
    await Promise.all([reader.me(), writer.me(), reader.me()]);
    fake.assertProofsHeld();
    assert.equal(fake.counts["/oauth2/token"], 1);
    assert.equal(new Set(fake.requests.map((r) => JSON.stringify(r.proof.header.jwk))).size, 1);
    assert.ok(fake.requests.slice(1).every((r) => r.authorization === "DPoP t-1"));
  } finally {
    await fake.close();
  }
});
