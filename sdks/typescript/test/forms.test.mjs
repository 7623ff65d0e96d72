// Forms checked offline by the table of the server's rules
// (sdks/fixtures/form-rules.json), held to the server: every case of
// sdks/fixtures/form-cases.json gives the same errors, in the same order
// and words, offline and from the real server; and so do random forms.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { ApiError, Client, ValidationError, formErrors } from "@casebook/sdk";
import { adminSession, call, registerApplication, startServer } from "./harness.mjs";

const fixture = JSON.parse(readFileSync(new URL("../../fixtures/form-cases.json", import.meta.url), "utf8"));

test("every case of the shared fixture: the offline check finds the server's errors", () => {
  assert.ok(fixture.cases.length > 50, "the fixture was read whole");
  for (const c of fixture.cases) {
    assert.deepEqual(formErrors(c.form, c.body), c.errors, `${c.form}: ${c.note}`);
  }
});

test("the table's forms have the fields, kinds and required fields of the OpenAPI document the server generates", () => {
  const rules = JSON.parse(readFileSync(new URL("../../fixtures/form-rules.json", import.meta.url), "utf8"));
  const openapi = JSON.parse(readFileSync(new URL("../../../openapi/openapi.json", import.meta.url), "utf8"));
  const resolved = (schema) => (schema.$ref ? openapi.components.schemas[schema.$ref.split("/").at(-1)] : schema);
  const types = (given) => {
    const schema = resolved(given);
    if (schema.oneOf) return schema.oneOf.flatMap(types);
    const t = schema.type;
    return (Array.isArray(t) ? t : [t]).filter((x) => x !== "null");
  };
  const kindOf = (schema) => {
    const [type] = types(schema);
    if (type === "array") return types(schema.items ?? {}).join() === "string" ? "text_list" : "array";
    return { string: "text", boolean: "boolean", integer: "integer", object: "object" }[type] ?? type;
  };
  for (const [name, { fields }] of Object.entries(rules.forms)) {
    const schema = openapi.components.schemas[name];
    assert.ok(schema, `${name} is in openapi/openapi.json`);
    assert.deepEqual(fields.map((f) => f.name).sort(), Object.keys(schema.properties).sort(), `${name}: its fields`);
    assert.deepEqual(
      fields.filter((f) => f.presence === "required").map((f) => f.name).sort(),
      [...(schema.required ?? [])].sort(),
      `${name}: its required fields`,
    );
    for (const field of fields) {
      const kind = typeof field.kind === "object" ? "text" : field.kind;
      assert.equal(kindOf(schema.properties[field.name]), kind, `${name}.${field.name}`);
    }
  }
});

test("a client refuses such a form before sending, with the same errors; checkForms: false sends it", async () => {
  let calls = 0;
  const counting = (...args) => {
    calls += 1;
    return fetch(...args);
  };
  const client = new Client({ baseUrl: "http://127.0.0.1:9", anonymous: true, fetch: counting });
  await assert.rejects(client.cases.create({ title: "", status: "pending" }), (e) => {
    assert.ok(e instanceof ValidationError);
    assert.deepEqual(e.fieldErrors.map((f) => `${f.field}:${f.code}`), ["title:required", "status:invalid_value"]);
    assert.equal(e.transient, false);
    return true;
  });
  await assert.rejects(client.admin.roles.change("r-1", { name: 5 }), ValidationError);
  await assert.rejects(client.admin.applications.register({ name: "x", email: "x@y.example" }), ValidationError);
  assert.equal(calls, 0, "nothing was sent");
  const unchecked = new Client({ baseUrl: "http://127.0.0.1:9", anonymous: true, fetch: counting, checkForms: false, retry: { maxRetries: 0 } });
  await unchecked.cases.create({ title: "" }).catch(() => {});
  assert.equal(calls, 1);
});

let server;
let session;
let app;
const ids = {};
before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
  app = await registerApplication(server.url, session, ["engage-supervisor", "intake-screener"]);
  const token = await appToken();
  ids.CaseChange = (await call(server.url, "POST", "/api/v1/engage/cases", { token, body: { title: "to change" } })).id;
  ids.ReportChange = (await call(server.url, "POST", "/api/v1/intake/reports", { token, body: { summary: "to change" } })).id;
  ids.RoleChange = (await call(server.url, "POST", "/admin/v1/roles", { token: session, body: { name: "Forms role", permissions: ["engage:view"] } })).id;
  ids.UserChange = (
    await call(server.url, "POST", "/admin/v1/users", {
      token: session,
      body: { email: "forms-user@agency.example.org", name: "Forms user", password: "a long and unusual passphrase 7", roles: [] },
    })
  ).id;
  ids.ApplicationChange = app.id;
  ids.FederatedCredentialForm = app.id;
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

/** Where each form goes, and as whom. */
const ROUTES = {
  CaseForm: ["POST", () => "/api/v1/engage/cases", "app"],
  CaseChange: ["PATCH", (id) => `/api/v1/engage/cases/${id}`, "app"],
  ReportForm: ["POST", () => "/api/v1/intake/reports", "app"],
  ReportChange: ["PATCH", (id) => `/api/v1/intake/reports/${id}`, "app"],
  RoleForm: ["POST", () => "/admin/v1/roles", "admin"],
  RoleChange: ["PATCH", (id) => `/admin/v1/roles/${id}`, "admin"],
  UserForm: ["POST", () => "/admin/v1/users", "admin"],
  UserChange: ["PATCH", (id) => `/admin/v1/users/${id}`, "admin"],
  ApplicationForm: ["POST", () => "/admin/v1/external-applications", "admin"],
  ApplicationChange: ["PATCH", (id) => `/admin/v1/external-applications/${id}`, "admin"],
  FederatedCredentialForm: ["POST", (id) => `/admin/v1/external-applications/${id}/federated-credentials`, "admin"],
};

