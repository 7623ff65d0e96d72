// private_key_jwt with WebCrypto: every algorithm the Rust SDK signs with,
// keys from a JWK, a PEM, a CryptoKey or made anew, against the real server;
// the assertion's claims as RFC 7523 and rfc7523bis want them.

import assert from "node:assert/strict";
import { generateKeyPairSync, webcrypto } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import { Client, ConfigError, OAuthError, PrivateKey, TokenSource } from "@casebook/sdk";
import { privateKeyFile } from "@casebook/sdk/node";
import { adminSession, call, startServer } from "./harness.mjs";

let server;
let session;
let issuer;
before(async () => {
  server = await startServer();
  session = await adminSession(server.url);
  ({ issuer } = await call(server.url, "GET", "/.well-known/oauth-authorization-server"));
});
after(() => server?.stop());

let registered = 0;
/** Registers an application for private_key_jwt with these public keys. */
async function keyApplication(publicJwks) {
  registered += 1;
  return call(server.url, "POST", "/admin/v1/external-applications", {
    token: session,
    body: {
      name: `Keyed ${process.pid}-${registered}`,
      email: `keyed-${process.pid}-${registered}@partner.example.org`,
      roles: ["engage-worker"],
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: publicJwks },
    },
  });
}

const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

test("each algorithm: a generated key, registered by its public JWK, gets tokens; the assertion is RFC 7523's", async () => {
  for (const algorithm of ["ES256", "RS256", "PS256", "EdDSA"]) {
    const key = await PrivateKey.generate(algorithm);
    assert.equal(key.algorithm, algorithm);
    const jwk = key.publicJwk();
    assert.equal(jwk.d, undefined, "no private member");
    assert.equal(jwk.kid, key.kid);
    const app = await keyApplication([jwk]);
    const forms = [];
    const recording = (input, init) => {
      if (new URL(input).pathname === "/oauth2/token") forms.push(new URLSearchParams(init.body));
      return fetch(input, init);
    };
    const client = new Client({ baseUrl: server.url, clientId: app.client_id, privateKey: key, fetch: recording });
    assert.equal(client.tokenSource.authMethod, "private_key_jwt");
    assert.equal((await client.me()).client_id, app.client_id, algorithm);

    const form = forms[0];
    assert.equal(form.get("client_id"), app.client_id);
    assert.equal(form.get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert.equal(form.get("client_secret"), null);
    const [header, claims] = form.get("client_assertion").split(".").slice(0, 2).map(decode);
    assert.deepEqual(header, { alg: algorithm, kid: key.kid, typ: "JWT" });
    assert.equal(claims.iss, app.client_id);
    assert.equal(claims.sub, app.client_id);
    assert.equal(claims.aud, issuer, "the issuer the server's metadata names, alone");
    assert.ok(claims.exp - claims.iat > 0 && claims.exp - claims.iat <= 300, "at most five minutes");
    assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 5);
    assert.equal(Buffer.from(claims.jti, "base64url").length, 16);
  }
});

test("each token request carries a new assertion with its own jti: the server takes each once", async () => {
  const key = await PrivateKey.generate("EdDSA", "rotating-1");
  const app = await keyApplication([key.publicJwk()]);
  const tokens = new TokenSource({ tokenUrl: `${server.url}/oauth2/token`, clientId: app.client_id, privateKey: key });
  const first = await tokens.token();
  tokens.invalidate(first);
  const second = await tokens.token();
  assert.notEqual(second.secret(), first.secret());
  const jtis = new Set();
  for (let i = 0; i < 20; i++) jtis.add(decode((await key.assertion("c", "a")).split(".")[1]).jti);
  assert.equal(jtis.size, 20);
});

