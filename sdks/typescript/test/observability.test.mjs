// Request ids on every error, and the instrumentation hooks: against the
// real server where it can show them, and a scripted one for what it cannot
// (a timeout, a dropped connection).

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import {
  ApiError,
  Client,
  ConfigError,
  OAuthError,
  TimeoutError,
  TokenSource,
  TransportError,
  UnexpectedResponseError,
  ValidationError,
} from "@casebook/sdk";
import { adminSession, registerApplication, startServer } from "./harness.mjs";

let server;
let session;
let app;
before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
  app = await registerApplication(server.url, session, ["engage-worker"]);
});
after(() => server?.stop());

/** Records every exchange's request id as sent and the server's as answered. */
function recordingFetch() {
  const exchanges = [];
  const recorded = async (input, init) => {
    const sent = new Headers(init?.headers).get("x-request-id");
    const response = await fetch(input, init);
    exchanges.push({ path: new URL(input).pathname, sent, answered: response.headers.get("x-request-id"), status: response.status });
    return response;
  };
  return { exchanges, fetch: recorded };
}

test("an API error carries the server's X-Request-Id, which is the one the SDK sent", async () => {
  const { exchanges, fetch: recorded } = recordingFetch();
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret, fetch: recorded });
  const error = await client.cases.get("00000000-0000-0000-0000-000000000000").catch((e) => e);
  assert.ok(error instanceof ApiError && error.status === 404, inspect(error));
  const last = exchanges.at(-1);
  assert.match(last.sent, /^[0-9a-f]{32}$/);
  assert.equal(last.answered, last.sent, "the server adopts the SDK's id");
  assert.equal(error.requestId, last.answered);
  assert.ok(error.message.endsWith(`(request id ${last.answered})`), error.message);
  // Each try has its own id.
  assert.equal(new Set(exchanges.map((e) => e.sent)).size, exchanges.length);
  // A 403 too.
  const forbidden = await client.cases.remove("00000000-0000-0000-0000-000000000000").catch((e) => e);
  assert.equal(forbidden.requestId, exchanges.at(-1).answered);
});

test("a token endpoint refusal carries its request id", async () => {
  const { exchanges, fetch: recorded } = recordingFetch();
  const stranger = await registerApplication(server.url, session, ["engage-worker"]);
  const tokens = new TokenSource({
    tokenUrl: `${server.url}/oauth2/token`,
    clientId: app.clientId,
    clientSecret: stranger.clientSecret,
    fetch: recorded,
  });
  const error = await tokens.token().catch((e) => e);
  assert.ok(error instanceof OAuthError && error.code === "invalid_client");
  assert.equal(error.requestId, exchanges.at(-1).answered);
  assert.match(error.requestId, /^[0-9a-f]{32}$/);
});

test("the request id instrument reports is the one the server's audit event of the write carries", async () => {
  const { ADMIN_PASSWORD } = await import("./harness.mjs");
  const answered = [];
  // Forms unchecked here: the refusal below must be the server's 422, with its request id.
  const anonymous = new Client({
    baseUrl: server.url,
    anonymous: true,
    checkForms: false,
    instrument: { onResponse: (r) => answered.push(r) },
  });
  const admin = await anonymous.signIn("sdk-admin@agency.example.org", ADMIN_PASSWORD);
  const role = await admin.admin.roles.create({ name: `Observed ${process.pid}`, permissions: ["engage:view"] });
  const write = answered.find((r) => r.method === "POST" && r.urlTemplate === "/admin/v1/roles");
  assert.equal(write.status, 201);
  const events = await admin.admin.auditEvents({ limit: 20 }).send();
  const event = events.items.find((e) => e.target_id === role.id || e.target_name === role.name);
  assert.ok(event, JSON.stringify(events.items.slice(0, 3)));
  assert.equal(event.request_id, write.requestId);
  const refused = await admin.admin.roles.create({ name: "Refused", permissions: ["no:such"] }).catch((e) => e);
  assert.ok(refused instanceof ApiError && refused.status === 422);
  assert.equal(refused.requestId, answered.at(-1).requestId);
});

test("an error found before sending has no request id", async () => {
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
  const error = await client.cases.create({ title: "" }).catch((e) => e);
  assert.ok(error instanceof ValidationError);
  assert.equal(error.requestId, undefined);
});

