// The offline client secret check, against fixed vectors (checksums worked
// out with zlib's CRC32, an implementation apart from this package's) and
// against secrets the real server issues.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import { Client, ClientSecret, MistypedSecretError, secretShape } from "@casebook/sdk";
import { ADMIN_PASSWORD, adminSession, registerApplication, startServer, tokensIssued } from "./harness.mjs";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

test("fixed vectors of the scannable format", () => {
  for (const secret of [
    "cbs_000000000000000000000000000000000000000000003aFbtG",
    "cbs_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz4T434m",
    "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0a0xjF3P",
  ]) {
    assert.equal(secretShape(secret), "scannable", secret);
    // The same body with the checksum of another.
    assert.equal(secretShape(`${secret.slice(0, 48)}3aFbtH`), "mistyped", secret);
  }
});

test("the vectors shared with the Rust domain's tests read as their shape", () => {
  const fixture = JSON.parse(readFileSync(new URL("../../fixtures/secret-format.json", import.meta.url), "utf8"));
  assert.ok(fixture.secrets.length > 20, "the fixture was read whole");
  for (const { secret, shape } of fixture.secrets) {
    assert.equal(secretShape(secret), shape, JSON.stringify(secret));
  }
});

test("the older format is told apart from typos", () => {
  const legacy = `cbs_${Buffer.alloc(32, 7).toString("base64url")}`;
  assert.equal(legacy.length, 47);
  assert.equal(secretShape(legacy), "legacy");
  // Non-zero unused bits in the last character: never an encoding of 32 bytes.
  assert.equal(secretShape(`${legacy.slice(0, -1)}d`), "mistyped");
  for (const bad of ["", "cbs_", "cbs_short", "cb_x", legacy.slice(0, -1), `${legacy}A`, ` ${legacy}`, `${legacy}\n`]) {
    assert.equal(secretShape(bad), "mistyped", JSON.stringify(bad));
  }
});

test("whitespace around a secret is no part of it: trimmed, then read as its shape", () => {
  const value = "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0a0xjF3P";
  for (const padded of [`${value}\n`, `${value}\r\n`, ` ${value}`, `\t${value} \n`, `\ufeff${value}`]) {
    // The raw text is not a secret's shape; the secret made of it is.
    assert.equal(secretShape(padded), "mistyped");
    const secret = new ClientSecret(padded);
    assert.equal(secret.expose(), value);
    assert.equal(secret.shape, "scannable");
  }
  // Inside, a space is still a typo.
  assert.equal(new ClientSecret(`${value.slice(0, 20)} ${value.slice(21)}`).shape, "mistyped");
});

test("a secret never shows in strings, JSON or inspect", () => {
  const value = "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0a0xjF3P";
  const secret = new ClientSecret(value);
  for (const shown of [String(secret), `${secret}`, JSON.stringify({ secret }), inspect(secret), inspect({ nested: { secret } })]) {
    assert.ok(!shown.includes(value), shown);
    assert.ok(shown.includes("[redacted]"), shown);
  }
  assert.equal(secret.expose(), value);
});

let server;
let session;
before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
});
after(() => server?.stop());

test("every secret the server issues passes, and every one-character change of it fails", async () => {
  const secrets = [];
  for (let i = 0; i < 4; i++) secrets.push((await registerApplication(server.url, session, ["engage-worker"])).clientSecret);
  const rotated = await fetch(`${server.url}/admin/v1/external-applications`, {
    headers: { authorization: `Bearer ${session}` },
  }).then((r) => r.json());
  const id = rotated.items[0].id;
  const r = await fetch(`${server.url}/admin/v1/external-applications/${id}/client-secret/rotate`, {
    method: "POST",
    headers: { authorization: `Bearer ${session}`, "content-type": "application/json" },
    body: JSON.stringify({ password: ADMIN_PASSWORD }),
  });
  assert.equal(r.status, 200);
  secrets.push((await r.json()).client_secret);
  for (const secret of secrets) {
    assert.match(secret, /^cbs_[0-9A-Za-z]{50}$/);
    assert.equal(secretShape(secret), "scannable");
  }
  const secret = secrets[0];
  for (let at = 4; at < secret.length; at++) {
    for (const c of ALPHABET) {
      if (c === secret[at]) continue;
      const typo = secret.slice(0, at) + c + secret.slice(at + 1);
      assert.equal(secretShape(typo), "mistyped", `position ${at}`);
    }
  }
});

test("a mistyped secret is refused before anything is sent", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const typo = app.clientSecret.slice(0, 20) + (app.clientSecret[20] === "x" ? "y" : "x") + app.clientSecret.slice(21);
  const issued = await tokensIssued(server.url);
  let calls = 0;
  const counting = (...args) => {
    calls += 1;
    return fetch(...args);
  };
  assert.throws(
    () => new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: typo, fetch: counting }),
    (error) => {
      assert.ok(error instanceof MistypedSecretError);
      assert.equal(error.transient, false);
      assert.ok(!`${error.message} ${inspect(error)}`.includes(typo));
      return true;
    },
  );
  // The correct secret works, and the typo cost no request.
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret, fetch: counting });
  assert.equal((await client.me()).client_id, app.clientId);
  assert.equal(calls, 2);
  assert.equal(await tokensIssued(server.url), issued + 1);
});
