/**
 * `@casebook/sdk/testing`: helpers for a partner's own tests. Credentials
 * of the right shape that open nothing, and a small token server on
 * loopback that issues tokens as Casebook's does, so that code built on
 * the SDK is tested without a Casebook or a network.
 *
 * ```js
 * import { Client } from "@casebook/sdk";
 * import { startTokenServer } from "@casebook/sdk/testing";
 *
 * const server = await startTokenServer();
 * const casebook = new Client({ baseUrl: server.url, clientId: server.clientId, clientSecret: server.clientSecret });
 * await casebook.me();                 // answered by the server: { kind: "application", … }
 * server.tokenRequests.length;         // 1
 * await server.close();
 * ```
 *
 * For tests only: the server keeps everything in memory, listens on
 * 127.0.0.1 alone, and checks far less than Casebook.
 */

import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { checksum } from "../secret.js";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

function random(bytes: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(bytes));
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * A client secret of Casebook's scannable format (`cbs_`, 44 characters of
 * `0-9A-Za-z`, a CRC32 checksum in 6 more), random, so that it passes the
 * SDK's offline check and opens nothing anywhere. Secret scanners that
 * verify the checksum will flag it, as they would a real one: keep it out
 * of committed files, make it at run time.
 */
export function fakeClientSecret(): string {
  // Rejection sampling keeps every character equally likely.
  let body = "cbs_";
  while (body.length < 48) {
    for (const byte of random(64)) {
      if (byte < 248 && body.length < 48) body += ALPHABET[byte % 62];
    }
  }
  return body + checksum(body);
}

/** A Client ID of Casebook's shape: `cb_` and 32 hexadecimal digits. */
export function fakeClientId(): string {
  return `cb_${hex(random(16))}`;
}

/** An application the token server knows. */
export interface FakeClient {
  clientId: string;
  /** Its secret, for `client_secret_basic` and `client_secret_post`. */
  clientSecret?: string;
  /** Its public key, for `private_key_jwt` (`PrivateKey.publicJwk()`). */
  publicJwk?: Record<string, string>;
  /** The permissions its roles grant, space-separated (default `engage:view engage:create`). */
  scope?: string;
  /** Its name, as `/api/v1/me` answers it. */
  name?: string;
}

/** Who a request's `Authorization: Bearer` token was issued to. */
export interface Caller {
  clientId: string;
  scope: string;
  token: string;
}

/** One token request the server was asked, however it ended. */
export interface TokenRequest {
  clientId: string | undefined;
  authMethod: "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "none";
  scope: string | undefined;
  /** The HTTP status answered. */
  status: number;
  /** The `error` answered, or undefined for a token. */
  error: string | undefined;
}

export interface TokenServerOptions {
  /** The applications it knows; one made with {@link fakeClientId} and {@link fakeClientSecret} unless given. */
  clients?: FakeClient[];
  /** Tokens' lifetime, in seconds (default 3600). */
  expiresIn?: number;
  /**
   * Answers every other request (your API's fakes); `caller` is who its
   * bearer token was issued to, if it carries a valid one. Unset, such
   * requests are 404 problems. `/api/v1/me` is answered unless this
   * handler answers it first (returns `true` or ends the response).
   */
  handler?: (request: IncomingMessage, response: ServerResponse, caller: Caller | undefined) => unknown;
}

export interface TokenServer {
  /** The base URL, `http://127.0.0.1:{port}`, for `baseUrl`. */
  readonly url: string;
  /** `{url}/oauth2/token`. */
  readonly tokenUrl: string;
  /** The first client's Client ID and secret. */
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  /** Every token request, in order. */
  readonly tokenRequests: readonly TokenRequest[];
  /** How many tokens it issued. */
  readonly issued: number;
  /**
   * Answers the next `count` token requests with an error instead (default
   * one 503 `temporarily_unavailable`): to see a retry, or an `invalid_client`.
   */
  refuseNext(count?: number, answer?: { status?: number; error?: string; retryAfterSeconds?: number }): void;
  /** Who an `Authorization` header's bearer token was issued to, if it is one of this server's, unexpired. */
  verify(authorization: string | undefined | null): Caller | undefined;
  /** Makes a token it issued invalid: the API answers 401 `invalid_token` to it. */
  revoke(token: string): void;
  close(): Promise<void>;
}