/** A server that answers `script(req)`: an answer, null (never), or "reset". */
async function scripted(script) {
  const http = createServer(async (req, res) => {
    const answer = await script(req);
    if (answer === null) return;
    if (answer === "reset") return req.socket.destroy();
    res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
    res.end(answer.body ?? "");
  });
  await new Promise((ok) => http.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${http.address().port}`,
    close: () => {
      http.closeAllConnections();
      return new Promise((ok) => http.close(ok));
    },
  };
}

test("a timeout, a dropped connection and an unexpected answer carry the id the SDK sent (or the server's)", async () => {
  const sent = [];
  const fake = await scripted((req) => {
    sent.push(req.headers["x-request-id"]);
    if (req.url === "/oauth2/token") return { status: 200, body: JSON.stringify({ access_token: "t", token_type: "Bearer", expires_in: 3600 }) };
    if (req.url === "/api/v1/me") return null;
    if (req.url.startsWith("/api/v1/engage/cases/dropped")) return "reset";
    return { status: 200, headers: { "x-request-id": "server-chosen-id" }, body: "not json" };
  });
  try {
    const client = new Client({
      baseUrl: fake.url,
      clientId: "cb_1",
      clientSecret: "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0a0xjF3P",
      timeoutMs: 200,
      retry: { maxRetries: 1, initialBackoffMs: 5 },
    });
    const timedOut = await client.me().catch((e) => e);
    assert.ok(timedOut instanceof TimeoutError);
    assert.equal(timedOut.requestId, sent.at(-1), "the last try's id");
    const dropped = await client.cases.get("dropped").catch((e) => e);
    assert.ok(dropped instanceof TransportError);
    assert.equal(dropped.requestId, sent.at(-1));
    const garbled = await client.cases.get("garbled").catch((e) => e);
    assert.ok(garbled instanceof UnexpectedResponseError);
    assert.equal(garbled.requestId, "server-chosen-id");
  } finally {
    await fake.close();
  }
});

test("instrument: each try of each call, token requests too, with method, route template, status, duration and request id", async () => {
  const requests = [];
  const responses = [];
  const client = new Client({
    baseUrl: server.url,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    instrument: {
      onRequest(r) {
        requests.push(r);
        r.setHeader("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        return { started: r.requestId };
      },
      onResponse(r, context) {
        responses.push({ ...r, context });
      },
    },
  });
  const made = await client.cases.create({ title: "instrumented" });
  await client.cases.get(made.id);
  await client.cases.get("00000000-0000-0000-0000-000000000000").catch(() => {});
  assert.deepEqual(
    responses.map((r) => `${r.kind} ${r.method} ${r.urlTemplate} ${r.status}`),
    [
      "token POST /oauth2/token 200",
      "api POST /api/v1/engage/cases 201",
      "api GET /api/v1/engage/cases/{id} 200",
      "api GET /api/v1/engage/cases/{id} 404",
    ],
  );
  for (const [i, r] of responses.entries()) {
    assert.equal(r.context.started, requests[i].requestId, "onRequest's value reaches onResponse");
    assert.equal(r.requestId, requests[i].requestId, "the server answered with the id sent");
    assert.ok(r.durationMs >= 0 && r.durationMs < 10_000);
    assert.equal(r.attempt, 0);
    assert.equal(r.replayed, false);
    assert.equal(r.error, undefined);
  }
  assert.match(responses[1].idempotencyKey, /^[0-9a-f-]{36}$/);
  assert.equal(responses[2].idempotencyKey, undefined);
  assert.equal(responses[2].url, `${server.url}/api/v1/engage/cases/${made.id}`);
  for (const r of requests) {
    assert.ok(!JSON.stringify(r).includes(app.clientSecret));
  }
});

test("instrument: a retried try is its own event; a failed one says why; a hook that throws fails nothing; own headers are refused", async () => {
  let n = 0;
  const traceparents = [];
  const fake = await scripted((req) => {
    traceparents.push(req.headers.traceparent);
    if (req.url === "/oauth2/token") return { status: 200, body: JSON.stringify({ access_token: "t", token_type: "Bearer", expires_in: 3600 }) };
    return n++ === 0 ? null : { status: 200, body: JSON.stringify({ client_id: "cb_1" }) };
  });
  try {
    const events = [];
    const refused = [];
    const client = new Client({
      baseUrl: fake.url,
      clientId: "cb_1",
      clientSecret: "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0a0xjF3P",
      timeoutMs: 200,
      retry: { initialBackoffMs: 5 },
      instrument: {
        onRequest(r) {
          try {
            r.setHeader("Authorization", "Bearer stolen");
          } catch (e) {
            refused.push(e);
          }
          r.setHeader("traceparent", `00-${"1".repeat(32)}-${String(r.attempt).padStart(16, "0")}-01`);
          throw new Error("a broken hook");
        },
        onResponse(r) {
          events.push(r);
          throw new Error("another broken hook");
        },
      },
    });
    assert.equal((await client.me()).client_id, "cb_1");
    assert.deepEqual(
      events.map((e) => [e.kind, e.attempt, e.status, e.error?.kind]),
      [
        ["token", 0, 200, undefined],
        ["api", 0, undefined, "timeout"],
        ["api", 1, 200, undefined],
      ],
    );
    assert.equal(events[1].requestId, events[1].error.requestId);
    assert.ok(refused.every((e) => e instanceof ConfigError) && refused.length === 3);
    assert.deepEqual(traceparents.slice(1), [`00-${"1".repeat(32)}-0000000000000000-01`, `00-${"1".repeat(32)}-0000000000000001-01`]);
  } finally {
    await fake.close();
  }
});
