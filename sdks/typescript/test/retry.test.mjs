// Transient failures, which the real server cannot be made to produce on
// demand: a scripted server on loopback answers 503, 429 with Retry-After,
// late, or nothing at all, drops the connection, and counts what it was asked.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { ApiError, Client, RetryPolicy, TimeoutError, TokenSource, TransportError, UnexpectedResponseError } from "@casebook/sdk";
import { eventually, within } from "./harness.mjs";

const SECRET = "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0a0xjF3P";
const grant = (value) => JSON.stringify({ access_token: value, token_type: "Bearer", expires_in: 3600, scope: "engage:view" });
const TOKEN = grant("t-1");

/**
 * Serves `script(request, n)` for the n-th request (from 0) of each path:
 * an answer, a promise of one (to answer late), `null` to never answer, or
 * `"reset"` to drop the connection once the request is in.
 */
async function scripted(script) {
  const counts = {};
  const server = createServer(async (req, res) => {
    const n = counts[req.url.split("?")[0]] ?? 0;
    counts[req.url.split("?")[0]] = n + 1;
    const answer = await script(req, n);
    if (answer === null) return; // never answers
    if (answer === "reset") {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, { "content-type": answer.type ?? "application/json", ...answer.headers });
    res.end(answer.body ?? "");
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    counts,
    close: () => {
      server.closeAllConnections();
      return new Promise((ok) => server.close(ok));
    },
  };
}

/** A client of the scripted server, with its test credentials. */
const clientOf = (fake, options) => new Client({ baseUrl: fake.url, clientId: "cb_1", clientSecret: SECRET, ...options });

const problem = (status, title) =>
  JSON.stringify({ type: "about:blank", title, status, detail: `${title.toLowerCase()} for now` });

test("token requests: 503 temporarily_unavailable and 429 are retried with backoff, Retry-After honoured", async () => {
  const fake = await scripted((_req, n) =>
    n === 0
      ? { status: 503, body: JSON.stringify({ error: "temporarily_unavailable" }) }
      : n === 1
        ? { status: 429, headers: { "retry-after": "1" }, body: JSON.stringify({ error: "temporarily_unavailable" }) }
        : { status: 200, body: TOKEN },
  );
  try {
    const tokens = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET });
    const started = performance.now();
    const token = await tokens.token();
    const waited = performance.now() - started;
    assert.equal(token.secret(), "t-1");
    assert.equal(fake.counts["/oauth2/token"], 3);
    // 125..250 ms of jittered backoff, then the full second asked for.
    assert.ok(waited >= 1_100, `waited ${waited} ms`);
  } finally {
    await fake.close();
  }
});