/**
 * The server's field errors for `body` as `form` (empty when it took it),
 * as plain fetch sends it; `"400"` for a body it refused before reading the
 * form (a NUL anywhere).
 */
async function serverErrors(form, body, token) {
  const [method, path, as] = ROUTES[form];
  const r = await fetch(`${server.url}${path(ids[form])}`, {
    method,
    headers: { authorization: `Bearer ${as === "admin" ? session : token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status === 400 && /NUL/.test(text)) return "400";
  if (r.status === 422) return JSON.parse(text).errors.map(({ field, code, message }) => ({ field, code, message }));
  assert.ok(r.status >= 200 && r.status < 300, `${form} ${JSON.stringify(body).slice(0, 200)}: HTTP ${r.status} ${text.slice(0, 300)}`);
  return [];
}

test("every case of the shared fixture: the real server answers the errors the fixture lists", async () => {
  const token = await appToken();
  for (const c of fixture.cases) {
    assert.deepEqual(await serverErrors(c.form, c.body, token), c.errors, `${c.form}: ${c.note}`);
  }
});

test("the client's ValidationError carries what the server's 422 would: the same errors in the same words", async () => {
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret });
  const unchecked = new Client({ baseUrl: server.url, tokenSource: client.tokenSource, checkForms: false });
  const form = { title: "x".repeat(250), description: "tab\tand bell\u0007", status: "done", extra: 1 };
  const offline = await client.cases.create(form).catch((e) => e);
  const online = await unchecked.cases.create(form).catch((e) => e);
  assert.ok(offline instanceof ValidationError);
  assert.ok(online instanceof ApiError && online.status === 422);
  assert.deepEqual(offline.fieldErrors, online.fieldErrors.map(({ field, code, message }) => ({ field, code, message })));
});

/** A small seeded generator, so a failure names a case that can be run again. */
function generator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Characters where the rules' edges are: whitespace JavaScript and Rust
// disagree on, control characters, astral characters.
const ALPHABET = ["a", "Z", "é", " ", "\t", "\n", "\r", "\u0000", "\u0007", "\u001f", "\u007f", "\u0085", "\u00a0", "\u2028", "\u3000", "\ufeff", "\u200b", "😀", "𝄞"];

function randomText(next, around) {
  const length = Math.max(0, Math.round(around + (next() - 0.5) * 8));
  let text = "";
  for (let i = 0; i < length; i++) {
    // Mostly plain letters, so that lengths near the limit come up.
    text += next() < 0.85 ? "a" : ALPHABET[Math.floor(next() * ALPHABET.length)];
  }
  return text;
}

test("random case and report forms: offline and the server agree on every one", async () => {
  const token = await appToken();
  const seed = Number(process.env.FORMS_SEED ?? Date.now() % 100_000);
  const next = generator(seed);
  for (let i = 0; i < 120; i++) {
    const form = i % 2 === 0 ? "CaseForm" : "ReportChange";
    const body =
      form === "CaseForm"
        ? { title: randomText(next, [0, 3, 199, 201][i % 4]), ...(next() < 0.5 ? { description: randomText(next, 6) } : {}) }
        : { summary: randomText(next, [1, 200][i % 2]), details: next() < 0.3 ? null : randomText(next, 4) };
    const offline = formErrors(form, body);
    const online = await serverErrors(form, body, token);
    const what = `seed ${seed}, case ${i}: ${form} ${JSON.stringify(body)}`;
    if (JSON.stringify(body).includes("\\u0000")) {
      // Refused before any form is read; offline, a control character of its field.
      assert.equal(online, "400", what);
      assert.ok(offline.length > 0, what);
    } else {
      assert.deepEqual(offline, online, what);
    }
  }
});

// Where the address rule's edges are: Unicode letters and digits of every
// kind (Nd, Nl, No), a combining mark (no letter), symbols allowed and not,
// dots, hyphens, a second @, whitespace at the ends.
const ADDRESS = ["a", "Z", "7", "é", "ß", "٣", "Ⅻ", "²", "\u0301", ".", ".", "-", "-", "+", "_", "'", "(", "@", " ", "\u3000", "😀"];

function randomAddress(next) {
  const part = (around) => {
    let text = "";
    const length = Math.max(0, Math.round(around + (next() - 0.5) * 4));
    for (let i = 0; i < length; i++) text += next() < 0.6 ? "a" : ADDRESS[Math.floor(next() * ADDRESS.length)];
    return text;
  };
  return `${part(3)}@${part(3)}${next() < 0.7 ? "." : ""}${part(3)}`;
}

test("random addresses: offline and the server agree on every one", async () => {
  const token = await appToken();
  const seed = Number(process.env.FORMS_SEED ?? Date.now() % 100_000);
  const next = generator(seed);
  for (let i = 0; i < 120; i++) {
    const body = { email: randomAddress(next) };
    const offline = formErrors("UserChange", body);
    const online = await serverErrors("UserChange", body, token);
    assert.deepEqual(offline, online, `seed ${seed}, case ${i}: ${JSON.stringify(body)}`);
  }
});
