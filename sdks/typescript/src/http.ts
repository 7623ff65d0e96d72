/** One HTTP exchange over `fetch`, with its failures sorted into the SDK's errors. */

import { ConfigError, TimeoutError, TransportError, UnexpectedResponseError, ValidationError, withRequestId } from "./errors.js";
import type { CasebookError } from "./errors.js";
import { OWN_HEADERS } from "./instrument.js";
import type { Instrumentation, RequestKind } from "./instrument.js";
import { parseRetryAfter } from "./retry.js";

export type Fetch = typeof globalThis.fetch;

export interface HttpSettings {
  fetch: Fetch;
  timeoutMs: number;
  userAgent: string | undefined;
  instrument?: Instrumentation | undefined;
}

/** What one try is, for the request id, the instrumentation and the errors. */
export interface Try {
  kind: RequestKind;
  /** The OpenAPI path, e.g. `/api/v1/engage/cases/{id}`. */
  template: string;
  attempt: number;
  idempotencyKey?: string | undefined;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
  retryAfterMs: number | undefined;
  /** The server's `X-Request-Id`, or the one sent. */
  requestId: string;
  /** `Idempotent-Replayed: true`: the server's first answer to this key, again. */
  replayed: boolean;
}

/** Node's codes for a connection that was never opened: nothing reached the server. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

function notSent(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === "string" && NOT_SENT_CODES.has(cause.code);
}

/** `n` random bytes, from WebCrypto where the platform has it. */
export function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  if (typeof globalThis.crypto?.getRandomValues === "function") return globalThis.crypto.getRandomValues(bytes);
  for (let i = 0; i < n; i++) bytes[i] = Math.floor(Math.random() * 256);
  return bytes;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** A request id as the server makes its own: 128 random bits in 32 hex digits. */
export function newRequestId(): string {
  return hex(randomBytes(16));
}

/**
 * A fresh `Idempotency-Key`: a UUID (RFC 9562 version 4), 36 printable
 * characters, well within the server's 1 to 255.
 */
export function newIdempotencyKey(): string {
  const b = randomBytes(16);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A hook's outcome, ignored if it throws: instrumentation never fails a call. */
function quietly<T>(hook: () => T): T | undefined {
  try {
    return hook();
  } catch {
    return undefined;
  }
}

/**
 * Sends one request and reads the whole answer. Redirects are not
 * followed, so credentials never go to another address; one is an
 * unexpected answer. Every try carries an `X-Request-Id` of its own, which
 * the server adopts, and every error thrown names it.
 */
export async function exchange(settings: HttpSettings, url: string, init: RequestInit, attempt: Try): Promise<Answer> {
  const headers = new Headers(init.headers);
  if (settings.userAgent) headers.set("user-agent", settings.userAgent);
  const sentId = newRequestId();
  headers.set("x-request-id", sentId);
  if (attempt.idempotencyKey !== undefined) headers.set("idempotency-key", attempt.idempotencyKey);
  const method = init.method ?? "GET";
  const described = {
    kind: attempt.kind,
    method,
    url,
    urlTemplate: attempt.template,
    attempt: attempt.attempt,
    idempotencyKey: attempt.idempotencyKey,
  };
  const hooks = settings.instrument;
  let context: unknown;
  if (hooks?.onRequest) {
    const onRequest = hooks.onRequest.bind(hooks);
    const extra: [string, string][] = [];
    context = quietly(() =>
      onRequest({
        ...described,
        requestId: sentId,
        setHeader(name: string, value: string) {
          if (OWN_HEADERS.has(name.toLowerCase())) {
            throw new ConfigError(`the instrumentation cannot set ${name}: the SDK sets it`);
          }
          extra.push([name, value]);
        },
      }),
    );
    for (const [name, value] of extra) quietly(() => headers.set(name, value));
  }
  const started = performance.now();
  const finish = (status: number | undefined, requestId: string, replayed: boolean, error: CasebookError | undefined) => {
    const onResponse = hooks?.onResponse;
    if (!onResponse) return;
    const durationMs = performance.now() - started;
    quietly(() => onResponse.call(hooks, { ...described, status, durationMs, requestId, replayed, error }, context));
  };
  const signal = AbortSignal.timeout(settings.timeoutMs);
  let response: Response;
  try {
    response = await settings.fetch(url, { ...init, headers, redirect: "manual", signal });
  } catch (error) {
    const failure = withRequestId(sorted(error, signal, false), sentId);
    finish(undefined, sentId, false, failure instanceof ConfigError ? undefined : failure);
    throw failure;
  }
  const requestId = saneId(response.headers.get("x-request-id")) ?? sentId;
  const replayed = response.headers.get("idempotent-replayed")?.trim().toLowerCase() === "true";
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
  // A browser hands a manual redirect over as an opaque answer of status 0.
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    finish(response.status, requestId, replayed, undefined);
    throw withRequestId(
      new UnexpectedResponseError(
        response.status,
        "the server redirected; redirects are not followed, so credentials never go elsewhere",
        retryAfterMs,
      ),
      requestId,
    );
  }
  let body: string;
  try {
    body = await response.text();
  } catch (error) {
    const failure = withRequestId(sorted(error, signal, true), requestId);
    finish(response.status, requestId, replayed, failure);
    throw failure;
  }
  finish(response.status, requestId, replayed, undefined);
  return { status: response.status, headers: response.headers, body, retryAfterMs, requestId, replayed };
}

