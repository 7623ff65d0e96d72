// Idempotency-Key against the real server: every POST of the SDK carries
// one, the same on every try of a call; a POST whose answer was lost is sent
// again and the server answers it with its first answer
// (Idempotent-Replayed: true), so one call makes one record. A server
// without idempotency keys (before the feature) skips what needs them.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client, TimeoutError } from "@casebook/sdk";
import { adminSession, call, registerApplication, startServer } from "./harness.mjs";

let server;
let session;
let app;
/** Whether this server replays a repeated key: null until probed. */
let replays = null;

before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
  app = await registerApplication(server.url, session, ["engage-supervisor"]);
});
after(() => server?.stop());

async function appToken() {
  const r = await fetch(`${server.url}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: app.clientId, client_secret: app.clientSecret }),
  });
  return (await r.json()).access_token;
}

async function post(token, key, body) {
  const r = await fetch(`${server.url}/api/v1/engage/cases`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify(body),
  });
  return { status: r.status, replayed: r.headers.get("idempotent-replayed"), body: await r.json().catch(() => null) };
}

/** Probes the server once: the same key and body twice. */
async function serverReplays() {
  if (replays === null) {
    const token = await appToken();
    const key = `probe-${process.pid}-${Date.now()}`;
    const first = await post(token, key, { title: "idempotency probe" });
    const second = await post(token, key, { title: "idempotency probe" });
    replays = first.status === 201 && second.replayed === "true";
  }
  return replays;
}

const SKIP = "the server does not replay Idempotency-Key yet (no Idempotent-Replayed: true on a repeated key): skipped until it does";

async function casesTitled(token, title) {
  const page = await call(server.url, "GET", "/api/v1/engage/cases?limit=100", { token });
  let items = page.items;
  let cursor = page.next_cursor;
  while (cursor) {
    const next = await call(server.url, "GET", `/api/v1/engage/cases?limit=100&cursor=${cursor}`, { token });
    items = items.concat(next.items);
    cursor = next.next_cursor;
  }
  return items.filter((c) => c.title === title);
}

test("every POST the SDK sends carries an Idempotency-Key, its own per call; GET, PATCH, DELETE and token requests carry none", async () => {
  const seen = [];
  const recording = (input, init) => {
    const headers = new Headers(init?.headers);
    seen.push({ method: init?.method ?? "GET", path: new URL(input).pathname, key: headers.get("idempotency-key") });
    return fetch(input, init);
  };
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret, fetch: recording });
  const one = await client.cases.create({ title: "keyed one" });
  await client.cases.create({ title: "keyed two" });
  await client.cases.get(one.id);
  await client.cases.change(one.id, { title: "keyed one, changed" });
  const posts = seen.filter((r) => r.method === "POST" && r.path.startsWith("/api/"));
  assert.equal(posts.length, 2);
  for (const p of posts) assert.match(p.key, /^[0-9a-f-]{36}$/);
  assert.notEqual(posts[0].key, posts[1].key);
  for (const r of seen.filter((r) => !(r.method === "POST" && r.path.startsWith("/api/")))) {
    assert.equal(r.key, null, `${r.method} ${r.path}`);
  }
});

test("a POST whose answer was lost is sent again with its key, and the server's first answer is the call's: one record", async (t) => {
  if (!(await serverReplays())) return t.skip(SKIP);
  const title = `lost answer ${process.pid}`;
  const keys = [];
  let lost = 0;
  const losing = async (input, init) => {
    const path = new URL(input).pathname;
    const response = await fetch(input, init);
    if (init?.method === "POST" && path === "/api/v1/engage/cases") {
      keys.push({ key: new Headers(init.headers).get("idempotency-key"), replayed: response.headers.get("idempotent-replayed") });
      if (lost++ === 0) {
        // The server acted; its answer never reached the client.
        await response.arrayBuffer();
        throw new DOMException("the answer was lost", "TimeoutError");
      }
    }
    return response;
  };
  const client = new Client({
    baseUrl: server.url,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    fetch: losing,
    retry: { initialBackoffMs: 10 },
  });
  const made = await client.cases.create({ title });
  assert.equal(keys.length, 2, "sent again after the lost answer");
  assert.equal(keys[1].key, keys[0].key, "with the same key");
  assert.equal(keys[1].replayed, "true", "answered from the server's store");
  const token = await appToken();
  const found = await casesTitled(token, title);
  assert.deepEqual(found.map((c) => c.id), [made.id], "one record for one call");
});

test("the server's rules for keys hold as the SDK relies on them: another body is 422, a key per account", async (t) => {
  if (!(await serverReplays())) return t.skip(SKIP);
  const token = await appToken();
  const key = `rules-${process.pid}`;
  const first = await post(token, key, { title: "first body" });
  assert.equal(first.status, 201);
  const again = await post(token, key, { title: "first body" });
  assert.equal(again.replayed, "true");
  assert.equal(again.body.id, first.body.id);
  const other = await post(token, key, { title: "another body" });
  assert.equal(other.status, 422);
  // Another application's same key is its own.
  const stranger = await registerApplication(server.url, session, ["engage-supervisor"]);
  const strangerToken = (
    await (
      await fetch(`${server.url}/oauth2/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: stranger.clientId, client_secret: stranger.clientSecret }),
      })
    ).json()
  ).access_token;
  const theirs = await post(strangerToken, key, { title: "first body" });
  assert.equal(theirs.status, 201);
  assert.notEqual(theirs.body.id, first.body.id);
});

test("a POST as an application that timed out goes again with its key; a sign-in (no account to key it to) does not", async () => {
  // What the SDK does does not depend on the server: the key goes with
  // every try. This records it against the real server whatever its version.
  const keys = [];
  let first = true;
  const slow = async (input, init) => {
    if (init?.method === "POST" && new URL(input).pathname === "/api/v1/engage/cases") {
      keys.push(new Headers(init.headers).get("idempotency-key"));
      if (first) {
        first = false;
        throw new DOMException("timed out", "TimeoutError");
      }
    }
    return fetch(input, init);
  };
  const client = new Client({
    baseUrl: server.url,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    fetch: slow,
    retry: { initialBackoffMs: 10 },
  });
  await client.cases.create({ title: "sent again" });
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1]);
  let signIns = 0;
  const lost = () => {
    signIns += 1;
    return Promise.reject(new DOMException("timed out", "TimeoutError"));
  };
  const unkeyed = new Client({ baseUrl: server.url, anonymous: true, fetch: lost, retry: { initialBackoffMs: 10 } });
  await assert.rejects(unkeyed.signIn("nobody@agency.example.org", "x"), TimeoutError);
  assert.equal(signIns, 1);
});
