// How a client proves itself, against the real server: a secret with a
// newline around it, a secret file re-read after a rotation, a federated
// token file, and no credentials only on purpose.

import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import { Client, ConfigError, CredentialError, MistypedSecretError, OAuthError, TokenSource } from "@casebook/sdk";
import { clientSecretFile, federatedTokenFile } from "@casebook/sdk/node";
import { ADMIN_PASSWORD, adminSession, call, metric, registerApplication, revoke, startServer, tokensIssued } from "./harness.mjs";

let server;
let session;
let dir;
before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
  dir = await mkdtemp(join(tmpdir(), "casebook-sdk-credentials-"));
});
after(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const refusals = () => metric(server.url, "casebook_http_requests_total", { route: "/oauth2/token", status: "401" });

test("a secret with whitespace or a newline around it, as a file or a Kubernetes Secret gives it, is trimmed, not mistyped", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  for (const padded of [`${app.clientSecret}\n`, `${app.clientSecret}\r\n`, `  ${app.clientSecret}\t`, `\ufeff${app.clientSecret}\n`]) {
    const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: padded });
    assert.equal((await client.me()).client_id, app.clientId, JSON.stringify(padded.replace(app.clientSecret, "…")));
  }
  // A Client ID pasted with a newline works too.
  const client = new Client({ baseUrl: server.url, clientId: `${app.clientId}\n`, clientSecret: app.clientSecret });
  assert.equal((await client.me()).client_id, app.clientId);
  // What is inside still counts: a typo is still refused offline.
  const typo = `${app.clientSecret.slice(0, 10)}${app.clientSecret[10] === "x" ? "y" : "x"}${app.clientSecret.slice(11)}\n`;
  assert.throws(() => new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: typo }), MistypedSecretError);
});

test("checkSecretFormat: false sends another server's secret as given (trimmed)", async () => {
  const seen = [];
  const recording = (input, init) => {
    seen.push(new URLSearchParams(init.body).get("client_secret"));
    return Promise.resolve(new Response(JSON.stringify({ error: "invalid_client" }), { status: 401 }));
  };
  const tokens = new TokenSource({
    tokenUrl: "https://idp.example.org/oauth2/token",
    clientId: "other",
    clientSecret: " not-casebook's secret\n",
    authMethod: "client_secret_post",
    checkSecretFormat: false,
    fetch: recording,
  });
  await assert.rejects(tokens.token(), OAuthError);
  assert.deepEqual(seen, ["not-casebook's secret"]);
  assert.throws(
    () => new TokenSource({ tokenUrl: "https://idp.example.org/oauth2/token", clientId: "other", clientSecret: "not-casebook's" }),
    MistypedSecretError,
  );
});

test("a secret file is read at the first token request, and again after invalid_client: a rotated secret is picked up", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const path = join(dir, "client-secret");
  await writeFile(path, `${app.clientSecret}\n`);
  let reads = 0;
  const file = clientSecretFile(path);
  const counted = () => {
    reads += 1;
    return file();
  };
  const client = new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: counted });
  assert.equal(reads, 0, "nothing is read before a token is needed");
  await client.me();
  await client.me();
  assert.equal(reads, 1, "read once, then kept");

  // The operator rotates the secret (the old one ends at once) and the
  // platform writes the new one to the file; the running client's token
  // is refused, and its next token request with the old secret too.
  const token = await client.tokenSource.token();
  await revoke(server.url, app, token.secret());
  const rotated = await call(server.url, "POST", `/admin/v1/external-applications/${app.id}/client-secret/rotate`, {
    token: session,
    body: { password: ADMIN_PASSWORD, grace_period_seconds: 0 },
  });
  await writeFile(path, `${rotated.client_secret}\r\n`);
  const refused = await refusals();
  const issued = await tokensIssued(server.url);
  assert.equal((await client.me()).client_id, app.clientId, "the call succeeds with the secret read again");
  assert.equal(reads, 2, "read once more");
  assert.equal(await refusals(), refused + 1, "the old secret was refused once");
  assert.equal(await tokensIssued(server.url), issued + 1);

  // Rotated again, but the file gets a secret that does not work: read
  // once more, sent once more, then the refusal.
  const stranger = await registerApplication(server.url, session, ["engage-worker"]);
  await revoke(server.url, { clientId: app.clientId, clientSecret: rotated.client_secret }, (await client.tokenSource.token()).secret());
  await call(server.url, "POST", `/admin/v1/external-applications/${app.id}/client-secret/rotate`, {
    token: session,
    body: { password: ADMIN_PASSWORD, grace_period_seconds: 0 },
  });
  await writeFile(path, stranger.clientSecret);
  const before = await refusals();
  await assert.rejects(client.me(), (e) => {
    assert.ok(e instanceof OAuthError && e.code === "invalid_client", inspect(e));
    assert.ok(!inspect(e).includes(stranger.clientSecret) && !inspect(e).includes(rotated.client_secret));
    return true;
  });
  assert.equal(reads, 3);
  assert.equal(await refusals(), before + 2, "the old secret, then the file's: no loop");
});

