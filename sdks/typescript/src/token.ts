/**
 * Access tokens by the client credentials grant (RFC 6749 §4.4): fetched
 * once, shared by every caller, refreshed ahead of expiry.
 *
 * JavaScript runs one callback at a time, so single flight is one shared
 * promise: a caller that finds no usable token and a request already under
 * way awaits that request's outcome instead of asking again. That is what
 * makes a thousand callers on a cold cache cost one token request. A
 * refresh ahead of expiry is the same promise, which no caller awaits: each
 * is handed the current token meanwhile.
 */

import { ASSERTION_TYPE, PrivateKey, issuerOf } from "./assertion.js";
import { dpopKeyOf } from "./dpop.js";
import type { DPoPKey, DPoPOption } from "./dpop.js";
import {
  CasebookError,
  ConfigError,
  CredentialError,
  DPoPProofError,
  MistypedSecretError,
  OAuthError,
  UnexpectedResponseError,
  withRequestId,
} from "./errors.js";
import type { OAuthErrorCode } from "./errors.js";
import { checkedUrl, exchange } from "./http.js";
import type { Answer, Fetch, HttpSettings } from "./http.js";
import type { Instrumentation } from "./instrument.js";
import { RetryPolicy, retryVerdict, sleep } from "./retry.js";
import type { RetryOptions } from "./retry.js";
import { ClientSecret } from "./secret.js";

/** How long before expiry a token is replaced, unless it is short-lived (ms). */
export const DEFAULT_REFRESH_AHEAD_MS = 120_000;
/** The refresh-ahead slack never exceeds this fraction (1/4) of a token's lifetime. */
const REFRESH_AHEAD_DIVISOR = 4;
/** A token this close to expiry is not handed out; bounded by a tenth of the lifetime. */
const EXPIRY_MARGIN_MS = 5_000;
/** RFC 6749 §5.1 makes `expires_in` optional; without it a token is taken to live this long. */
const ASSUMED_LIFETIME_MS = 300_000;
/** The longest lifetime believed from a server: a token is re-requested daily at worst. */
const MAX_LIFETIME_MS = 24 * 3600 * 1000;
/** How long a permanent failure is handed to new callers before the endpoint is asked again. */
const FAILURE_MEMORY_MS = 5_000;

const OAUTH_CODES: readonly OAuthErrorCode[] = [
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "unsupported_token_type",
  "invalid_target",
  "temporarily_unavailable",
];

/** How a client secret is sent to the token endpoint (RFC 6749 §2.3.1). */
export type ClientAuthMethod = "client_secret_basic" | "client_secret_post";

/**
 * How a token source proves the client: a client secret (Basic or in the
 * body), a signed assertion (`private_key_jwt`, RFC 7523), or a federated
 * credential's outside token (sent as a `client_assertion` too).
 */
export type TokenAuthMethod = ClientAuthMethod | "private_key_jwt" | "federated_token";

/**
 * Reads a credential that may change while the process runs: a client
 * secret from a file a platform rotates (`clientSecretFile` of
 * `@casebook/sdk/node`), a workload's token (`federatedTokenFile`), or
 * anything else. A {@link ClientSecret} or a string; surrounding
 * whitespace is dropped.
 */
export type CredentialReader<T = string> = () => T | Promise<T>;

/**
 * How a token is sent: `Bearer` (RFC 6750), or `DPoP` (RFC 9449), bound to
 * a key and sent with a proof of it.
 */
export type TokenType = "Bearer" | "DPoP";

/** An access token. Its value comes out only through {@link secret}. */
export class AccessToken {
  readonly #value: string;
  /** The granted scope (space-separated permissions), when the server said. */
  readonly scope: string | undefined;
  /** `DPoP` when the token is bound to the source's {@link DPoPKey}, else `Bearer`. */
  readonly tokenType: TokenType;
  readonly #refreshAt: number;
  readonly #usableUntil: number;
  readonly #expiresAt: number;
  readonly #now: () => number;