test("token requests: retries are bounded, and a Retry-After beyond the bound ends them", async () => {
  const fake = await scripted(() => ({ status: 503, headers: { "retry-after": "0" }, body: problem(503, "Service Unavailable") }));
  try {
    const retry = new RetryPolicy({ maxRetries: 2, initialBackoffMs: 10 });
    const tokens = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET, retry });
    await assert.rejects(tokens.token(), (e) => e instanceof UnexpectedResponseError && e.status === 503 && e.transient);
    assert.equal(fake.counts["/oauth2/token"], 3);
  } finally {
    await fake.close();
  }
  const patient = await scripted(() => ({ status: 429, headers: { "retry-after": "3600" }, body: problem(429, "Too Many Requests") }));
  try {
    const tokens = new TokenSource({ tokenUrl: `${patient.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET });
    await assert.rejects(tokens.token(), (e) => e.retryAfterMs === 3_600_000);
    assert.equal(patient.counts["/oauth2/token"], 1);
  } finally {
    await patient.close();
  }
});

test("API calls: a GET is retried on 503, and a POST or PATCH on 429 and on a 503 with Retry-After, which say the server did nothing", async () => {
  let casePosts = 0;
  const fake = await scripted((req, n) => {
    if (req.url === "/oauth2/token") return { status: 200, body: TOKEN };
    if (req.url.startsWith("/api/v1/engage/cases") && req.method === "GET") {
      return n === 0 ? { status: 503, body: problem(503, "Service Unavailable") } : { status: 200, body: '{"items":[],"next_cursor":null}' };
    }
    if (req.url === "/api/v1/engage/cases" && req.method === "POST") {
      return casePosts++ === 0
        ? { status: 503, headers: { "retry-after": "0" }, body: problem(503, "Service Unavailable") }
        : { status: 201, body: '{"id":"c-1","title":"x"}' };
    }
    if (req.url === "/api/v1/engage/cases/c-1" && req.method === "PATCH") {
      // A proxy's page, not a problem, but with the wait it asks for: the request went no further.
      return n === 0
        ? { status: 503, headers: { "retry-after": "0" }, body: "<html>busy</html>", type: "text/html" }
        : { status: 200, body: '{"id":"c-1","title":"y"}' };
    }
    if (req.url === "/api/v1/engage/cases/c-2" && req.method === "PATCH") {
      // A bare 503 from a proxy may follow an upstream that had the request already.
      return { status: 503, body: "<html>upstream reset</html>", type: "text/html" };
    }
    if (req.url === "/api/v1/intake/reports" && req.method === "POST") {
      return n === 0
        ? { status: 429, headers: { "retry-after": "0" }, body: problem(429, "Too Many Requests") }
        : { status: 201, body: '{"id":"r-1"}' };
    }
    return { status: 404, body: problem(404, "Not Found") };
  });
  try {
    const client = clientOf(fake, { retry: { initialBackoffMs: 10 } });
    assert.deepEqual((await client.cases.list().send()).items, []);
    assert.equal(fake.counts["/api/v1/engage/cases"], 2);
    assert.equal((await client.cases.create({ title: "x" })).id, "c-1");
    assert.equal(fake.counts["/api/v1/engage/cases"], 4, "the POST answered 503 went again");
    assert.equal((await client.cases.change("c-1", { title: "y" })).title, "y");
    assert.equal(fake.counts["/api/v1/engage/cases/c-1"], 2, "the PATCH answered 503 with Retry-After went again");
    await assert.rejects(client.cases.change("c-2", { title: "y" }), (e) => e instanceof UnexpectedResponseError && e.status === 503);
    assert.equal(fake.counts["/api/v1/engage/cases/c-2"], 1, "the PATCH answered a bare 503 went once");
    assert.equal((await client.reports.create({ summary: "x" })).id, "r-1");
    assert.equal(fake.counts["/api/v1/intake/reports"], 2);
    assert.equal(fake.counts["/oauth2/token"], 1);
  } finally {
    await fake.close();
  }
});

test("API calls: a POST answered 500 or timed out goes again with the same Idempotency-Key; a GET is retried on both", async () => {
  const keys = { cases: [], reports: [] };
  const fake = await scripted((req, n) => {
    if (req.url === "/oauth2/token") return { status: 200, body: TOKEN };
    if (req.url === "/api/v1/engage/cases" && req.method === "POST") {
      keys.cases.push(req.headers["idempotency-key"]);
      return n === 0 ? { status: 500, body: problem(500, "Internal Server Error") } : { status: 201, body: '{"id":"c-1"}' };
    }
    if (req.url === "/api/v1/intake/reports" && req.method === "POST") {
      keys.reports.push(req.headers["idempotency-key"]);
      // The first try acts but answers late; the repeat gets its answer again.
      return n === 0 ? null : { status: 201, headers: { "idempotent-replayed": "true" }, body: '{"id":"r-1"}' };
    }
    if (req.url === "/api/v1/me") {
      if (n === 0) return { status: 500, body: problem(500, "Internal Server Error") };
      if (n === 1) return null;
      return { status: 200, body: JSON.stringify({ client_id: "cb_1" }) };
    }
    return { status: 404, body: problem(404, "Not Found") };
  });
  try {
    const client = clientOf(fake, { timeoutMs: 300, retry: { maxRetries: 3, initialBackoffMs: 10 } });
    assert.equal((await client.cases.create({ title: "x" })).id, "c-1");
    assert.equal(keys.cases.length, 2);
    assert.match(keys.cases[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(keys.cases[1], keys.cases[0], "one key for every try of a call");
    assert.equal((await within(client.reports.create({ summary: "x" }), 5_000)).id, "r-1");
    assert.equal(keys.reports.length, 2);
    assert.equal(keys.reports[1], keys.reports[0]);
    assert.notEqual(keys.reports[0], keys.cases[0], "each call has its own key");
    assert.equal((await client.me()).client_id, "cb_1");
    assert.equal(fake.counts["/api/v1/me"], 3, "the GET went again after the 500 and after the timeout");
  } finally {
    await fake.close();
  }
});

test("API calls: a keyed POST whose repeat meets a 409 (the first try still running) waits and repeats; a replayed 409 is thrown", async () => {
  const keys = [];
  const fake = await scripted((req, n) => {
    if (req.url === "/oauth2/token") return { status: 200, body: TOKEN };
    if (req.url === "/api/v1/engage/cases" && req.method === "POST") {
      keys.push(req.headers["idempotency-key"]);
      if (n === 0) return null;
      if (n === 1) return { status: 409, body: problem(409, "Conflict") };
      return { status: 201, headers: { "idempotent-replayed": "true" }, body: '{"id":"c-1"}' };
    }
    if (req.url === "/api/v1/intake/reports" && req.method === "POST") {
      return n === 0 ? null : { status: 409, headers: { "idempotent-replayed": "true" }, body: problem(409, "Conflict") };
    }
    return { status: 404, body: problem(404, "Not Found") };
  });
  try {
    const client = clientOf(fake, { timeoutMs: 300, retry: { maxRetries: 3, initialBackoffMs: 10 } });
    assert.equal((await client.cases.create({ title: "x" })).id, "c-1");
    assert.equal(keys.length, 3);
    assert.equal(new Set(keys).size, 1);
    await assert.rejects(client.reports.create({ summary: "x" }), (e) => e instanceof ApiError && e.status === 409);
    assert.equal(fake.counts["/api/v1/intake/reports"], 2, "the 409 the server replays is the call's answer");
  } finally {
    await fake.close();
  }
});

test("API calls: a POST made as nobody (a sign-in) that times out is sent once: the server keeps keys per account", async () => {
  const fake = await scripted(() => null);
  try {
    const client = new Client({ baseUrl: fake.url, anonymous: true, timeoutMs: 200, retry: { maxRetries: 3, initialBackoffMs: 10 } });
    await assert.rejects(client.signIn("a@b.example", "pw"), (e) => e instanceof TimeoutError && e.transient);
    assert.equal(fake.counts["/admin/v1/sessions"], 1);
  } finally {
    await fake.close();
  }
});

test("a PATCH that timed out is sent once: only POSTs carry a key", async () => {
  const fake = await scripted((req) => {
    if (req.url === "/oauth2/token") return { status: 200, body: TOKEN };
    assert.equal(req.headers["idempotency-key"], undefined);
    return null;
  });
  try {
    const client = clientOf(fake, { timeoutMs: 200, retry: { maxRetries: 3, initialBackoffMs: 10 } });
    await assert.rejects(client.cases.change("c-1", { title: "y" }), (e) => e instanceof TimeoutError);
    assert.equal(fake.counts["/api/v1/engage/cases/c-1"], 1);
  } finally {
    await fake.close();
  }
});

test("a token request that times out is a TimeoutError, sent once: the server may have issued a token", async () => {
  const fake = await scripted(() => null);
  try {
    const tokens = new TokenSource({
      tokenUrl: `${fake.url}/oauth2/token`,
      clientId: "cb_1",
      clientSecret: SECRET,
      timeoutMs: 200,
      retry: { maxRetries: 3, initialBackoffMs: 10 },
    });
    await assert.rejects(tokens.token(), (e) => e instanceof TimeoutError && e.transient);
    assert.equal(fake.counts["/oauth2/token"], 1);
  } finally {
    await fake.close();
  }
});

test("a token request is retried on 503 temporarily_unavailable only: 500, a bare 503 and a dropped connection are sent once", async () => {
  const fake = await scripted((req, n) => {
    if (req.url === "/busy/oauth2/token") {
      return n === 0 ? { status: 503, body: JSON.stringify({ error: "temporarily_unavailable" }) } : { status: 200, body: TOKEN };
    }
    if (req.url === "/proxied/oauth2/token") return { status: 503, body: "<html>upstream reset</html>", type: "text/html" };
    if (req.url === "/broken/oauth2/token") return { status: 500, body: problem(500, "Internal Server Error") };
    if (req.url === "/dropped/oauth2/token") return "reset";
    return { status: 404, body: problem(404, "Not Found") };
  });
  try {
    const at = (path) =>
      new TokenSource({ tokenUrl: `${fake.url}${path}`, clientId: "cb_1", clientSecret: SECRET, retry: { initialBackoffMs: 10 } });
    assert.equal((await at("/busy/oauth2/token").token()).secret(), "t-1");
    assert.equal(fake.counts["/busy/oauth2/token"], 2);
    await assert.rejects(at("/broken/oauth2/token").token(), (e) => e instanceof UnexpectedResponseError && e.status === 500 && e.transient);
    assert.equal(fake.counts["/broken/oauth2/token"], 1);
    await assert.rejects(at("/proxied/oauth2/token").token(), (e) => e instanceof UnexpectedResponseError && e.status === 503);
    assert.equal(fake.counts["/proxied/oauth2/token"], 1, "a bare 503 may come after the upstream issued a token");
    await assert.rejects(at("/dropped/oauth2/token").token(), (e) => e instanceof TransportError && !e.notSent && e.transient);
    assert.equal(fake.counts["/dropped/oauth2/token"], 1);
  } finally {
    await fake.close();
  }
});

test("permanent OAuth errors are thrown at once, never retried", async () => {
  const fake = await scripted((req) => ({
    status: req.url.startsWith("/unauthorized_client") ? 400 : 401,
    body: JSON.stringify({ error: req.url.split("/")[1] }),
  }));
  try {
    for (const code of ["invalid_client", "invalid_scope", "unauthorized_client"]) {
      const tokens = new TokenSource({ tokenUrl: `${fake.url}/${code}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET, retry: { initialBackoffMs: 10 } });
      await assert.rejects(tokens.token(), (e) => e.code === code && !e.transient);
      assert.equal(fake.counts[`/${code}/oauth2/token`], 1, code);
    }
  } finally {
    await fake.close();
  }
});

