/**
 * Hooks around every HTTP exchange, for tracing and metrics (OpenTelemetry
 * or anything else) without a dependency on any of them.
 */

import type { CasebookError } from "./errors.js";

/** What a request is: a call to the API (`/api/v1`, `/admin/v1`) or a token request. */
export type RequestKind = "api" | "token";

/** One try of a request, about to be sent. */
export interface RequestEvent {
  readonly kind: RequestKind;
  /** `GET`, `POST`, … */
  readonly method: string;
  /** The whole URL, query included. It never holds a credential. */
  readonly url: string;
  /**
   * The route as the OpenAPI document names it, with its parameters
   * unfilled, e.g. `/api/v1/engage/cases/{id}`; a token request's is its
   * URL's path (`/oauth2/token`). Bounded: fit for a span name or a
   * metric label, where `url` is not.
   */
  readonly urlTemplate: string;
  /** 0 for the first try of a call, 1 for its first retry, … */
  readonly attempt: number;
  /** The `X-Request-Id` this try is sent with, which the server logs and answers with. */
  readonly requestId: string;
  /** The `Idempotency-Key` of the call (the same on each of its tries), on a POST to the API. */
  readonly idempotencyKey: string | undefined;
  /**
   * Sets a header on this try, such as W3C `traceparent`, `tracestate` or
   * `baggage`, which the server continues its trace from. The headers the
   * SDK owns (`authorization`, `dpop`, `content-type`, `accept`,
   * `idempotency-key`, `x-request-id`, `user-agent`) cannot be set: a
   * {@link ConfigError} says so.
   */
  setHeader(name: string, value: string): void;
}

/** How one try ended. */
export interface ResponseEvent {
  readonly kind: RequestKind;
  readonly method: string;
  readonly url: string;
  readonly urlTemplate: string;
  readonly attempt: number;
  readonly idempotencyKey: string | undefined;
  /** The HTTP status, or `undefined` when no answer came (a timeout, a connection failure). */
  readonly status: number | undefined;
  /** From just before the request was sent to the end of the answer's body, in ms. */
  readonly durationMs: number;
  /** The server's `X-Request-Id`, or the one sent when no answer came. */
  readonly requestId: string;
  /** The answer is one the server gave before, to this key (`Idempotent-Replayed: true`). */
  readonly replayed: boolean;
  /** Why no answer came: a {@link TimeoutError} or a {@link TransportError}. Error statuses are in `status`. */
  readonly error: CasebookError | undefined;
}

/**
 * The `instrument` option of a client or token source. `onRequest` runs
 * before each try is sent (each retry too); what it returns is handed to
 * `onResponse` with the outcome of that try: a span, say, or a start
 * time. A hook that throws is ignored: instrumentation never fails a call.
 *
 * ```js
 * const casebook = new Client({ baseUrl, clientId, clientSecret, instrument: {
 *   onRequest: (r) => console.time(r.requestId),
 *   onResponse: (r) => console.log(r.method, r.urlTemplate, r.status, r.durationMs, r.requestId),
 * }});
 * ```
 */
export interface Instrumentation {
  onRequest?(event: RequestEvent): unknown;
  onResponse?(event: ResponseEvent, context: unknown): void;
}

/** Headers only the SDK sets. */
export const OWN_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "dpop",
  "content-type",
  "accept",
  "idempotency-key",
  "x-request-id",
  "user-agent",
  "cookie",
]);