  /** @internal */
  constructor(
    value: string,
    scope: string | undefined,
    lifetimeMs: number,
    requestedAt: number,
    refreshAheadMs: number,
    now: () => number,
    tokenType: TokenType = "Bearer",
  ) {
    this.#value = value;
    this.scope = scope;
    this.tokenType = tokenType;
    this.#now = now;
    // Measured from when the request left, not when the answer came: the
    // server's clock started no earlier than that.
    this.#expiresAt = requestedAt + lifetimeMs;
    const margin = Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 10);
    const slack = Math.max(Math.min(refreshAheadMs, lifetimeMs / REFRESH_AHEAD_DIVISOR), margin);
    this.#refreshAt = this.#expiresAt - slack;
    this.#usableUntil = this.#expiresAt - margin;
  }

  /**
   * The token itself, for an `Authorization: Bearer` header (`DPoP`, with
   * a proof, for a DPoP token: {@link DPoPKey.proof}). Handle with care.
   */
  secret(): string {
    return this.#value;
  }

  /** How long until the token expires, in ms. */
  get expiresInMs(): number {
    return Math.max(0, this.#expiresAt - this.#now());
  }

  /** @internal */
  fresh(now: number): boolean {
    return now < this.#refreshAt;
  }

  /** @internal */
  usable(now: number): boolean {
    return now < this.#usableUntil;
  }

  /** @internal */
  get usableUntil(): number {
    return this.#usableUntil;
  }

  toString(): string {
    return "AccessToken [redacted]";
  }

  toJSON(): { value: string; token_type: TokenType; scope: string | undefined; expires_in_ms: number } {
    return { value: "[redacted]", token_type: this.tokenType, scope: this.scope, expires_in_ms: this.expiresInMs };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `AccessToken { value: [redacted], tokenType: ${this.tokenType}, scope: ${JSON.stringify(this.scope)}, expiresInMs: ${this.expiresInMs} }`;
  }
}

export interface TokenSourceOptions {
  /** The token endpoint, e.g. `https://casebook.example.org/oauth2/token`. */
  tokenUrl: string;
  clientId: string;
  /**
   * The client secret: a {@link ClientSecret}, a string (wrapped in one;
   * surrounding whitespace such as a file's last newline is dropped), or a
   * {@link CredentialReader} that reads it when a token is first needed and
   * again after an `invalid_client`, once: a secret rotated under a running
   * process (a Kubernetes Secret, a vault agent's file) is picked up
   * without rebuilding anything. One of `clientSecret`, `privateKey` and
   * `federatedToken`.
   */
  clientSecret?: ClientSecret | string | CredentialReader<ClientSecret | string>;
  /**
   * For an application registered for `private_key_jwt`: every token
   * request carries a new assertion signed with this key (RFC 7523), valid
   * for a minute, with a random `jti`, `iss` and `sub` the Client ID and
   * `aud` the server's issuer identifier.
   */
  privateKey?: PrivateKey;
  /**
   * With `privateKey`: the issuer identifier assertions are addressed to,
   * the `issuer` of the server's metadata. For a Casebook, its token URL
   * less `/oauth2/token`, which is the default.
   */
  audience?: string;
  /**
   * For a workload with a federated credential: reads the token its
   * platform gives it (a Kubernetes projected service-account token, a CI
   * job's OIDC token), afresh for every token request since the platform
   * rotates it; sent as `client_assertion` beside `client_id`. See
   * `federatedTokenFile` of `@casebook/sdk/node`.
   */
  federatedToken?: CredentialReader;
  /** How a client secret is sent: default `client_secret_basic`, which every RFC 6749 server must support. */
  authMethod?: ClientAuthMethod;
  /** Space-separated permissions to ask for; all the application's roles grant when unset. */
  scope?: string;
  /** How long before expiry a token is replaced (default two minutes), at most a quarter of its lifetime. */
  refreshAheadMs?: number;
  retry?: RetryPolicy | RetryOptions;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** The `fetch` to use; the global one unless set. */
  fetch?: Fetch;
  /** Sent as `User-Agent` where the platform allows (not in browsers). */
  userAgent?: string;
  /**
   * Check the secret's format offline and refuse a mistyped one (default
   * true). Turn off only for a server other than Casebook whose secrets
   * look otherwise.
   */
  checkSecretFormat?: boolean;
  /** A monotonic clock in ms; `performance.now` unless set. */
  clock?: () => number;
  /** Allow plain http to a host other than loopback: for a closed test network only. */
  allowInsecureHttp?: boolean;
  /** Hooks around each token request, for tracing and metrics: see {@link Instrumentation}. */
  instrument?: Instrumentation;
  /**
   * Ask for DPoP-bound tokens (RFC 9449): `true` for an ES256 key the SDK
   * generates (its private key non-extractable), a `CryptoKeyPair` of your
   * own (ES256, RS256, PS256 or EdDSA), or a {@link DPoPKey}. Every token
   * request then carries a proof, and a server that answers with a Bearer
   * token instead is an {@link UnexpectedResponseError}.
   */
  dpop?: DPoPOption;
}

