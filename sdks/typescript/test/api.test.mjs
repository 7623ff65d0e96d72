// Typed calls against the real server: pagination as async iterators, the
// admin API as a signed-in person, and the error taxonomy.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import { ApiError, Client, ClientSecret, ConfigError, TokenSource, ValidationError } from "@casebook/sdk";
import { ADMIN_EMAIL, ADMIN_PASSWORD, adminSession, registerApplication, startServer } from "./harness.mjs";

let server;
let session;
let admin;
before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
  admin = await new Client({ baseUrl: server.url, anonymous: true }).signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
});
after(async () => {
  await admin?.signOut();
  await server?.stop();
});

async function application(roles) {
  const app = await registerApplication(server.url, session, roles);
  return new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
}

test("me says who the application is and what it may do", async () => {
  const client = await application(["engage-supervisor"]);
  const me = await client.me();
  assert.equal(me.kind, "application");
  assert.deepEqual(me.permissions, ["engage:view", "engage:create", "engage:edit"]);
});

test("cases page by page, item by item, and all at once", async () => {
  const client = await application(["engage-supervisor"]);
  const made = [];
  for (let i = 0; i < 7; i++) made.push(await client.cases.create({ title: `Referral ${i}` }));
  const sizes = [];
  for await (const page of client.cases.list({ limit: 3 }).pages()) sizes.push(page.items.length);
  assert.deepEqual(sizes, [3, 3, 1]);
  const titles = [];
  for await (const c of client.cases.list({ limit: 2 })) titles.push(c.title);
  assert.deepEqual(titles, made.map((c) => c.title));
  assert.equal((await client.cases.list().all()).length, 7);
  // A page, then the rest from its cursor.
  const first = await client.cases.list({ limit: 5 }).send();
  assert.equal(first.items.length, 5);
  const rest = await client.cases.list({ limit: 5, cursor: first.next_cursor }).all();
  assert.deepEqual(rest.map((c) => c.id), made.slice(5).map((c) => c.id));

  const changed = await client.cases.change(made[0].id, { status: "closed" });
  assert.equal(changed.status, "closed");
  assert.equal((await client.cases.get(made[0].id)).status, "closed");
});

test("list parameters are checked before sending", async () => {
  let calls = 0;
  const client = new Client({
    baseUrl: server.url,
    anonymous: true,
    fetch: (...args) => {
      calls += 1;
      return fetch(...args);
    },
  });
  for (const params of [{ limit: 0 }, { limit: 101 }, { limit: 2.5 }, { cursor: "not a cursor" }]) {
    await assert.rejects(client.cases.list(params).send(), (e) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.equal(e.fieldErrors[0].code, "invalid_value");
      return true;
    });
  }
  await assert.rejects(client.cases.get(".."), ValidationError);
  assert.equal(calls, 0);
});

test("a refused form lists every field with its stable code: offline as the server does (422)", async () => {
  const client = await application(["engage-supervisor"]);
  const offline = await client.cases.create({ title: "", status: "pending" }).catch((e) => e);
  assert.ok(offline instanceof ValidationError, String(offline));
  assert.equal(offline.requestId, undefined, "nothing was sent");
  const unchecked = new Client({
    baseUrl: server.url,
    tokenSource: client.tokenSource,
    checkForms: false,
  });
  await assert.rejects(unchecked.cases.create({ title: "", status: "pending" }), (e) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 422);
    assert.equal(e.title, "Unprocessable Entity");
    const fields = Object.fromEntries(e.errors.map((f) => [f.field, f.code]));
    assert.equal(fields.title, "required");
    assert.equal(fields.status, "invalid_value");
    assert.deepEqual(e.fieldErrors, e.errors);
    assert.equal(e.transient, false);
    // The same errors, in the same words, as the offline check found.
    assert.deepEqual(e.errors, offline.errors);
    return true;
  });
});

test("a permission the roles lack is 403, an unknown id 404", async () => {
  const client = await application(["engage-supervisor"]);
  const made = await client.cases.create({ title: "Stays" });
  await assert.rejects(client.cases.remove(made.id), (e) => e instanceof ApiError && e.status === 403);
  await assert.rejects(client.cases.get("00000000-0000-0000-0000-000000000000"), (e) => e instanceof ApiError && e.status === 404);
  await assert.rejects(client.reports.list().send(), (e) => e instanceof ApiError && e.status === 403);
});

test("a 403 for a permission the token lacks names the scope it needs, and keeps the problem's type", async () => {
  const app = await registerApplication(server.url, session, ["engage-supervisor"]);
  const narrow = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret, scope: "engage:view" });
  await narrow.cases.list().send();
  await assert.rejects(narrow.cases.create({ title: "Not with this token" }), (e) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 403);
    assert.equal(e.requiredScope, "engage:create");
    assert.equal(e.problemType, "about:blank");
    assert.deepEqual(e.missingPermissions, []);
    return true;
  });
  // A permission none of the roles grant is refused the same way.
  const wide = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
  const made = await wide.cases.create({ title: "Stays too" });
  await assert.rejects(wide.cases.remove(made.id), (e) => e instanceof ApiError && e.requiredScope === "engage:delete");
  // Other refusals name no scope.
  const missing = await wide.cases.get("00000000-0000-0000-0000-000000000000").catch((e) => e);
  assert.ok(missing instanceof ApiError);
  assert.equal(missing.status, 404);
  assert.equal(missing.requiredScope, undefined);
  assert.equal(missing.problemType, "about:blank");
});

