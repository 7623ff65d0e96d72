/**
 * The client: one credential and the request loop every call goes through
 * (authorization, retries, error mapping).
 */

import type { DPoPOption } from "./dpop.js";
import { ApiError, CasebookError, ConfigError, DPoPProofError, UnexpectedResponseError } from "./errors.js";
import type { Problem } from "./errors.js";
import { checkedBaseUrl, endpoint, exchange } from "./http.js";
import type { Fetch, HttpSettings } from "./http.js";
import { RetryPolicy, retryVerdict, sleep } from "./retry.js";
import type { RetryOptions } from "./retry.js";
import { ClientSecret } from "./secret.js";
import { AccessToken, TokenSource } from "./token.js";
import type { ClientAuthMethod } from "./token.js";

export type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

export interface ClientOptions {
  /**
   * The Casebook's base URL: the **Callback URL** cb Admin shows for every
   * application, e.g. `https://casebook.example.org`.
   */
  baseUrl: string;
  /** With {@link clientSecret}: act as a registered external application. */
  clientId?: string;
  clientSecret?: ClientSecret | string;
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
}

type Auth =
  | { kind: "anonymous" }
  | { kind: "application"; tokens: TokenSource }
  | { kind: "session"; token: string };

interface Core {
  base: URL;
  http: HttpSettings;
  retry: RetryPolicy;
}

export type Query = Record<string, string | undefined>;

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
  async json<T>(method: Method, segments: readonly string[], options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const answer = await this.#execute(method, endpoint(this.#core.base, segments, options.query), options.body);
    try {
      return JSON.parse(answer.body) as T;
    } catch (cause) {
      throw new UnexpectedResponseError(answer.status, "the body is not the documented JSON", undefined, { cause });
    }
  }

  /** A call whose answer has no body worth reading (204). */
  async empty(method: Method, segments: readonly string[], body?: unknown): Promise<void> {
    await this.#execute(method, endpoint(this.#core.base, segments), body);
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

  async #execute(method: Method, url: string, body: unknown): Promise<{ status: number; body: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let renewedToken = false;
    let nonceRetried = false;
    for (let retries = 0; ; ) {
      const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
      const token = await this.#authorization(method, url, headers);
      const dpop = headers.dpop === undefined ? undefined : this.tokenSource?.dpop;
      if (payload !== undefined) headers["content-type"] = "application/json";
      let error: CasebookError;
      try {
        const answer = await exchange(this.#core.http, url, {
          method,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
        });
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
      } catch (thrown) {
        if (!(thrown instanceof CasebookError)) throw thrown;
        error = thrown;
      }
      // A POST or PATCH is repeated only when the server certainly did not
      // act: a timeout or a 500 may have followed an action.
      const verdict = retryVerdict(this.#core.retry, method, error, retries);
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

/** Builds the transport of a {@link ClientOptions}. @internal */
export function transportFor(options: ClientOptions): Transport {
  const base = checkedBaseUrl(options.baseUrl, options.allowInsecureHttp ?? false);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") throw new ConfigError("no fetch: pass one as the fetch option");
  const retry = options.retry instanceof RetryPolicy ? options.retry : new RetryPolicy(options.retry);
  const http: HttpSettings = {
    fetch: (input, init) => fetchImpl(input, init),
    timeoutMs: options.timeoutMs ?? 30_000,
    userAgent: options.userAgent,
  };
  const core: Core = { base, http, retry };
  if (options.tokenSource !== undefined) {
    return new Transport(core, { kind: "application", tokens: givenTokenSource(options) });
  }
  if (options.clientId === undefined && options.clientSecret === undefined) {
    return new Transport(core, { kind: "anonymous" });
  }
  if (!options.clientId || options.clientSecret === undefined) {
    throw new ConfigError("clientId and clientSecret go together");
  }
  const tokens = new TokenSource({
    tokenUrl: endpoint(base, ["oauth2", "token"]),
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    retry,
    timeoutMs: http.timeoutMs,
    fetch: fetchImpl,
    ...(options.allowInsecureHttp === undefined ? {} : { allowInsecureHttp: options.allowInsecureHttp }),
    ...(options.authMethod === undefined ? {} : { authMethod: options.authMethod }),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.refreshAheadMs === undefined ? {} : { refreshAheadMs: options.refreshAheadMs }),
    ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.dpop === undefined ? {} : { dpop: options.dpop }),
  });
  return new Transport(core, { kind: "application", tokens });
}

/** The token settings a given {@link TokenSource} already holds. */
const TOKEN_SETTINGS = ["clientId", "clientSecret", "authMethod", "scope", "refreshAheadMs", "clock", "dpop"] as const;

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
