// The token source against the real server: single flight, refresh ahead
// of expiry in the background, one renewal on invalid_token, clients sharing
// one source, and permanent OAuth errors at once. Token requests are counted by the server's own /metrics.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import { ApiError, Client, ConfigError, OAuthError, RetryPolicy, TokenSource } from "@casebook/sdk";
import { adminSession, eventually, metric, registerApplication, revoke, startServer, tokensIssued } from "./harness.mjs";

let server;
let session;
before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
});
after(() => server?.stop());

const tokenRequests = (status) =>
  metric(server.url, "casebook_http_requests_total", { route: "/oauth2/token", status: String(status) });

function source(app, extra = {}) {
  return new TokenSource({
    tokenUrl: `${server.url}/oauth2/token`,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    ...extra,
  });
}

test("a thousand concurrent callers on a cold cache cause one token request", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const before = await tokensIssued(server.url);
  const tokens = source(app);
  const all = await Promise.all(Array.from({ length: 1000 }, () => tokens.token()));
  assert.equal(await tokensIssued(server.url), before + 1);
  assert.ok(all.every((t) => t === all[0]));
  assert.equal(all[0].scope, "engage:view engage:create");

  // And through the client, a thousand API calls at once.
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
  const answers = await Promise.all(Array.from({ length: 1000 }, () => client.me()));
  assert.ok(answers.every((me) => me.client_id === app.clientId));
  assert.equal(await tokensIssued(server.url), before + 2);
});

test("a token is refreshed two minutes ahead of expiry, and other callers keep the current one meanwhile", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  let now = 1_000_000;
  const tokens = source(app, { clock: () => now });
  const first = await tokens.token();
  const issued = await tokensIssued(server.url);

  now += 3600_000 - 121_000;
  assert.equal(await tokens.token(), first);
  assert.equal(await tokensIssued(server.url), issued);

  now += 2_000;
  // The caller that notices the window is handed the current token too: the
  // refresh runs in the background, and nobody waits for it.
  const noticing = await tokens.token();
  assert.equal(noticing, first, "the caller that starts the refresh does not wait for it");
  const meanwhile = await Promise.all(Array.from({ length: 100 }, () => tokens.token()));
  assert.ok(meanwhile.every((t) => t === first), "callers during the refresh do not wait for it");
  const second = await eventually(async () => {
    const t = await tokens.token();
    return t !== first && t;
  }, 5_000, "the background refresh");
  assert.notEqual(second.secret(), first.secret());
  assert.equal(await tokens.token(), second);
  assert.equal(await tokensIssued(server.url), issued + 1);

  // Past expiry, a crowd shares one request again.
  now += 3600_000;
  const crowd = await Promise.all(Array.from({ length: 200 }, () => tokens.token()));
  assert.ok(crowd.every((t) => t === crowd[0] && t !== second));
  assert.equal(await tokensIssued(server.url), issued + 2);
});

test("clients built on one token source share one token and one refresh", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  let now = 1_000_000;
  const tokens = source(app, { clock: () => now });
  const reader = new Client({ baseUrl: server.url, tokenSource: tokens });
  const writer = new Client({ baseUrl: server.url, tokenSource: tokens, retry: RetryPolicy.none() });
  assert.equal(reader.tokenSource, tokens);
  assert.equal(writer.tokenSource, tokens);
  const both = (n) => Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? reader : writer).me()));

  const issued = await tokensIssued(server.url);
  const answers = await both(200);
  assert.ok(answers.every((me) => me.client_id === app.clientId));
  assert.equal(await tokensIssued(server.url), issued + 1, "one token request between the two clients");
  const first = await tokens.token();

  // In the refresh window, calls through either client start one refresh.
  now += 3600_000 - 119_000;
  await both(100);
  const second = await eventually(async () => {
    const t = await tokens.token();
    return t !== first && t;
  }, 5_000, "the background refresh");
  await both(100);
  assert.equal(await tokensIssued(server.url), issued + 2, "one refresh between the two clients");

  // A token one client finds refused is renewed for the other too.
  await revoke(server.url, app, second.secret());
  assert.equal((await writer.me()).client_id, app.clientId);
  assert.equal((await reader.me()).client_id, app.clientId);
  assert.equal(await tokensIssued(server.url), issued + 3);
});

