/**
 * The client: one credential and the request loop every call goes through
 * (authorization, retries, error mapping).
 */

import type { PrivateKey } from "./assertion.js";
import type { DPoPOption } from "./dpop.js";
import {
  ApiError,
  CasebookError,
  ConfigError,
  DPoPProofError,
  TimeoutError,
  TransportError,
  UnexpectedResponseError,
  withRequestId,
} from "./errors.js";
import type { Problem } from "./errors.js";
import { checkForm } from "./forms.js";
import type { FormName } from "./forms.js";
import type { paths } from "./generated/openapi.js";
import { checkedBaseUrl, endpoint, exchange, newIdempotencyKey, route } from "./http.js";
import type { Answer, Fetch, HttpSettings } from "./http.js";
import type { Instrumentation } from "./instrument.js";
import { RetryPolicy, keyedVerdict, retryVerdict, sleep } from "./retry.js";
import type { RetryOptions } from "./retry.js";
import { ClientSecret } from "./secret.js";
import { AccessToken, TokenSource } from "./token.js";
import type { ClientAuthMethod, CredentialReader } from "./token.js";

export type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

/** A path of the OpenAPI document, e.g. `/api/v1/engage/cases/{id}`. */
export type Route = keyof paths & string;

export interface ClientOptions {
  /**
   * The Casebook's base URL: the **Callback URL** cb Admin shows for every
   * application, e.g. `https://casebook.example.org`. `undefined` (an
   * environment variable not set) is a {@link ConfigError} that says so.
   */
  baseUrl: string | URL | undefined;
  /**
   * Act as a registered external application: its Client ID, with
   * {@link clientSecret}, {@link privateKey} or {@link federatedToken}.
   */
  clientId?: string | undefined;
  /**
   * The client secret: a string (surrounding whitespace, such as the
   * newline a file or a Kubernetes Secret ends in, is dropped), a
   * {@link ClientSecret}, or a reader of it that is asked again after an
   * `invalid_client`, so that a rotated secret is picked up
   * (`clientSecretFile(path)` of `@casebook/sdk/node`).
   */
  clientSecret?: ClientSecret | string | CredentialReader<ClientSecret | string> | undefined;
  /** For an application registered for `private_key_jwt`: its key (see {@link PrivateKey}). */
  privateKey?: PrivateKey;
  /** With `privateKey`: the issuer the assertions are addressed to; the base URL's by default. */
  audience?: string;
  /**
   * For a workload with a federated credential: a reader of its platform's
   * token, asked for every token request (`federatedTokenFile(path)` of
   * `@casebook/sdk/node`).
   */
  federatedToken?: CredentialReader;
  /**
   * A client that acts as nobody: to sign a person in (`signIn`), or to ask
   * for a password reset. Without credentials and without this, `new
   * Client` throws a {@link ConfigError}: an environment variable left
   * unset should not make a client that silently calls as nobody.
   */
  anonymous?: boolean;
  /**
   * Check a client secret's format offline, refusing a mistyped one
   * (default true); off for another server's secrets.
   */
  checkSecretFormat?: boolean;
  authMethod?: ClientAuthMethod;
  /** Space-separated permissions to ask for; all the application's roles grant when unset. */
  scope?: string;
  refreshAheadMs?: number;
  /**
   * Act with the tokens of a {@link TokenSource} made elsewhere, instead of
   * {@link clientId} and {@link clientSecret}: clients given the same one
   * share one token and one refresh. The token settings (`clientId`,
   * `clientSecret`, `authMethod`, `scope`, `refreshAheadMs`, `clock`, `dpop`) are
   * then the source's, so giving any of them too is a {@link ConfigError};
   * `retry`, `timeoutMs`, `fetch` and `userAgent` still apply to this
   * client's API calls, while the source keeps its own for token requests.
   */
  tokenSource?: TokenSource;
  retry?: RetryPolicy | RetryOptions;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  fetch?: Fetch;
  /** Sent as `User-Agent` where the platform allows (not in browsers). */
  userAgent?: string;
  /** Allow plain http to a host other than loopback: for a closed test network only. */
  allowInsecureHttp?: boolean;
  /** A monotonic clock in ms for the token cache; `performance.now` unless set. */
  clock?: () => number;
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): `true` for an ES256 key
   * pair the SDK generates with WebCrypto (its private key
   * non-extractable), a `CryptoKeyPair` of your own (ES256, RS256, PS256 or
   * EdDSA), or a {@link DPoPKey}. Token requests and API calls then carry a
   * proof signed with it, and tokens go as `Authorization: DPoP`; a
   * server's `use_dpop_nonce` is answered by sending again, once, with its
   * nonce.
   */
  dpop?: DPoPOption;
  /**
   * Hooks around every try of every request (its token requests too,
   * unless the client was given a `tokenSource`, which has its own), for
   * tracing and metrics: see {@link Instrumentation}.
   */
  instrument?: Instrumentation;
  /**
   * Check forms offline before sending (default true), by the server's own
   * rules (`sdks/fixtures/form-rules.json`): a form the server would refuse
   * for its shape or its text's length and characters is a
   * {@link ValidationError}, with the server's codes and words, and
   * nothing is sent. Rules that need the server's data (a role that
   * exists, an address in use) are the server's to judge.
   */
  checkForms?: boolean;
}