/** A request id fit to quote: bounded, visible ASCII (as the server takes one). */
function saneId(value: string | null): string | undefined {
  if (value === null) return undefined;
  return value.length > 0 && value.length <= 128 && /^[\x21-\x7e]+$/.test(value) ? value : undefined;
}

function sorted(error: unknown, signal: AbortSignal, answered: boolean): CasebookError {
  if (signal.aborted || (error as { name?: unknown } | null)?.name === "TimeoutError") {
    return new TimeoutError({ cause: error });
  }
  // fetch throws a TypeError for a URL or header it cannot use, and for
  // network failures alike; only the latter carry a cause.
  if (error instanceof TypeError && (error as { cause?: unknown }).cause === undefined && !answered) {
    const message = error.message;
    if (/invalid|header|url/i.test(message) && !/fetch failed|network/i.test(message)) {
      return new ConfigError(message);
    }
  }
  return new TransportError(!answered && notSent(error), { cause: error });
}

/** The base URL checked as the Rust SDK checks it: absolute http(s), no credentials, query or fragment. */
export function checkedBaseUrl(raw: string, allowInsecureHttp: boolean): URL {
  const url = checkedUrl(raw, allowInsecureHttp);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/**
 * A URL credentials may be sent to: absolute, https (or plain http to
 * loopback, or where the caller allows it), with no userinfo, query or
 * fragment. @internal
 */
export function checkedUrl(raw: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`${JSON.stringify(raw)} is not an absolute URL`);
  }
  if (url.protocol === "http:") {
    if (!allowInsecureHttp && !isLoopback(url.hostname)) {
      throw new ConfigError(
        `${url} is plain http on a non-loopback host: credentials would cross the network unencrypted; ` +
          "use https (or allowInsecureHttp for a closed test network)",
      );
    }
  } else if (url.protocol !== "https:") {
    throw new ConfigError(`${url}: scheme ${JSON.stringify(url.protocol.slice(0, -1))} is not http or https`);
  }
  if (!url.hostname) throw new ConfigError(`${url} has no host`);
  if (url.username || url.password) {
    throw new ConfigError("the URL must not carry credentials; pass them to the client");
  }
  if (url.search || url.hash || raw.includes("?") || raw.includes("#")) {
    throw new ConfigError(`${url} must not have a query or fragment`);
  }
  return url;
}

function isLoopback(host: string): boolean {
  const name = host.toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (name === "[::1]") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * `base` joined with an OpenAPI path template whose `{name}` parameters are
 * filled from `params`, each percent-encoded as one segment.
 */
export function route(
  base: URL,
  template: string,
  params: Readonly<Record<string, string>> = {},
  query?: Record<string, string | undefined>,
): string {
  const segments = template
    .split("/")
    .filter((s) => s !== "")
    .map((segment) => {
      const name = /^\{(\w+)\}$/.exec(segment)?.[1];
      if (name === undefined) return segment;
      const value = params[name];
      if (typeof value !== "string") {
        throw new ValidationError([{ field: name, code: "required", message: `${name} is required` }]);
      }
      return value;
    });
  return endpoint(base, segments, query);
}

/** `base` joined with path segments, each percent-encoded so that an id can never climb out of its path. */
export function endpoint(base: URL, segments: readonly string[], query?: Record<string, string | undefined>): string {
  const url = new URL(base.toString());
  for (const segment of segments) {
    // The URL parser resolves "..", and "%2e%2e" too: no encoding keeps such a segment in place.
    if (segment === "" || /^(\.|%2e){1,2}$/i.test(segment)) {
      throw new ValidationError([{ field: "id", code: "invalid_value", message: "an id cannot be empty, . or .." }]);
    }
  }
  url.pathname = base.pathname + segments.map((s) => encodeURIComponent(s)).join("/");
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.toString();
}