test("granting what the caller does not hold names the missing permissions", async () => {
  const role = await admin.admin.roles.create({ name: "Registrar", permissions: ["admin:view", "admin:create"] });
  const registrar = await application([role.id]);
  await assert.rejects(
    registrar.admin.applications.register({ name: "Escalation", email: "escalation@partner.example.org", roles: ["engage-supervisor"] }),
    (e) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 403);
      assert.deepEqual([...e.missingPermissions].sort(), ["engage:create", "engage:edit", "engage:view"]);
      assert.equal(e.requiredScope, undefined, "the grant rule is not a scope the token lacks");
      return true;
    },
  );
});

test("the admin API as a signed-in person: applications listed by page, secrets revealed, rotated and listed", async () => {
  for (let i = 0; i < 3; i++) await registerApplication(server.url, session, ["engage-worker"]);
  const everyOne = await admin.admin.applications.list({ limit: 100 }).all();
  let paged = 0;
  let pages = 0;
  for await (const page of admin.admin.applications.list({ limit: 2 }).pages()) {
    pages += 1;
    paged += page.items.length;
  }
  assert.equal(paged, everyOne.length);
  assert.equal(pages, Math.ceil(everyOne.length / 2));
  const filtered = await admin.admin.applications.list({ name: everyOne[0].name }).all();
  assert.ok(filtered.some((a) => a.id === everyOne[0].id));

  const registered = await admin.admin.applications.register({
    name: "Partner Sync",
    email: "sync@partner.example.org",
    roles: ["engage-supervisor"],
  });
  const revealed = await admin.admin.applications.revealSecret(registered.id, ADMIN_PASSWORD);
  assert.ok(revealed.client_secret instanceof ClientSecret);
  assert.equal(revealed.client_secret.shape, "scannable");
  const value = revealed.client_secret.expose();
  for (const shown of [JSON.stringify(revealed), inspect(revealed), String(revealed.client_secret)]) {
    assert.ok(!shown.includes(value), shown);
  }
  const partner = new Client({ baseUrl: server.url, clientId: registered.client_id, clientSecret: revealed.client_secret });
  assert.equal((await partner.me()).name, "Partner Sync");

  const rotated = await admin.admin.applications.rotateSecret(registered.id, ADMIN_PASSWORD, 60);
  assert.notEqual(rotated.client_secret.expose(), value);
  assert.ok(rotated.previous_secret_valid_until);
  const added = await admin.admin.applications.addSecret(registered.id, ADMIN_PASSWORD, { label: "staging" });
  assert.equal(added.label, "staging");
  const secrets = await admin.admin.applications.listSecrets(registered.id);
  assert.ok(secrets.some((s) => s.id === added.id));
  assert.equal(
    (await admin.admin.applications.revealSecretById(registered.id, added.id, ADMIN_PASSWORD)).client_secret.expose(),
    added.client_secret.expose(),
  );
  await admin.admin.applications.endSecret(registered.id, added.id);

  await assert.rejects(admin.admin.applications.revealSecret(registered.id, "not my password"), (e) => e instanceof ApiError && e.status === 403);

  const events = await admin.admin.auditEvents({ limit: 5 }).send();
  assert.ok(events.items.length > 0);
  await admin.admin.applications.remove(registered.id);
  await assert.rejects(admin.admin.applications.get(registered.id), (e) => e instanceof ApiError && e.status === 404);
});

test("base URLs are checked", () => {
  for (const [baseUrl, ok] of [
    ["https://casebook.example.org", true],
    ["https://casebook.example.org/tenant/", true],
    ["http://127.0.0.1:8080", true],
    ["http://localhost:8080", true],
    ["http://[::1]:8080", true],
    ["http://casebook.example.org", false],
    ["ftp://casebook.example.org", false],
    ["casebook.example.org", false],
    ["https://user:pass@casebook.example.org", false],
    ["https://casebook.example.org/?x=1", false],
  ]) {
    if (ok) new Client({ baseUrl, anonymous: true });
    else assert.throws(() => new Client({ baseUrl, anonymous: true }), ConfigError, baseUrl);
  }
  new Client({ baseUrl: "http://casebook.internal", allowInsecureHttp: true, anonymous: true });
});

test("a token source built alone keeps the secret off plain http and out of URLs, as a client does", () => {
  const secret = "cbs_" + "a".repeat(44) + "00000000";
  const source = (tokenUrl, more = {}) =>
    new TokenSource({ tokenUrl, clientId: "cb_1", clientSecret: secret, checkSecretFormat: false, ...more });
  for (const [tokenUrl, ok] of [
    ["https://casebook.example.org/oauth2/token", true],
    ["http://127.0.0.1:8080/oauth2/token", true],
    ["http://casebook.example.org/oauth2/token", false],
    ["https://user:pass@casebook.example.org/oauth2/token", false],
    ["https://casebook.example.org/oauth2/token?client_secret=x", false],
    ["oauth2/token", false],
  ]) {
    if (ok) source(tokenUrl);
    else assert.throws(() => source(tokenUrl), (e) => e instanceof ConfigError && !e.message.includes(secret), tokenUrl);
  }
  source("http://casebook.internal/oauth2/token", { allowInsecureHttp: true });
  // A client sharing such a source cannot have been built around the rule either.
  assert.throws(() => new Client({ baseUrl: "https://casebook.example.org", tokenSource: source("http://casebook.example.org/oauth2/token") }), ConfigError);
});
