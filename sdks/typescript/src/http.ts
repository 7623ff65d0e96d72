/** One HTTP exchange over `fetch`, with its failures sorted into the SDK's errors. */

import { ConfigError, TimeoutError, TransportError, UnexpectedResponseError, ValidationError } from "./errors.js";
import { parseRetryAfter } from "./retry.js";

export type Fetch = typeof globalThis.fetch;

export interface HttpSettings {
  fetch: Fetch;
  timeoutMs: number;
  userAgent: string | undefined;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
  retryAfterMs: number | undefined;
}

/** Node's codes for a connection that was never opened: nothing reached the server. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

function notSent(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === "string" && NOT_SENT_CODES.has(cause.code);
}

/**
 * Sends one request and reads the whole answer. Redirects are not
 * followed, so credentials never go to another address; one is an
 * unexpected answer.
 */
export async function exchange(settings: HttpSettings, url: string, init: RequestInit): Promise<Answer> {
  const headers = new Headers(init.headers);
  if (settings.userAgent) headers.set("user-agent", settings.userAgent);
  const signal = AbortSignal.timeout(settings.timeoutMs);
  let response: Response;
  try {
    response = await settings.fetch(url, { ...init, headers, redirect: "manual", signal });
  } catch (error) {
    throw sorted(error, signal, false);
  }
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
  // A browser hands a manual redirect over as an opaque answer of status 0.
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    throw new UnexpectedResponseError(
      response.status,
      "the server redirected; redirects are not followed, so credentials never go elsewhere",
      retryAfterMs,
    );
  }
  let body: string;
  try {
    body = await response.text();
  } catch (error) {
    throw sorted(error, signal, true);
  }
  return { status: response.status, headers: response.headers, body, retryAfterMs };
}

function sorted(error: unknown, signal: AbortSignal, answered: boolean): Error {
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
