// @casebook/sdk/testing: the fake credentials pass the SDK's checks (and
// the real server's format), and the token server issues tokens as
// Casebook's token endpoint does, for each way a client proves itself.

import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { after, before, test } from "node:test";
import { Client, OAuthError, PrivateKey, TokenSource, secretShape } from "@casebook/sdk";
import { fakeClientId, fakeClientSecret, startTokenServer } from "@casebook/sdk/testing";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

test("fakeClientSecret is a scannable secret: its checksum holds by zlib's CRC32 too, and each is new", () => {
  const seen = new Set();
  for (let i = 0; i < 1000; i++) {
    const secret = fakeClientSecret();
    assert.match(secret, /^cbs_[0-9A-Za-z]{50}$/);
    assert.equal(secretShape(secret), "scannable");
    // Worked out apart from the SDK: the CRC32 of the first 48 characters in 6 base-62 digits.
    let crc = crc32(secret.slice(0, 48));
    let digits = "";
    for (let d = 0; d < 6; d++) {
      digits = ALPHABET[crc % 62] + digits;
      crc = Math.floor(crc / 62);
    }
    assert.equal(secret.slice(48), digits);
    seen.add(secret);
  }
  assert.equal(seen.size, 1000);
  assert.match(fakeClientId(), /^cb_[0-9a-f]{32}$/);
});

let server;
let key;
before(async () => {
  key = await PrivateKey.generate("ES256", "fake-key");
  server = await startTokenServer({
    clients: [
      { clientId: fakeClientId(), clientSecret: fakeClientSecret(), scope: "engage:view engage:create", name: "Partner Sync" },
      { clientId: "cb_keyed", publicJwk: key.publicJwk() },
    ],
  });
});
after(() => server?.close());

test("a client against the token server: a token, /api/v1/me, and a record of each token request", async () => {
  for (const authMethod of ["client_secret_basic", "client_secret_post"]) {
    const client = new Client({ baseUrl: server.url, clientId: server.clientId, clientSecret: server.clientSecret, authMethod });
    const me = await client.me();
    assert.deepEqual(me, { kind: "application", id: server.clientId, client_id: server.clientId, name: "Partner Sync", permissions: ["engage:view", "engage:create"] });
    assert.deepEqual(server.tokenRequests.at(-1), { clientId: server.clientId, authMethod, scope: undefined, status: 200, error: undefined });
  }
  assert.equal(server.issued, 2);
  const narrow = await new TokenSource({ tokenUrl: server.tokenUrl, clientId: server.clientId, clientSecret: server.clientSecret, scope: "engage:view" }).token();
  assert.equal(narrow.scope, "engage:view");
  assert.deepEqual(server.verify(`Bearer ${narrow.secret()}`), { clientId: server.clientId, scope: "engage:view", token: narrow.secret() });
  assert.equal(server.verify("Bearer nonsense"), undefined);
});

test("private_key_jwt against the token server; a wrong secret, a scope too wide and refusals on demand", async () => {
  const keyed = new Client({ baseUrl: server.url, clientId: "cb_keyed", privateKey: key });
  assert.equal((await keyed.me()).client_id, "cb_keyed");
  assert.equal(server.tokenRequests.at(-1).authMethod, "private_key_jwt");
  const intruder = new Client({ baseUrl: server.url, clientId: "cb_keyed", privateKey: await PrivateKey.generate("ES256", "fake-key") });
  await assert.rejects(intruder.me(), (e) => e instanceof OAuthError && e.code === "invalid_client");

  const wrong = new TokenSource({ tokenUrl: server.tokenUrl, clientId: server.clientId, clientSecret: fakeClientSecret() });
  await assert.rejects(wrong.token(), (e) => e instanceof OAuthError && e.code === "invalid_client" && e.requestId !== undefined);
  const wide = new TokenSource({ tokenUrl: server.tokenUrl, clientId: server.clientId, clientSecret: server.clientSecret, scope: "admin:delete" });
  await assert.rejects(wide.token(), (e) => e instanceof OAuthError && e.code === "invalid_scope");

  server.refuseNext(2, { status: 503, error: "temporarily_unavailable", retryAfterSeconds: 0 });
  const patient = new TokenSource({ tokenUrl: server.tokenUrl, clientId: server.clientId, clientSecret: server.clientSecret, retry: { initialBackoffMs: 5 } });
  const before = server.tokenRequests.length;
  await patient.token();
  assert.deepEqual(server.tokenRequests.slice(before).map((r) => r.status), [503, 503, 200]);
});

test("a revoked token is refused as invalid_token, and the client gets a new one; other paths go to the handler", async () => {
  const client = new Client({ baseUrl: server.url, clientId: server.clientId, clientSecret: server.clientSecret });
  await client.me();
  const first = await client.tokenSource.token();
  server.revoke(first.secret());
  await client.me();
  assert.notEqual((await client.tokenSource.token()).secret(), first.secret());

  const cases = [];
  const fake = await startTokenServer({
    handler(req, res, caller) {
      if (req.url === "/api/v1/engage/cases" && req.method === "POST" && caller) {
        cases.push(caller.clientId);
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "c-1", title: "made" }));
        return true;
      }
      return false;
    },
  });
  try {
    const partner = new Client({ baseUrl: fake.url, clientId: fake.clientId, clientSecret: fake.clientSecret });
    assert.equal((await partner.cases.create({ title: "made" })).id, "c-1");
    assert.deepEqual(cases, [fake.clientId]);
    await assert.rejects(partner.cases.list().send(), (e) => e.status === 404 && typeof e.requestId === "string");
  } finally {
    await fake.close();
  }
});