test("a token source does not go with credentials or token settings of the client's own", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const tokens = source(app);
  for (const extra of [
    { clientId: app.clientId },
    { clientSecret: app.clientSecret },
    { clientId: app.clientId, clientSecret: app.clientSecret },
    { scope: "engage:view" },
    { authMethod: "client_secret_post" },
    { refreshAheadMs: 1_000 },
  ]) {
    assert.throws(
      () => new Client({ baseUrl: server.url, tokenSource: tokens, ...extra }),
      (error) => {
        assert.ok(error instanceof ConfigError, inspect(error));
        for (const name of Object.keys(extra)) assert.ok(error.message.includes(name), error.message);
        assert.ok(!inspect(error).includes(app.clientSecret));
        return true;
      },
    );
  }
  assert.throws(() => new Client({ baseUrl: server.url, tokenSource: { token: async () => ({}) } }), ConfigError);
  const client = new Client({ baseUrl: server.url, tokenSource: tokens });
  for (const shown of [String(client), JSON.stringify(client), inspect(client)]) {
    assert.ok(!shown.includes(app.clientSecret), shown);
  }
});

test("a refused token (invalid_token) is renewed once and the call retried", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
  await client.me();
  const first = await client.tokenSource.token();
  await revoke(server.url, app, first.secret());
  const issued = await tokensIssued(server.url);
  const me = await client.me();
  assert.equal(me.client_id, app.clientId);
  assert.equal(await tokensIssued(server.url), issued + 1);
  assert.notEqual((await client.tokenSource.token()).secret(), first.secret());
});

test("an application switched off is refused at once, without retries", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
  await client.me();
  const r = await fetch(`${server.url}/admin/v1/external-applications/${app.id}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${session}`, "content-type": "application/json" },
    body: JSON.stringify({ enabled: false }),
  });
  assert.equal(r.status, 200);
  const refusals = await tokenRequests(401);
  await assert.rejects(client.me(), (error) => {
    assert.ok(error instanceof OAuthError, inspect(error));
    assert.equal(error.code, "invalid_client");
    assert.equal(error.status, 401);
    assert.equal(error.transient, false);
    return true;
  });
  // One renewal attempt, no retries of the refusal.
  assert.equal(await tokenRequests(401), refusals + 1);
});

test("wrong credentials: one request for a crowd, the refusal remembered for a while, never retried", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const other = await registerApplication(server.url, session, ["engage-worker"]);
  // A well-formed secret, but another application's.
  const tokens = source({ clientId: app.clientId, clientSecret: other.clientSecret });
  const refusals = await tokenRequests(401);
  const outcomes = await Promise.allSettled(Array.from({ length: 1000 }, () => tokens.token()));
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    assert.ok(outcome.reason instanceof OAuthError);
    assert.equal(outcome.reason.code, "invalid_client");
    assert.ok(!inspect(outcome.reason).includes(other.clientSecret));
  }
  assert.equal(await tokenRequests(401), refusals + 1);
  // Soon after, the same answer without asking again.
  await assert.rejects(tokens.token(), OAuthError);
  assert.equal(await tokenRequests(401), refusals + 1);
});

test("a scope the roles do not grant is invalid_scope, at once", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const requests = await tokenRequests(400);
  await assert.rejects(source(app, { scope: "engage:delete" }).token(), (error) => {
    assert.ok(error instanceof OAuthError);
    assert.equal(error.code, "invalid_scope");
    assert.equal(error.transient, false);
    return true;
  });
  assert.equal(await tokenRequests(400), requests + 1);
  // A narrower scope than the roles grant works, with either client authentication.
  for (const authMethod of ["client_secret_basic", "client_secret_post"]) {
    const token = await source(app, { scope: "engage:view", authMethod }).token();
    assert.equal(token.scope, "engage:view");
  }
});

test("a token never shows in strings, JSON or inspect", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
  await client.me();
  const token = await client.tokenSource.token();
  for (const shown of [
    String(token),
    JSON.stringify(token),
    inspect(token),
    String(client),
    JSON.stringify(client),
    inspect(client),
    inspect(client.tokenSource),
    JSON.stringify(client.tokenSource),
  ]) {
    assert.ok(!shown.includes(token.secret()), shown);
    assert.ok(!shown.includes(app.clientSecret), shown);
  }
  assert.ok(inspect(token).includes("[redacted]"));
  // An API error says what went wrong, and carries no credential either.
  const error = await client.cases.remove("no-such-case").catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.ok(!inspect(error).includes(token.secret()));
});