test("a refused connection is a TransportError that says nothing was sent, and a POST is retried on it", async () => {
  const fake = await scripted(() => ({ status: 200, body: TOKEN }));
  const url = fake.url;
  await fake.close();
  let calls = 0;
  const counting = (...args) => {
    calls += 1;
    return fetch(...args);
  };
  const client = new Client({ baseUrl: url, anonymous: true, fetch: counting, retry: { maxRetries: 2, initialBackoffMs: 10 } });
  await assert.rejects(client.signIn("a@b.example", "pw"), (e) => {
    assert.ok(e instanceof TransportError, String(e));
    assert.equal(e.notSent, true);
    assert.equal(e.transient, true);
    return true;
  });
  assert.equal(calls, 3);
});

test("a redirect is not followed: credentials never go elsewhere", async () => {
  const fake = await scripted(() => ({ status: 307, headers: { location: "https://elsewhere.example/oauth2/token" } }));
  try {
    const tokens = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET });
    await assert.rejects(tokens.token(), (e) => e instanceof UnexpectedResponseError && e.status === 307);
    assert.equal(fake.counts["/oauth2/token"], 1);
  } finally {
    await fake.close();
  }
});

test("one failed refresh ahead of expiry keeps the current token, quietly, until it expires", async () => {
  let now = 0;
  const unhandled = [];
  const record = (reason) => unhandled.push(reason);
  process.on("unhandledRejection", record);
  const fake = await scripted((_req, n) =>
    n === 0 ? { status: 200, body: TOKEN } : { status: 401, body: JSON.stringify({ error: "invalid_client" }) },
  );
  try {
    const tokens = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET, clock: () => now });
    const first = await tokens.token();
    now = 3600_000 - 100_000;
    assert.equal(await tokens.token(), first);
    await eventually(() => fake.counts["/oauth2/token"] === 2, 3_000, "the background refresh");
    for (let i = 0; i < 10; i++) {
      assert.equal(await tokens.token(), first);
      await new Promise((ok) => setTimeout(ok, 20));
    }
    assert.equal(fake.counts["/oauth2/token"], 2, "no request per call after a failed refresh");
    assert.deepEqual(unhandled, [], "a failed background refresh rejects nothing unhandled");
    now = 3600_000;
    await assert.rejects(tokens.token(), (e) => e.code === "invalid_client");
  } finally {
    process.off("unhandledRejection", record);
    await fake.close();
  }
});