interface Failure {
  error: CasebookError;
  rememberedUntil: number;
}

/**
 * Access tokens for one client from one RFC 6749 token endpoint, cached and
 * refreshed ahead of expiry. Works against any OAuth 2.0 server that
 * supports the client credentials grant.
 *
 * Guarantees:
 * - however many callers ask at once, an empty or expired cache causes one
 *   token request, whose token (or error) they all share;
 * - a token is replaced ahead of expiry (two minutes by default, a quarter
 *   of its lifetime for short-lived tokens). The refresh runs in the
 *   background, with retries, while every caller keeps getting the current
 *   token at once; if the refresh fails, the current token is used until it
 *   expires;
 * - a token request is a POST, so it is sent again only when the server
 *   certainly did not act on it (the connection could not be opened, or it
 *   answered 429 or 503 `temporarily_unavailable`), per the
 *   {@link RetryPolicy}; after a timeout the error is thrown. OAuth errors
 *   such as `invalid_client` are thrown at once, and to callers of the
 *   next five seconds too instead of asking again;
 * - with `dpop`, every token request carries a proof of the key, and a
 *   `use_dpop_nonce` answer is followed at once by one more request with
 *   the server's nonce (the server issued nothing the first time).
 */
export class TokenSource {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly scope: string | undefined;
  /** How the client is proved: a secret (Basic or in the body), `private_key_jwt`, or a federated token. */
  readonly authMethod: TokenAuthMethod;
  /** The key its tokens are bound to, when it asks for DPoP-bound tokens. */
  readonly dpop: DPoPKey | undefined;
  readonly #credential: Credential;
  readonly #checkSecretFormat: boolean;
  /** The secret a reader gave last, kept until an `invalid_client` asks for it again. */
  #readSecret: ClientSecret | undefined;
  readonly #template: string;
  readonly #http: HttpSettings;
  readonly #retry: RetryPolicy;
  readonly #refreshAheadMs: number;
  readonly #now: () => number;
  #token: AccessToken | undefined;
  #quietUntil: number | undefined;
  #inFlight: Promise<AccessToken> | undefined;
  #failure: Failure | undefined;