interface Issued extends Caller {
  expiresAt: number;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > 1 << 20) request.destroy();
    });
    request.on("end", () => resolve(body));
    request.on("error", reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const type = typeof body === "string" ? "text/plain" : status >= 400 && !("error" in (body as object)) ? "application/problem+json" : "application/json";
  response.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
  response.end(text);
}

const fromBase64url = (text: string) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

const VERIFY: Record<string, { import: Algorithm | EcKeyImportParams | RsaHashedImportParams; verify: Algorithm | EcdsaParams | RsaPssParams }> = {
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" } as EcKeyImportParams, verify: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams },
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as RsaHashedImportParams, verify: { name: "RSASSA-PKCS1-v1_5" } },
  PS256: { import: { name: "RSA-PSS", hash: "SHA-256" } as RsaHashedImportParams, verify: { name: "RSA-PSS", saltLength: 32 } as RsaPssParams },
  EdDSA: { import: { name: "Ed25519" }, verify: { name: "Ed25519" } },
};

/** Whether `assertion` is a good RFC 7523 assertion of `client` for `issuer`: its signature, claims and single use. */
async function assertionHolds(assertion: string, client: FakeClient, issuer: string, spent: Set<string>): Promise<boolean> {
  const parts = assertion.split(".");
  if (parts.length !== 3 || client.publicJwk === undefined) return false;
  try {
    const [head, body, signature] = parts as [string, string, string];
    const header = JSON.parse(new TextDecoder().decode(fromBase64url(head))) as { alg?: string; kid?: string };
    const claims = JSON.parse(new TextDecoder().decode(fromBase64url(body))) as Record<string, unknown>;
    const alg = VERIFY[header.alg ?? ""];
    if (alg === undefined || (client.publicJwk.kid !== undefined && header.kid !== client.publicJwk.kid)) return false;
    const { kid: _kid, use: _use, alg: _alg, ...material } = client.publicJwk;
    const key = await globalThis.crypto.subtle.importKey("jwk", material, alg.import, false, ["verify"]);
    const good = await globalThis.crypto.subtle.verify(alg.verify, key, fromBase64url(signature), new TextEncoder().encode(`${head}.${body}`));
    const now = Math.floor(Date.now() / 1000);
    const exp = claims.exp;
    const jti = claims.jti;
    const fresh = typeof exp === "number" && exp > now && exp - now <= 300 && typeof jti === "string" && !spent.has(jti);
    const ok = good && fresh && claims.iss === client.clientId && claims.sub === client.clientId && claims.aud === issuer;
    if (ok) spent.add(jti as string);
    return ok;
  } catch {
    return false;
  }
}