test("keys from a JWK, a PKCS#8 PEM (in a file too) and a WebCrypto key pair", async () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const dir = await mkdtemp(join(tmpdir(), "casebook-sdk-keys-"));
  try {
    const fromJwk = await PrivateKey.fromJwk({ ...rsa.privateKey.export({ format: "jwk" }), kid: "rsa-jwk", alg: "PS256" });
    assert.equal(fromJwk.algorithm, "PS256");
    assert.equal(fromJwk.publicJwk().alg, "PS256");
    const fromPem = await PrivateKey.fromPem(ec.privateKey.export({ format: "pem", type: "pkcs8" }), "ec-pem");
    assert.equal(fromPem.algorithm, "ES256");
    const pemPath = join(dir, "ed.pem");
    await writeFile(pemPath, ed.privateKey.export({ format: "pem", type: "pkcs8" }));
    const fromFile = await privateKeyFile(pemPath, "ed-file");
    assert.equal(fromFile.algorithm, "EdDSA");
    const jwkPath = join(dir, "rsa.json");
    await writeFile(jwkPath, JSON.stringify({ ...rsa.privateKey.export({ format: "jwk" }), kid: "rsa-file" }));
    const rsaFromFile = await privateKeyFile(jwkPath);
    assert.equal(rsaFromFile.algorithm, "RS256", "an RSA key signs RS256 unless told");
    const pair = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    const fromPair = await PrivateKey.fromCryptoKey(pair, "pair");

    const keys = [fromJwk, fromPem, fromFile, rsaFromFile, fromPair];
    // One application, five keys: the server picks each by its kid.
    const app = await keyApplication(keys.map((k) => k.publicJwk()));
    for (const key of keys) {
      const client = new Client({ baseUrl: server.url, clientId: app.client_id, privateKey: key });
      assert.equal((await client.me()).client_id, app.client_id, key.kid);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a key the application did not register is invalid_client; unusable keys are ConfigErrors before anything is sent", async () => {
  const registeredKey = await PrivateKey.generate("ES256", "mine");
  const app = await keyApplication([registeredKey.publicJwk()]);
  const other = await PrivateKey.generate("ES256", "mine");
  const client = new Client({ baseUrl: server.url, clientId: app.client_id, privateKey: other });
  await assert.rejects(client.me(), (e) => e instanceof OAuthError && e.code === "invalid_client" && typeof e.requestId === "string");

  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
  for (const [what, make] of [
    ["a public JWK", () => PrivateKey.fromJwk({ ...rsa.publicKey.export({ format: "jwk" }), kid: "k" })],
    ["no kid", () => PrivateKey.fromJwk(rsa.privateKey.export({ format: "jwk" }))],
    ["an alg the key does not sign", () => PrivateKey.fromJwk({ ...rsa.privateKey.export({ format: "jwk" }), kid: "k", alg: "ES256" })],
    ["a JWK bound to RS256 asked for PS256", () => PrivateKey.fromJwk({ ...rsa.privateKey.export({ format: "jwk" }), kid: "k", alg: "RS256" }, { algorithm: "PS256" })],
    ["P-384", () => PrivateKey.fromJwk({ ...p384.privateKey.export({ format: "jwk" }), kid: "k" })],
    ["1024-bit RSA", () => PrivateKey.fromJwk({ ...small.privateKey.export({ format: "jwk" }), kid: "k" })],
    ["PKCS#1 PEM", () => PrivateKey.fromPem(rsa.privateKey.export({ format: "pem", type: "pkcs1" }), "k")],
    ["not PEM", () => PrivateKey.fromPem("hello", "k")],
    ["JSON that is not", () => PrivateKey.fromJwk("{not json")],
  ]) {
    await assert.rejects(make(), (e) => e instanceof ConfigError, what);
  }
  assert.throws(
    () => new TokenSource({ tokenUrl: "https://casebook.example.org/custom/token", clientId: "c", privateKey: registeredKey }),
    (e) => e instanceof ConfigError && /audience/.test(e.message),
  );
  const custom = new TokenSource({
    tokenUrl: "https://casebook.example.org/custom/token",
    clientId: "c",
    privateKey: registeredKey,
    audience: "https://casebook.example.org",
  });
  assert.equal(custom.authMethod, "private_key_jwt");
  assert.throws(
    () => new TokenSource({ tokenUrl: `${server.url}/oauth2/token`, clientId: "c", clientSecret: "x", audience: "y", checkSecretFormat: false }),
    ConfigError,
  );
});

test("a private key never shows in strings, JSON, inspect or errors", async () => {
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  const key = await PrivateKey.fromJwk({ ...jwk, kid: "hidden" });
  const client = new Client({ baseUrl: server.url, clientId: "cb_00000000000000000000000000000000", privateKey: key });
  const error = await client.me().catch((e) => e);
  for (const shown of [String(key), JSON.stringify(key), inspect(key), inspect(client.tokenSource), inspect(error), JSON.stringify(client.tokenSource)]) {
    assert.ok(!shown.includes(jwk.d), shown);
  }
  assert.match(inspect(key), /kid: "hidden", algorithm: ES256, key: \[redacted\]/);
});