  constructor(options: TokenSourceOptions) {
    if (typeof options.tokenUrl !== "string") throw new ConfigError("the token URL is not set");
    // The secret goes to this URL: the client's own rules for where
    // credentials may go apply to it too.
    const url = checkedUrl(options.tokenUrl, options.allowInsecureHttp ?? false);
    const checkFormat = options.checkSecretFormat ?? true;
    const credential = credentialOf(options, checkFormat);
    if (typeof options.clientId !== "string" || options.clientId.trim() === "") {
      throw new ConfigError("the Client ID is empty (is CASEBOOK_CLIENT_ID set?)");
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== "function") throw new ConfigError("no fetch: pass one as the fetch option");
    this.tokenUrl = options.tokenUrl;
    this.clientId = options.clientId.trim();
    this.scope = options.scope;
    this.authMethod =
      credential.kind === "assertion"
        ? "private_key_jwt"
        : credential.kind === "federated"
          ? "federated_token"
          : (options.authMethod ?? "client_secret_basic");
    this.dpop = dpopKeyOf(options.dpop);
    this.#credential = credential;
    this.#checkSecretFormat = checkFormat;
    this.#template = url.pathname;
    this.#http = {
      // Called unbound, a browser's fetch throws "Illegal invocation".
      fetch: (input, init) => fetchImpl(input, init),
      timeoutMs: options.timeoutMs ?? 30_000,
      userAgent: options.userAgent,
      instrument: options.instrument,
    };
    this.#retry = options.retry instanceof RetryPolicy ? options.retry : new RetryPolicy(options.retry);
    this.#refreshAheadMs = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
    this.#now = options.clock ?? (() => performance.now());
  }

  /**
   * A token valid for a while yet: the cached one, or a new one.
   *
   * Only a caller that finds no usable token waits for a token request.
   * Ahead of expiry the current token is returned at once and the new one
   * is fetched in the background.
   */
  async token(): Promise<AccessToken> {
    const now = this.#now();
    const current = this.#token;
    if (current?.usable(now)) {
      const quiet = this.#quietUntil !== undefined && now < this.#quietUntil;
      if (!current.fresh(now) && !quiet) this.#refreshInBackground(current);
      return current;
    }
    if (this.#inFlight) return this.#inFlight;
    if (this.#failure && now < this.#failure.rememberedUntil) throw this.#failure.error;
    return this.#flight();
  }

  /**
   * Forgets `token` if it is the cached one, so that the next
   * {@link token} asks for a new one. Call it when a resource server
   * refused the token (`invalid_token`); the {@link Client} does.
   */
  invalidate(token: AccessToken): void {
    if (this.#token === token) {
      this.#token = undefined;
      this.#quietUntil = undefined;
    }
  }

  /**
   * Starts one refresh unless a token request is under way already: that
   * one brings the new token too.
   */
  #refreshInBackground(current: AccessToken): void {
    if (this.#inFlight) return;
    this.#flight().catch(() => {
      // The failure is remembered for callers without a usable token; those
      // holding the current one keep it, and the endpoint is left alone for
      // a while rather than asked on every call.
      const now = this.#now();
      if (this.#token === current && current.usable(now)) {
        this.#quietUntil = now + Math.min((current.usableUntil - now) / 4, 30_000);
      }
    });
  }

  /** The one token request of the moment, whoever awaits it. */
  #flight(): Promise<AccessToken> {
    const flight = this.#refresh().finally(() => {
      if (this.#inFlight === flight) this.#inFlight = undefined;
    });
    this.#inFlight = flight;
    return flight;
  }

  async #refresh(): Promise<AccessToken> {
    try {
      const token = await this.#fetchWithRetries();
      this.#token = token;
      this.#quietUntil = undefined;
      this.#failure = undefined;
      return token;
    } catch (error) {
      const failure = asCasebookError(error);
      const now = this.#now();
      this.#failure = { error: failure, rememberedUntil: failure.transient ? now : now + FAILURE_MEMORY_MS };
      throw failure;
    }
  }

  async #fetchWithRetries(): Promise<AccessToken> {
    const tries = { sent: 0 };
    for (let retries = 0; ; retries++) {
      try {
        return await this.#fetchOnce(tries);
      } catch (error) {
        const failure = asCasebookError(error);
        // A token request is a POST: after a timeout or a dropped connection
        // the server may have issued a token (and counted it against a
        // quota), so only what it certainly did not act on is asked again.
        const verdict = retryVerdict(this.#retry, "POST", failure, retries);
        if (!verdict.retry) throw failure;
        await sleep(verdict.delayMs);
      }
    }
  }

  /**
   * One token request; with DPoP, sent a second time at once when the
   * server answers `use_dpop_nonce` with a nonce (RFC 9449 §8): it issued
   * nothing then.
   */
  async #fetchOnce(tries: { sent: number }): Promise<AccessToken> {
    let nonceRetry = false;
    let secretReread = false;
    for (;;) {
      const requestedAt = this.#now();
      const { answer, secret } = await this.#ask(tries.sent++);
      // Success or error alike, the latest nonce is the one to send next.
      const gotNonce = this.dpop?.rememberNonce(this.tokenUrl, answer.headers) === true;
      const tokenType = this.dpop ? "DPoP" : "Bearer";
      let grant: Grant;
      try {
        grant = readTokenResponse(answer.status, answer.body, answer.retryAfterMs, tokenType);
      } catch (error) {
        withRequestId(error, answer.requestId);
        if (error instanceof DPoPProofError && error.code === "use_dpop_nonce" && gotNonce && !nonceRetry) {
          nonceRetry = true;
          continue;
        }
        // A secret read from a file may have been rotated since: read it
        // again, once, and ask again if it changed.
        if (error instanceof OAuthError && error.code === "invalid_client" && !secretReread && secret !== undefined) {
          secretReread = true;
          if (await this.#secretChanged(secret)) continue;
        }
        throw error;
      }
      const lifetimeMs = grant.expiresInMs ?? ASSUMED_LIFETIME_MS;
      return new AccessToken(grant.accessToken, grant.scope, lifetimeMs, requestedAt, this.#refreshAheadMs, this.#now, tokenType);
    }
  }

  /**
   * One token request. `secret` is the one a reader gave, when the client
   * proved itself with such a secret: an `invalid_client` may mean it was
   * rotated since.
   */
  async #ask(attempt: number): Promise<{ answer: Answer; secret: ClientSecret | undefined }> {
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (this.scope) form.set("scope", this.scope);
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    const credential = this.#credential;
    let read: ClientSecret | undefined;
    switch (credential.kind) {
      case "secret":
      case "secret_reader": {
        const secret = credential.kind === "secret" ? credential.secret : await this.#currentSecret(credential.read);
        if (credential.kind === "secret_reader") read = secret;
        if (this.authMethod === "client_secret_basic") {
          headers.authorization = basicAuthorization(this.clientId, secret);
        } else {
          form.set("client_id", this.clientId);
          form.set("client_secret", secret.expose());
        }
        break;
      }
      case "assertion":
        // RFC 7521 §4.2 makes client_id optional beside an assertion; it is
        // sent, as the Rust SDK sends it, so the server looks up one client.
        form.set("client_id", this.clientId);
        form.set("client_assertion_type", ASSERTION_TYPE);
        form.set("client_assertion", await credential.key.assertion(this.clientId, credential.audience));
        break;
      case "federated":
        // A federated token names no Casebook client: client_id says which.
        form.set("client_id", this.clientId);
        form.set("client_assertion_type", ASSERTION_TYPE);
        form.set("client_assertion", await readFederatedToken(credential.read));
        break;
    }
    if (this.dpop) headers.dpop = await this.dpop.proof("POST", this.tokenUrl);
    const answer = await exchange(
      this.#http,
      this.tokenUrl,
      { method: "POST", headers, body: form.toString() },
      { kind: "token", template: this.#template, attempt },
    );
    return { answer, secret: read };
  }

  /** The secret a reader gives, read once and kept. */
  async #currentSecret(read: CredentialReader<ClientSecret | string>): Promise<ClientSecret> {
    if (this.#readSecret === undefined) this.#readSecret = await readSecret(read, this.#checkSecretFormat);
    return this.#readSecret;
  }

  /** Reads the secret again after `used` was refused; whether it changed. */
  async #secretChanged(used: ClientSecret): Promise<boolean> {
    if (this.#credential.kind !== "secret_reader") return false;
    // Another request may have read it again meanwhile.
    if (this.#readSecret !== undefined && this.#readSecret !== used) return true;
    const fresh = await readSecret(this.#credential.read, this.#checkSecretFormat);
    this.#readSecret = fresh;
    return fresh.expose() !== used.expose();
  }

  toString(): string {
    return `TokenSource { tokenUrl: ${this.tokenUrl}, clientId: ${this.clientId}, authMethod: ${this.authMethod}, credential: [redacted] }`;
  }

  toJSON(): Record<string, unknown> {
    return {
      tokenUrl: this.tokenUrl,
      clientId: this.clientId,
      authMethod: this.authMethod,
      scope: this.scope,
      ...(this.dpop ? { dpop: this.dpop.toJSON() } : {}),
    };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** What proves the client, checked when the source is made. */
type Credential =
  | { kind: "secret"; secret: ClientSecret }
  | { kind: "secret_reader"; read: CredentialReader<ClientSecret | string> }
  | { kind: "assertion"; key: PrivateKey; audience: string }
  | { kind: "federated"; read: CredentialReader };

/** The one credential of `options`, checked before anything is sent. */
function credentialOf(options: TokenSourceOptions, checkFormat: boolean): Credential {
  const given = (["clientSecret", "privateKey", "federatedToken"] as const).filter((name) => options[name] !== undefined);
  if (given.length !== 1) {
    throw new ConfigError(
      given.length === 0
        ? "no credential: give clientSecret, privateKey or federatedToken (is CASEBOOK_CLIENT_SECRET set?)"
        : `${given.join(" and ")} do not go together: a client proves itself one way`,
    );
  }
  if (options.privateKey === undefined && options.audience !== undefined) {
    throw new ConfigError("audience applies to a private key (private_key_jwt) only");
  }
  if (options.clientSecret === undefined && options.authMethod !== undefined) {
    throw new ConfigError("authMethod applies to a client secret only");
  }
  if (options.privateKey !== undefined) {
    if (!(options.privateKey instanceof PrivateKey)) throw new ConfigError("privateKey must be a PrivateKey (PrivateKey.fromPem, fromJwk, …)");
    const audience = options.audience ?? issuerOf(options.tokenUrl);
    return { kind: "assertion", key: options.privateKey, audience };
  }
  if (options.federatedToken !== undefined) {
    if (typeof options.federatedToken !== "function") {
      throw new ConfigError("federatedToken is a function that reads the token (federatedTokenFile(path) of @casebook/sdk/node)");
    }
    return { kind: "federated", read: options.federatedToken };
  }
  const secret = options.clientSecret;
  if (typeof secret === "function") return { kind: "secret_reader", read: secret };
  const wrapped = secret instanceof ClientSecret ? secret : new ClientSecret(secret as string);
  if (wrapped.expose() === "") throw new ConfigError("the client secret is empty (is CASEBOOK_CLIENT_SECRET set?)");
  if (checkFormat && wrapped.shape === "mistyped") throw new MistypedSecretError();
  return { kind: "secret", secret: wrapped };
}

/** What a reader failed with, as an error that quotes no credential. */
function readerFailure(what: string, error: unknown): CasebookError {
  if (error instanceof CasebookError) return error;
  return new CredentialError(`${what} threw: ${(error as { message?: unknown })?.message ?? String(error)}`, { cause: error });
}

async function readSecret(read: CredentialReader<ClientSecret | string>, checkFormat: boolean): Promise<ClientSecret> {
  let value: ClientSecret | string;
  try {
    value = await read();
  } catch (error) {
    throw readerFailure("reading the client secret", error);
  }
  if (!(value instanceof ClientSecret) && typeof value !== "string") {
    throw new CredentialError("the client secret's reader gave neither a string nor a ClientSecret");
  }
  const secret = value instanceof ClientSecret ? value : new ClientSecret(value);
  if (secret.expose() === "") throw new CredentialError("the client secret read is empty");
  if (checkFormat && secret.shape === "mistyped") throw new MistypedSecretError();
  return secret;
}

/** The longest outside token believed: a projected service-account token is a few kilobytes. */
const MAX_FEDERATED_TOKEN_CHARS = 64 * 1024;

async function readFederatedToken(read: CredentialReader): Promise<string> {
  let value: string;
  try {
    value = await read();
  } catch (error) {
    throw readerFailure("reading the federated token", error);
  }
  if (typeof value !== "string") throw new CredentialError("the federated token's reader gave no string");
  const token = value.trim();
  if (token === "") throw new CredentialError("the federated token is empty");
  if (token.length > MAX_FEDERATED_TOKEN_CHARS) throw new CredentialError("the federated token is larger than 64 KiB, too large for a token");
  if (/[\s\u0000-\u001f\u007f]/.test(token)) throw new CredentialError("the federated token holds more than one token");
  return token;
}

/** RFC 6749 §2.3.1: both parts are form-urlencoded, then joined and base64ed. */
function basicAuthorization(clientId: string, secret: ClientSecret): string {
  const encode = (s: string) => new URLSearchParams({ v: s }).toString().slice(2);
  return `Basic ${btoa(`${encode(clientId)}:${encode(secret.expose())}`)}`;
}

function asCasebookError(error: unknown): CasebookError {
  if (error instanceof CasebookError) return error;
  return new UnexpectedResponseError(0, "the request failed unexpectedly", undefined, { cause: error });
}

interface Grant {
  accessToken: string;
  expiresInMs: number | undefined;
  scope: string | undefined;
}

/**
 * Reads a token endpoint's answer (RFC 6749 §5.1 and §5.2, RFC 9449 §5
 * and §7.1): a token of `tokenType`, or the error.
 */
export function readTokenResponse(status: number, body: string, retryAfterMs?: number, tokenType: TokenType = "Bearer"): Grant {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    const what = status >= 200 && status < 300 ? "an RFC 6749 token response" : "an RFC 6749 error response";
    throw new UnexpectedResponseError(status, `the body is not ${what}`, retryAfterMs, { cause });
  }
  const object = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (status >= 200 && status < 300) {
    const { access_token, token_type, expires_in, scope } = object;
    if (typeof access_token !== "string" || typeof token_type !== "string") {
      throw new UnexpectedResponseError(status, "the body is not an RFC 6749 token response", retryAfterMs);
    }
    if (token_type.toLowerCase() !== tokenType.toLowerCase()) {
      // Asked for DPoP, a Bearer token means a server that ignored the
      // proof: taking it would send an unbound token where a bound one was asked for.
      const why = tokenType === "DPoP" ? ": the server did not bind the token to the DPoP key (does it support DPoP?)" : "";
      throw new UnexpectedResponseError(status, `token_type ${JSON.stringify(token_type.slice(0, 32))} is not ${tokenType}${why}`);
    }
    if (access_token === "") throw new UnexpectedResponseError(status, "the access_token is empty");
    const seconds = typeof expires_in === "number" && Number.isFinite(expires_in) ? expires_in : undefined;
    return {
      accessToken: access_token,
      expiresInMs: seconds === undefined ? undefined : Math.min(Math.max(seconds, 0) * 1000, MAX_LIFETIME_MS),
      scope: typeof scope === "string" ? scope : undefined,
    };
  }
  const { error, error_description } = object;
  if (typeof error !== "string") {
    throw new UnexpectedResponseError(status, "the body is not an RFC 6749 error response", retryAfterMs);
  }
  const description = typeof error_description === "string" ? error_description : undefined;
  if (error === "invalid_dpop_proof" || error === "use_dpop_nonce") throw new DPoPProofError(error, description, status);
  if (!(OAUTH_CODES as readonly string[]).includes(error)) {
    throw new UnexpectedResponseError(
      status,
      `unknown OAuth error code ${JSON.stringify(error.slice(0, 64))}`,
      retryAfterMs,
    );
  }
  throw new OAuthError(error as OAuthErrorCode, description, status, retryAfterMs);
}
