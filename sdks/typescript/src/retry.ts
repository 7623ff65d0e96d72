/** When and how long to wait before trying a failed request again. */

import { certainlyNotActed } from "./errors.js";
import type { CasebookError } from "./errors.js";

export interface RetryOptions {
  /** How many times a failed request is tried again, not counting the first try (default 3). */
  maxRetries?: number;
  /** The backoff before the first retry, in ms; it doubles with each further retry (default 250). */
  initialBackoffMs?: number;
  /** The longest computed backoff, in ms (default 8000). */
  maxBackoffMs?: number;
  /** The longest `Retry-After` waited out, in ms; a longer one ends the retries (default 60000). */
  maxRetryAfterMs?: number;
}

/**
 * How transient failures (timeouts, connection failures, 408, 429, 5xx) are
 * retried: exponential backoff with jitter, a bounded number of times. A
 * `Retry-After` from the server replaces the computed backoff.
 *
 * A POST to the API carries an `Idempotency-Key`, the same on every try
 * of one call, so the server answers a repeat with its first answer
 * instead of acting twice: it is retried as a GET is. Other requests that
 * may change something (PATCH, a POST without a session or token, and
 * every token request) are retried only when the server certainly did not
 * act on them: the connection could not be opened, or the answer was 429,
 * or a 503 with `Retry-After` (or the token endpoint's
 * `temporarily_unavailable`). A timeout, a dropped connection, a bare 503
 * (a proxy's, whose upstream may have had the request) or another 5xx may
 * have followed an action, so those are thrown rather than risk doing it
 * twice.
 */
export class RetryPolicy {
  readonly maxRetries: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly maxRetryAfterMs: number;

  constructor(options: RetryOptions = {}) {
    this.maxRetries = options.maxRetries ?? 3;
    this.initialBackoffMs = options.initialBackoffMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 8000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  }

  /** Never retry. */
  static none(): RetryPolicy {
    return new RetryPolicy({ maxRetries: 0 });
  }

  /**
   * The wait before retry number `retry` (0 for the first), or `undefined`
   * when the retries are spent or the server asked for too long a wait.
   */
  delay(retry: number, retryAfterMs?: number): number | undefined {
    if (retry >= this.maxRetries) return undefined;
    if (retryAfterMs !== undefined) {
      return retryAfterMs <= this.maxRetryAfterMs ? retryAfterMs : undefined;
    }
    const exponential = Math.min(this.initialBackoffMs * 2 ** Math.min(retry, 31), this.maxBackoffMs);
    // "Equal jitter": at least half the backoff, so clients that failed
    // together spread out without any of them retrying at once.
    const half = exponential / 2;
    return half + half * Math.random();
  }
}

/**
 * Why a failed request is sent again (`safe_to_repeat`: its method cannot
 * act twice; `not_acted`: the server certainly did not act on it), or is
 * not (`permanent`, `may_have_acted`, `retries_spent`, `wait_too_long`).
 * The names of `sdks/fixtures/retry-verdicts.json`, which the Rust SDK's
 * tests read too. @internal
 */
export type RetryWhy =
  | "safe_to_repeat"
  | "not_acted"
  | "permanent"
  | "may_have_acted"
  | "retries_spent"
  | "wait_too_long"
  /** A POST with an `Idempotency-Key`, which the server does once. */
  | "keyed"
  /** A keyed POST answered 409 while an earlier try may still be running on the server. */
  | "still_running";

/** A retry verdict: the wait before sending again, or why not. @internal */
export type RetryVerdict = { retry: true; delayMs: number; why: RetryWhy } | { retry: false; why: RetryWhy };

/** Methods that name an end state: sending one twice does no harm. */
const IDEMPOTENT: readonly string[] = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"];

/**
 * Whether a `method` request that failed with `error`, after `retries`
 * retries already, is sent again, and after how long. Every request, the
 * token request (a POST) included, goes through this one rule: a request
 * that may change something is repeated only when the server certainly did
 * not act on it, since a timeout or a 500 may have followed an action.
 * @internal
 */
export function retryVerdict(policy: RetryPolicy, method: string, error: CasebookError, retries: number): RetryVerdict {
  if (!error.transient) return { retry: false, why: "permanent" };
  let why: RetryWhy;
  if (IDEMPOTENT.includes(method)) why = "safe_to_repeat";
  else if (certainlyNotActed(error)) why = "not_acted";
  else return { retry: false, why: "may_have_acted" };
  if (retries >= policy.maxRetries) return { retry: false, why: "retries_spent" };
  const delayMs = policy.delay(retries, error.retryAfterMs);
  return delayMs === undefined ? { retry: false, why: "wait_too_long" } : { retry: true, delayMs, why };
}

/**
 * {@link retryVerdict} for a POST carrying an `Idempotency-Key` the server
 * keeps (Casebook's `/api/v1` and `/admin/v1`, for a caller it knows): the
 * server does it once, so every transient failure is retried, as for a
 * GET. With `mayBeRunning` (an earlier try may have reached the server and
 * not finished, and this answer is no replay), a 409 is the server saying
 * that try is still at work: it is waited out within the same retries.
 * The Rust SDK's `keyed_verdict`, held to the same table
 * (`keyed_cases` of `sdks/fixtures/retry-verdicts.json`). @internal
 */
export function keyedVerdict(policy: RetryPolicy, error: CasebookError, retries: number, mayBeRunning: boolean): RetryVerdict {
  let why: RetryWhy;
  if (error.transient) why = certainlyNotActed(error) ? "not_acted" : "keyed";
  else if (mayBeRunning && error.status === 409) why = "still_running";
  else return { retry: false, why: "permanent" };
  if (retries >= policy.maxRetries) return { retry: false, why: "retries_spent" };
  const delayMs = policy.delay(retries, error.retryAfterMs);
  return delayMs === undefined ? { retry: false, why: "wait_too_long" } : { retry: true, delayMs, why };
}

/**
 * `Retry-After` in its delta-seconds form (RFC 9110 §10.2.3), in ms. The
 * HTTP-date form is ignored: the computed backoff then applies.
 */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (value == null) return undefined;
  const trimmed = value.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