type Auth =
  | { kind: "anonymous" }
  | { kind: "application"; tokens: TokenSource }
  | { kind: "session"; token: string };

interface Core {
  base: URL;
  http: HttpSettings;
  retry: RetryPolicy;
  checkForms: boolean;
}

export type Query = Record<string, string | undefined>;

/** What a call sends beside its method and route. */
export interface CallOptions {
  /** The route's `{name}` parameters. */
  params?: Readonly<Record<string, string>>;
  query?: Query;
  body?: unknown;
  /** The form `body` is, checked offline before sending. */
  form?: FormName;
}

/** Where the server takes an `Idempotency-Key`. */
const KEYED_PREFIXES = ["/api/v1/", "/admin/v1/"];

/**
 * The request loop shared by a client and the session clients made from it.
 * @internal
 */
export class Transport {
  readonly #core: Core;
  readonly #auth: Auth;

  constructor(core: Core, auth: Auth) {
    this.#core = core;
    this.#auth = auth;
  }

  get base(): URL {
    return this.#core.base;
  }

  get tokenSource(): TokenSource | undefined {
    return this.#auth.kind === "application" ? this.#auth.tokens : undefined;
  }

  withSession(token: string): Transport {
    return new Transport(this.#core, { kind: "session", token });
  }

  /** The same settings acting as nobody: the second step of a sign-in. */
  anonymous(): Transport {
    return new Transport(this.#core, { kind: "anonymous" });
  }

  /** A call whose answer is JSON. */
  async json<T>(method: Method, template: Route, options: CallOptions = {}): Promise<T> {
    const answer = await this.#call(method, template, options);
    try {
      return JSON.parse(answer.body) as T;
    } catch (cause) {
      throw withRequestId(
        new UnexpectedResponseError(answer.status, "the body is not the documented JSON", undefined, { cause }),
        answer.requestId,
      );
    }
  }

  /** A call whose answer has no body worth reading (204). */
  async empty(method: Method, template: Route, options: CallOptions = {}): Promise<void> {
    await this.#call(method, template, options);
  }

  #call(method: Method, template: Route, options: CallOptions): Promise<Answer> {
    if (options.form !== undefined && this.#core.checkForms) checkForm(options.form, options.body);
    const url = route(this.#core.base, template, options.params, options.query);
    return this.#execute(method, template, url, options.body);
  }

  /**
   * The credential headers of one try: `Authorization`, and with a DPoP
   * token a fresh proof of the key for this method and URL (RFC 9449 §7).
   */
  async #authorization(method: Method, url: string, headers: Record<string, string>): Promise<AccessToken | undefined> {
    switch (this.#auth.kind) {
      case "anonymous":
        return undefined;
      case "session":
        headers.authorization = `Bearer ${this.#auth.token}`;
        return undefined;
      case "application": {
        const tokens = this.#auth.tokens;
        const token = await tokens.token();
        if (token.tokenType === "DPoP" && tokens.dpop) {
          headers.authorization = `DPoP ${token.secret()}`;
          headers.dpop = await tokens.dpop.proof(method, url, token.secret());
        } else {
          headers.authorization = `Bearer ${token.secret()}`;
        }
        return token;
      }
    }
  }

  /**
   * One call, with its retries. A POST to the API carries an
   * `Idempotency-Key`, made for the call and the same on every try: the
   * server answers a repeat with its first answer (`Idempotent-Replayed`)
   * rather than acting twice, so a POST made as an application or a
   * signed-in person is retried as a GET is, a timeout included. (The
   * server keeps keys per account: a POST made as nobody, a sign-in, is
   * still retried only when the server certainly did not act.)
   */
  async #execute(method: Method, template: Route, url: string, body: unknown): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const idempotencyKey =
      method === "POST" && KEYED_PREFIXES.some((prefix) => template.startsWith(prefix)) ? newIdempotencyKey() : undefined;
    const keyed = idempotencyKey !== undefined && this.#auth.kind !== "anonymous";
    let renewedToken = false;
    let nonceRetried = false;
    let mayBeRunning = false;
    for (let retries = 0, attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
      const token = await this.#authorization(method, url, headers);
      const dpop = headers.dpop === undefined ? undefined : this.tokenSource?.dpop;
      if (payload !== undefined) headers["content-type"] = "application/json";
      let error: CasebookError;
      try {
        const answer = await exchange(
          this.#core.http,
          url,
          { method, headers, ...(payload === undefined ? {} : { body: payload }) },
          { kind: "api", template, attempt, idempotencyKey },
        );
        // Success or error alike, the latest nonce is the one to send next.
        const gotNonce = dpop?.rememberNonce(url, answer.headers) === true;
        if (answer.status >= 200 && answer.status < 300) return answer;
        // RFC 6750 §3.1: the token was refused (revoked, expired early,
        // signing key rotated). Once per call, forget it and try a new one.
        const challenge = answer.headers.get("www-authenticate") ?? "";
        if (answer.status === 401 && challenge.includes("invalid_token") && token && !renewedToken) {
          this.tokenSource?.invalidate(token);
          renewedToken = true;
          continue;
        }
        const refusedProof = dpop && answer.status === 401 ? dpopRefusal(challenge) : undefined;
        // RFC 9449 §9: the resource server wants its nonce in the proof.
        // The call did nothing, so once per call it goes again with it.
        if (refusedProof?.get("error") === "use_dpop_nonce" && gotNonce && !nonceRetried) {
          nonceRetried = true;
          continue;
        }
        if (refusedProof !== undefined) {
          error = dpopProofError(refusedProof, answer.status, answer.body);
        } else {
          const scope = answer.status === 403 ? requiredScope(challenge) : undefined;
          error = problem(answer.status, answer.body, answer.retryAfterMs, scope);
        }
        withRequestId(error, answer.requestId);
        // A replayed answer is the first try's: nothing is running any more.
        if (answer.replayed) mayBeRunning = false;
      } catch (thrown) {
        if (!(thrown instanceof CasebookError)) throw thrown;
        error = thrown;
      }
      // A POST with an idempotency key is repeated as a GET is, and a 409
      // to it waited out while an earlier try may still be running there;
      // without one, a POST or PATCH is repeated only when the server
      // certainly did not act: a timeout or a 500 may have followed an action.
      const verdict = keyed
        ? keyedVerdict(this.#core.retry, error, retries, mayBeRunning)
        : retryVerdict(this.#core.retry, method, error, retries);
      // A try that got no whole answer may have reached the server and still run there.
      if (error instanceof TimeoutError || (error instanceof TransportError && !error.notSent)) mayBeRunning = true;
      if (!verdict.retry) throw error;
      await sleep(verdict.delayMs);
      retries++;
    }
  }
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * The `scope` of an RFC 6750 `insufficient_scope` challenge, e.g. from
 * `Bearer realm="casebook", error="insufficient_scope", scope="engage:delete"`.
 */
function requiredScope(header: string): string | undefined {
  return challenges(header).find((c) => c.get("error") === "insufficient_scope")?.get("scope");
}

/**
 * A `DPoP` challenge refusing the proof (RFC 9449 §7.1, §9), e.g.
 * `DPoP error="use_dpop_nonce"` or `DPoP error="invalid_dpop_proof", algs="ES256 EdDSA"`.
 */
function dpopRefusal(header: string): Map<string, string> | undefined {
  return challenges(header).find((c) => {
    const error = c.get("error");
    return c.get(SCHEME) === "dpop" && (error === "use_dpop_nonce" || error === "invalid_dpop_proof");
  });
}

function dpopProofError(challenge: Map<string, string>, status: number, body: string): DPoPProofError {
  const code = challenge.get("error") === "use_dpop_nonce" ? "use_dpop_nonce" : "invalid_dpop_proof";
  let description = challenge.get("error_description");
  if (description === undefined) {
    // The problem's detail, if the body is one.
    try {
      const detail = (JSON.parse(body) as { detail?: unknown } | null)?.detail;
      if (typeof detail === "string" && detail !== "") description = detail;
    } catch {
      // No body worth reading: the challenge says it all.
    }
  }
  const algorithms = (challenge.get("algs") ?? "").split(" ").filter((a) => a !== "");
  return new DPoPProofError(code, description, status, algorithms);
}

/** The key under which {@link challenges} files each challenge's scheme, lower-cased; no auth-param is named so. */
const SCHEME = " scheme";

const TOKEN = /[\w!#$%&'*+.^`|~-]+/y;
const BARE = /[^\s,]*/y;

/**
 * The auth-params of each challenge in a `WWW-Authenticate` value (RFC 9110
 * §11.2), by lower-cased name. `fetch` joins repeated headers with commas,
 * and a challenge's params are comma-separated too: a token followed by
 * `=` is a param, any other token starts the next challenge.
 */
function challenges(header: string): Map<string, string>[] {
  const found: Map<string, string>[] = [];
  let current: Map<string, string> | undefined;
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i] ?? "")) i++;
  };
  while (i < header.length) {
    skip(/[\s,]/);
    TOKEN.lastIndex = i;
    const token = TOKEN.exec(header)?.[0];
    if (token === undefined) {
      i++;
      continue;
    }
    i += token.length;
    skip(/[ \t]/);
    if (header[i] !== "=" || current === undefined) {
      current = new Map([[SCHEME, token.toLowerCase()]]);
      found.push(current);
      continue;
    }
    i++;
    skip(/[ \t]/);
    let value = "";
    if (header[i] === '"') {
      for (i++; i < header.length && header[i] !== '"'; i++) {
        if (header[i] === "\\") i++;
        value += header[i] ?? "";
      }
      i++;
    } else {
      // Leniently to the next separator: scopes hold ":", which a strict
      // token does not.
      BARE.lastIndex = i;
      value = BARE.exec(header)?.[0] ?? "";
      i += value.length;
    }
    current.set(token.toLowerCase(), value);
  }
  return found;
}

/**
 * The token of each 401 that asks for the second step of a sign-in, kept
 * off the error (its `problem` goes without it) so that no log shows it;
 * `Client.signIn` turns such an error into a `SecondFactorRequiredError`.
 */
const mfaTokens = new WeakMap<CasebookError, string>();

/** The second-step token a sign-in's 401 carried, if it did. @internal */
export function mfaTokenOf(error: unknown): string | undefined {
  return error instanceof CasebookError ? mfaTokens.get(error) : undefined;
}

/** An RFC 9457 problem, read leniently; an empty body is the status alone. */
export function problem(status: number, body: string, retryAfterMs?: number, requiredScope?: string): CasebookError {
  const reason = REASONS[status] ?? "Error";
  if (body.trim() === "") {
    return new ApiError(status, { type: "about:blank", title: reason, status, detail: "" }, retryAfterMs, requiredScope);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    return new UnexpectedResponseError(status, "the body is not an RFC 9457 problem", retryAfterMs, { cause });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return new UnexpectedResponseError(status, "the body is not an RFC 9457 problem", retryAfterMs);
  }
  const p = parsed as Partial<Problem>;
  const title = typeof p.title === "string" && p.title !== "" ? p.title : reason;
  const detail = typeof p.detail === "string" ? p.detail : "";
  const errors = Array.isArray(p.errors)
    ? p.errors.filter((e) => typeof e?.field === "string" && typeof e?.code === "string")
    : null;
  const missing = Array.isArray(p.missing_permissions)
    ? p.missing_permissions.filter((m) => typeof m === "string")
    : null;
  const read: Problem = {
    ...(p as Problem),
    type: typeof p.type === "string" && p.type !== "" ? p.type : "about:blank",
    title,
    status,
    detail,
    errors,
    missing_permissions: missing,
  };
  if (status === 401 && p.mfa_required === true && typeof p.mfa_token === "string" && p.mfa_token !== "") {
    const { mfa_token: _hidden, ...shown } = read;
    const error = new ApiError(status, shown, retryAfterMs, requiredScope);
    mfaTokens.set(error, p.mfa_token);
    return error;
  }
  return new ApiError(status, read, retryAfterMs, requiredScope);
}

/** The options that make a client act as an application, when no token source is given. */
const CREDENTIALS = ["clientId", "clientSecret", "privateKey", "federatedToken"] as const;

/** Builds the transport of a {@link ClientOptions}. @internal */
export function transportFor(options: ClientOptions): Transport {
  if (options.baseUrl === undefined || options.baseUrl === null || String(options.baseUrl).trim() === "") {
    throw new ConfigError("baseUrl is not set (is CASEBOOK_URL set?): the Casebook's Callback URL, e.g. https://casebook.example.org");
  }
  const base = checkedBaseUrl(String(options.baseUrl), options.allowInsecureHttp ?? false);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") throw new ConfigError("no fetch: pass one as the fetch option");
  const retry = options.retry instanceof RetryPolicy ? options.retry : new RetryPolicy(options.retry);
  const http: HttpSettings = {
    fetch: (input, init) => fetchImpl(input, init),
    timeoutMs: options.timeoutMs ?? 30_000,
    userAgent: options.userAgent,
    instrument: options.instrument,
  };
  const core: Core = { base, http, retry, checkForms: options.checkForms ?? true };
  const credentials = CREDENTIALS.filter((name) => options[name] !== undefined);
  if (options.anonymous !== undefined && options.anonymous !== false) {
    if (options.anonymous !== true) throw new ConfigError("anonymous is true or false");
    const given = [...credentials, ...(options.tokenSource === undefined ? [] : ["tokenSource"])];
    if (given.length > 0) throw new ConfigError(`anonymous and ${given.join(", ")} do not go together`);
    return new Transport(core, { kind: "anonymous" });
  }
  if (options.tokenSource !== undefined) {
    return new Transport(core, { kind: "application", tokens: givenTokenSource(options) });
  }
  if (credentials.length === 0) {
    throw new ConfigError(
      "no credentials: give clientId with clientSecret, privateKey or federatedToken (are CASEBOOK_CLIENT_ID and " +
        "CASEBOOK_CLIENT_SECRET set?), or a tokenSource; a client that only signs people in takes anonymous: true",
    );
  }
  if (options.clientId === undefined || options.clientId.trim() === "") {
    throw new ConfigError(`${credentials.join(", ")} without a clientId (is CASEBOOK_CLIENT_ID set?)`);
  }
  if (credentials.length === 1) {
    throw new ConfigError("clientId without clientSecret, privateKey or federatedToken (is CASEBOOK_CLIENT_SECRET set?)");
  }
  const tokens = new TokenSource({
    tokenUrl: endpoint(base, ["oauth2", "token"]),
    clientId: options.clientId,
    retry,
    timeoutMs: http.timeoutMs,
    fetch: fetchImpl,
    ...(options.clientSecret === undefined ? {} : { clientSecret: options.clientSecret }),
    ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
    ...(options.audience === undefined ? {} : { audience: options.audience }),
    ...(options.federatedToken === undefined ? {} : { federatedToken: options.federatedToken }),
    ...(options.checkSecretFormat === undefined ? {} : { checkSecretFormat: options.checkSecretFormat }),
    ...(options.allowInsecureHttp === undefined ? {} : { allowInsecureHttp: options.allowInsecureHttp }),
    ...(options.authMethod === undefined ? {} : { authMethod: options.authMethod }),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.refreshAheadMs === undefined ? {} : { refreshAheadMs: options.refreshAheadMs }),
    ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.dpop === undefined ? {} : { dpop: options.dpop }),
    ...(options.instrument === undefined ? {} : { instrument: options.instrument }),
  });
  return new Transport(core, { kind: "application", tokens });
}

/** The token settings a given {@link TokenSource} already holds. */
const TOKEN_SETTINGS = [
  "clientId",
  "clientSecret",
  "privateKey",
  "audience",
  "federatedToken",
  "checkSecretFormat",
  "authMethod",
  "scope",
  "refreshAheadMs",
  "clock",
  "dpop",
] as const;

function givenTokenSource(options: ClientOptions): TokenSource {
  const source = options.tokenSource;
  // A plain object would fail only at the first call, far from the mistake.
  if (!(source instanceof TokenSource)) throw new ConfigError("tokenSource must be a TokenSource");
  // Silently dropping them would leave a client asking for another scope,
  // or as another application, than its options say.
  const clashing = TOKEN_SETTINGS.filter((name) => options[name] !== undefined);
  if (clashing.length > 0) {
    throw new ConfigError(
      `tokenSource and ${clashing.join(", ")} do not go together: the source holds its own credentials and token settings`,
    );
  }
  return source;
}