test("a secret file that cannot be read is a CredentialError naming the file, never a secret; retried, then thrown", async () => {
  const missing = join(dir, "no-such-secret");
  const client = new Client({
    baseUrl: server.url,
    clientId: "cb_00000000000000000000000000000000",
    clientSecret: clientSecretFile(missing),
    retry: { maxRetries: 2, initialBackoffMs: 5 },
  });
  await assert.rejects(client.me(), (e) => {
    assert.ok(e instanceof CredentialError, inspect(e));
    assert.ok(e.message.includes(missing));
    assert.match(e.message, /ENOENT/);
    assert.equal(e.transient, true);
    assert.equal(e.requestId, undefined, "nothing was sent");
    return true;
  });
  const empty = join(dir, "empty-secret");
  await writeFile(empty, "\n");
  const blank = new Client({
    baseUrl: server.url,
    clientId: "cb_00000000000000000000000000000000",
    clientSecret: clientSecretFile(empty),
    retry: { maxRetries: 0 },
  });
  await assert.rejects(blank.me(), (e) => e instanceof CredentialError && /is empty/.test(e.message));
  const mistyped = join(dir, "mistyped-secret");
  await writeFile(mistyped, "cbs_not-a-secret\n");
  const typo = new Client({ baseUrl: server.url, clientId: "cb_00000000000000000000000000000000", clientSecret: clientSecretFile(mistyped) });
  await assert.rejects(typo.me(), MistypedSecretError);
  assert.equal(String(clientSecretFile(missing)), `clientSecretFile(${missing})`);
});

/** An outside issuer: a P-256 key, and tokens it signs for `subject`. */
async function outsideIssuer() {
  const pair = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const { kty, crv, x, y } = await webcrypto.subtle.exportKey("jwk", pair.publicKey);
  const jwk = { kty, crv, x, y, kid: "outside-1", use: "sig", alg: "ES256" };
  const b64 = (data) => Buffer.from(data).toString("base64url");
  const sign = async (claims) => {
    const input = `${b64(JSON.stringify({ alg: "ES256", kid: "outside-1", typ: "JWT" }))}.${b64(JSON.stringify(claims))}`;
    const signature = await webcrypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, Buffer.from(input));
    return `${input}.${b64(signature)}`;
  };
  return { jwk, sign };
}