test("a refresh ahead of expiry runs in the background: no caller waits for it", async () => {
  let now = 0;
  let release;
  const held = new Promise((ok) => (release = ok));
  let arrived;
  const asked = new Promise((ok) => (arrived = ok));
  const fake = await scripted((_req, n) => {
    if (n === 0) return { status: 200, body: TOKEN };
    arrived();
    return held.then(() => ({ status: 200, body: grant("t-2") }));
  });
  try {
    const tokens = new TokenSource({ tokenUrl: `${fake.url}/oauth2/token`, clientId: "cb_1", clientSecret: SECRET, clock: () => now });
    const first = await tokens.token();
    now = 3600_000 - 100_000;
    const callers = await within(Promise.all(Array.from({ length: 100 }, () => tokens.token())), 2_000, "waited");
    assert.notEqual(callers, "waited", "callers in the refresh window waited for the refresh");
    assert.ok(callers.every((t) => t === first));
    // The refresh is at the server, its answer held back: still nobody waits.
    assert.equal(await within(asked, 2_000, "not asked"), undefined);
    assert.equal(await within(tokens.token(), 500, "waited"), first);
    assert.equal(fake.counts["/oauth2/token"], 2);
    release();
    const second = await eventually(async () => {
      const t = await tokens.token();
      return t !== first && t;
    }, 3_000, "the new token");
    assert.equal(second.secret(), "t-2");
    assert.equal(await tokens.token(), second);
    assert.equal(fake.counts["/oauth2/token"], 2, "one refresh for every caller");
  } finally {
    release();
    await fake.close();
  }
});

test("a refresh ahead of expiry that meets a 503 is retried, Retry-After honoured", async () => {
  let now = 0;
  const fake = await scripted((_req, n) =>
    n === 0
      ? { status: 200, body: TOKEN }
      : n === 1
        ? { status: 503, headers: { "retry-after": "0" }, body: problem(503, "Service Unavailable") }
        : { status: 200, body: grant("t-2") },
  );
  try {
    const tokens = new TokenSource({
      tokenUrl: `${fake.url}/oauth2/token`,
      clientId: "cb_1",
      clientSecret: SECRET,
      clock: () => now,
      retry: { initialBackoffMs: 10 },
    });
    const first = await tokens.token();
    now = 3600_000 - 100_000;
    assert.equal(await tokens.token(), first);
    const second = await eventually(async () => {
      const t = await tokens.token();
      return t !== first && t;
    }, 3_000, "the retried refresh");
    assert.equal(second.secret(), "t-2");
    assert.equal(fake.counts["/oauth2/token"], 3);
  } finally {
    await fake.close();
  }
});