/** Starts a token server on 127.0.0.1, on a free port. */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const clients = options.clients ?? [{ clientId: fakeClientId(), clientSecret: fakeClientSecret() }];
  const first = clients[0];
  if (first === undefined) throw new Error("startTokenServer: clients is empty");
  const expiresIn = options.expiresIn ?? 3600;
  const tokens = new Map<string, Issued>();
  const requests: TokenRequest[] = [];
  const spent = new Set<string>();
  const refusals: { status: number; error: string; retryAfterSeconds: number | undefined }[] = [];
  let issued = 0;
  let url = "";

  const verify = (authorization: string | undefined | null): Caller | undefined => {
    const token = /^Bearer (\S+)$/i.exec(authorization ?? "")?.[1];
    const found = token === undefined ? undefined : tokens.get(token);
    if (found === undefined || found.expiresAt <= Date.now()) return undefined;
    return { clientId: found.clientId, scope: found.scope, token: found.token };
  };

  async function token(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(request));
    const record = (entry: Omit<TokenRequest, "status" | "error">, status: number, error?: string, headers: Record<string, string> = {}) => {
      requests.push({ ...entry, status, error });
      if (error === undefined) return;
      send(response, status, { error }, headers);
    };
    const basic = /^Basic (\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    let clientId: string | undefined;
    let secret: string | undefined;
    let authMethod: TokenRequest["authMethod"] = "none";
    if (basic !== undefined) {
      const decoded = atob(basic);
      const colon = decoded.indexOf(":");
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
      clientId = decode(decoded.slice(0, colon));
      secret = decode(decoded.slice(colon + 1));
      authMethod = "client_secret_basic";
    } else if (form.has("client_assertion")) {
      clientId = form.get("client_id") ?? undefined;
      authMethod = "private_key_jwt";
    } else if (form.has("client_secret")) {
      clientId = form.get("client_id") ?? undefined;
      secret = form.get("client_secret") ?? undefined;
      authMethod = "client_secret_post";
    } else {
      clientId = form.get("client_id") ?? undefined;
    }
    const scope = form.get("scope") ?? undefined;
    const entry = { clientId, authMethod, scope };
    const refusal = refusals.shift();
    if (refusal !== undefined) {
      const headers: Record<string, string> = {};
      if (refusal.retryAfterSeconds !== undefined) headers["retry-after"] = String(refusal.retryAfterSeconds);
      return record(entry, refusal.status, refusal.error, headers);
    }
    if (form.get("grant_type") !== "client_credentials") return record(entry, 400, "unsupported_grant_type");
    const client = clients.find((c) => c.clientId === clientId);
    let proved = false;
    if (client !== undefined && authMethod === "private_key_jwt") {
      proved = form.get("client_assertion_type") === ASSERTION_TYPE && (await assertionHolds(form.get("client_assertion") ?? "", client, url, spent));
    } else if (client !== undefined && secret !== undefined) {
      proved = client.clientSecret !== undefined && client.clientSecret === secret;
    }
    if (client === undefined || !proved) {
      const headers: Record<string, string> = basic !== undefined ? { "www-authenticate": 'Basic realm="casebook"' } : {};
      return record(entry, 401, "invalid_client", headers);
    }
    const granted = (client.scope ?? "engage:view engage:create").split(" ").filter(Boolean);
    const asked = scope === undefined ? granted : scope.split(" ").filter(Boolean);
    if (asked.some((p) => !granted.includes(p))) return record(entry, 400, "invalid_scope");
    const value = `fake_${hex(random(24))}`;
    tokens.set(value, { clientId: client.clientId, scope: asked.join(" "), token: value, expiresAt: Date.now() + expiresIn * 1000 });
    issued += 1;
    record(entry, 200);
    send(response, 200, { access_token: value, token_type: "Bearer", expires_in: expiresIn, scope: asked.join(" ") });
  }

  const server = createServer((request, response) => {
    const sent = request.headers["x-request-id"];
    const requestId = typeof sent === "string" && /^[\x21-\x7e]{1,128}$/.test(sent) ? sent : hex(random(16));
    response.setHeader("x-request-id", requestId);
    const path = (request.url ?? "/").split("?")[0];
    const caller = verify(request.headers.authorization);
    void (async () => {
      try {
        if (path === "/oauth2/token" && request.method === "POST") return await token(request, response);
        if (path === "/.well-known/oauth-authorization-server" && request.method === "GET") {
          return send(response, 200, {
            issuer: url,
            token_endpoint: `${url}/oauth2/token`,
            grant_types_supported: ["client_credentials"],
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
          });
        }
        if (options.handler !== undefined) {
          const handled = await options.handler(request, response, caller);
          if (handled === true || response.writableEnded || response.headersSent) return;
        }
        if (path === "/api/v1/me" && request.method === "GET") {
          if (caller === undefined) {
            return send(response, 401, { type: "about:blank", title: "Unauthorized", status: 401, detail: "no valid token" }, {
              "www-authenticate": 'Bearer realm="casebook", error="invalid_token"',
            });
          }
          const client = clients.find((c) => c.clientId === caller.clientId);
          return send(response, 200, {
            kind: "application",
            id: caller.clientId,
            client_id: caller.clientId,
            name: client?.name ?? "Fake application",
            permissions: caller.scope.split(" ").filter(Boolean),
          });
        }
        send(response, 404, { type: "about:blank", title: "Not Found", status: 404, detail: `no fake for ${request.method} ${path}` });
      } catch (error) {
        if (!response.headersSent) send(response, 500, { type: "about:blank", title: "Internal Server Error", status: 500, detail: String(error) });
        else response.destroy();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    tokenUrl: `${url}/oauth2/token`,
    clientId: first.clientId,
    clientSecret: first.clientSecret,
    get tokenRequests() {
      return requests;
    },
    get issued() {
      return issued;
    },
    refuseNext(count = 1, answer = {}) {
      for (let i = 0; i < count; i++) {
        refusals.push({
          status: answer.status ?? 503,
          error: answer.error ?? "temporarily_unavailable",
          retryAfterSeconds: answer.retryAfterSeconds,
        });
      }
    },
    verify,
    revoke(value: string) {
      tokens.delete(value);
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