test("a federated token file is read for every token request and sent as client_assertion beside client_id", async () => {
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  const issuer = await outsideIssuer();
  const { issuer: ours } = await call(server.url, "GET", "/.well-known/oauth-authorization-server");
  await call(server.url, "POST", `/admin/v1/external-applications/${app.id}/federated-credentials`, {
    token: session,
    body: { name: "Workload", issuer: "https://issuer.example.org", subject: "system:serviceaccount:partner:sync", jwks: { keys: [issuer.jwk] } },
  });
  const mint = (extra = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return issuer.sign({
      iss: "https://issuer.example.org",
      sub: "system:serviceaccount:partner:sync",
      aud: ours,
      iat: now,
      exp: now + 600,
      jti: `${now}-${Math.random()}`,
      ...extra,
    });
  };
  const path = join(dir, "federated-token");
  await writeFile(path, `${await mint()}\n`);
  let reads = 0;
  const file = federatedTokenFile(path);
  const forms = [];
  const recording = (input, init) => {
    if (new URL(input).pathname === "/oauth2/token") forms.push(new URLSearchParams(init.body));
    return fetch(input, init);
  };
  const client = new Client({
    baseUrl: server.url,
    clientId: app.clientId,
    federatedToken: () => {
      reads += 1;
      return file();
    },
    fetch: recording,
  });
  assert.equal(client.tokenSource.authMethod, "federated_token");
  assert.equal((await client.me()).client_id, app.clientId);
  assert.equal(forms[0].get("client_id"), app.clientId);
  assert.equal(forms[0].get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  assert.equal(forms[0].get("client_secret"), null);
  assert.equal(reads, 1);

  // The platform rotates the file: the next token request reads the new token.
  const next = await mint({ jti: "rotated" });
  await writeFile(path, next);
  client.tokenSource.invalidate(await client.tokenSource.token());
  assert.equal((await client.me()).client_id, app.clientId);
  assert.equal(reads, 2);
  assert.equal(forms.at(-1).get("client_assertion"), next);

  // A token the server refuses (expired) is invalid_client.
  await writeFile(path, await mint({ exp: Math.floor(Date.now() / 1000) - 10 }));
  client.tokenSource.invalidate(await client.tokenSource.token());
  await assert.rejects(client.me(), (e) => e instanceof OAuthError && e.code === "invalid_client");
});

test("a federated token file that is missing, empty or holds two tokens is a CredentialError", async () => {
  for (const [content, pattern] of [
    [undefined, /ENOENT/],
    ["  \n", /is empty/],
    ["a.b.c d.e.f\n", /more than one token/],
    ["x".repeat(70 * 1024), /larger than 64 KiB/],
  ]) {
    const path = join(dir, `federated-${Math.random()}`);
    if (content !== undefined) await writeFile(path, content);
    const tokens = new TokenSource({
      tokenUrl: `${server.url}/oauth2/token`,
      clientId: "cb_00000000000000000000000000000000",
      federatedToken: federatedTokenFile(path),
      retry: { maxRetries: 0 },
    });
    await assert.rejects(tokens.token(), (e) => e instanceof CredentialError && pattern.test(e.message), String(pattern));
  }
});

test("no credentials is a ConfigError unless anonymous: true says so; an unset variable is named", async () => {
  const { CASEBOOK_URL, CASEBOOK_CLIENT_ID, CASEBOOK_CLIENT_SECRET } = {};
  assert.throws(() => new Client({ baseUrl: server.url }), (e) => e instanceof ConfigError && /anonymous: true/.test(e.message));
  assert.throws(
    () => new Client({ baseUrl: server.url, clientId: CASEBOOK_CLIENT_ID, clientSecret: CASEBOOK_CLIENT_SECRET }),
    (e) => e instanceof ConfigError && /CASEBOOK_CLIENT_ID/.test(e.message),
  );
  assert.throws(
    () => new Client({ baseUrl: server.url, clientId: "cb_00000000000000000000000000000000", clientSecret: CASEBOOK_CLIENT_SECRET }),
    (e) => e instanceof ConfigError && /CASEBOOK_CLIENT_SECRET/.test(e.message),
  );
  assert.throws(
    () => new Client({ baseUrl: CASEBOOK_URL, anonymous: true }),
    (e) => e instanceof ConfigError && /CASEBOOK_URL/.test(e.message),
  );
  const app = await registerApplication(server.url, session, ["engage-worker"]);
  assert.throws(
    () => new Client({ baseUrl: server.url, anonymous: true, clientId: app.clientId, clientSecret: app.clientSecret }),
    (e) => e instanceof ConfigError && /anonymous and clientId, clientSecret/.test(e.message),
  );
  assert.throws(
    () => new Client({ baseUrl: server.url, clientId: app.clientId, clientSecret: app.clientSecret, federatedToken: () => "x" }),
    (e) => e instanceof ConfigError && /do not go together/.test(e.message),
  );
  const anonymous = new Client({ baseUrl: new URL(server.url), anonymous: true });
  assert.equal(anonymous.tokenSource, undefined);
  const admin = await anonymous.signIn("sdk-admin@agency.example.org", ADMIN_PASSWORD);
  assert.ok((await admin.admin.roles.list().send()).items.length > 0);
});
