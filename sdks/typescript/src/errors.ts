/**
 * Every way a call can fail, as classes a caller can tell apart with
 * `instanceof` (or by `kind`). No error ever holds a client secret,
 * password or token.
 */

import type { components } from "./generated/openapi.js";

export type OAuthErrorCode = components["schemas"]["OAuthErrorCode"];
export type ErrorCode = components["schemas"]["ErrorCode"];
export type FieldError = components["schemas"]["FieldError"];
export type Problem = components["schemas"]["Problem"];

let setRequestId: (error: CasebookError, requestId: string) => void;

/** The base of every error the SDK throws. */
export abstract class CasebookError extends Error {
  /** A stable name for the kind of failure, e.g. `"oauth"` or `"api"`. */
  abstract readonly kind: string;
  #requestId: string | undefined;

  static {
    setRequestId = (error, requestId) => {
      if (error.#requestId !== undefined) return;
      error.#requestId = requestId;
      error.message += ` (request id ${requestId})`;
    };
  }

  /**
   * The request's `X-Request-Id`: the server's, from its answer, or the one
   * the SDK sent when no answer came (a timeout, a dropped connection). The
   * server logs every request under it, and its audit events carry it: quote
   * it to the Casebook's operators. `undefined` for an error found before
   * anything was sent.
   */
  get requestId(): string | undefined {
    return this.#requestId;
  }

  /**
   * Whether trying again later could succeed: timeouts, connection
   * failures, 408, 429 and 5xx answers. The SDK has already retried those
   * it safely could, as far as its {@link RetryPolicy} allows, before it
   * throws one; a request that may have acted (a POST that timed out or
   * was answered 500) is not sent twice.
   */
  get transient(): boolean {
    return false;
  }

  /** The HTTP status of the server's answer, when there was one. */
  get status(): number | undefined {
    return undefined;
  }

  /** How long the server asked the client to wait, in milliseconds (`Retry-After`). */
  get retryAfterMs(): number | undefined {
    return undefined;
  }

  /** Every refused field, found offline or by the server; empty otherwise. */
  get fieldErrors(): readonly FieldError[] {
    return [];
  }
}

/**
 * `error` with the request id of the exchange it came from, unless it has
 * one already (the first exchange to name it is the one it is about).
 * @internal
 */
export function withRequestId<E>(error: E, requestId: string | undefined): E {
  if (error instanceof CasebookError && requestId !== undefined) setRequestId(error, requestId);
  return error;
}

export function transientStatus(status: number): boolean {
  return [408, 429, 500, 502, 503, 504].includes(status);
}

/**
 * Whether the server certainly did nothing with the request: the
 * connection was never opened, or it answered 429, or a 503 it vouches
 * for (with `Retry-After`, or the token endpoint's
 * `temporarily_unavailable`). A bare 503 may come from a proxy whose
 * upstream already had the request. Only then may a request that can act
 * (a POST, a PATCH, a token request) be sent again. @internal
 */
export function certainlyNotActed(error: CasebookError): boolean {
  if (error instanceof TransportError) return error.notSent;
  if (error instanceof CredentialError) return true;
  if (error instanceof ApiError || error instanceof OAuthError || error instanceof UnexpectedResponseError) {
    if (error.status === 429) return true;
    if (error.status !== 503) return false;
    return error.retryAfterMs !== undefined || (error instanceof OAuthError && error.code === "temporarily_unavailable");
  }
  return false;
}

/**
 * The token endpoint refused the client (RFC 6749 §5.2): for instance
 * `invalid_client` (wrong Client ID or secret, disabled application) or
 * `invalid_scope`. Thrown at once, never retried, unless its code is
 * `temporarily_unavailable`: the server turned the request away for now.
 * A 429 `invalid_client` (too many failed attempts) is not retried either:
 * the credentials must change. A refused DPoP proof (`invalid_dpop_proof`,
 * `use_dpop_nonce`) is a {@link DPoPProofError} instead.
 */
export class OAuthError extends CasebookError {
  readonly kind = "oauth";
  readonly code: OAuthErrorCode;
  readonly description: string | undefined;
  readonly #status: number;
  readonly #retryAfterMs: number | undefined;

  constructor(code: OAuthErrorCode, description: string | undefined, status: number, retryAfterMs?: number) {
    super(`the token endpoint answered ${code}${description ? `: ${description}` : ""}`);
    this.name = "OAuthError";
    this.code = code;
    this.description = description;
    this.#status = status;
    this.#retryAfterMs = retryAfterMs;
  }

  override get transient(): boolean {
    return this.code === "temporarily_unavailable" || this.#status >= 500;
  }
  override get status(): number {
    return this.#status;
  }
  override get retryAfterMs(): number | undefined {
    return this.#retryAfterMs;
  }
}

/** Why a server refused a DPoP proof (RFC 9449 §7.1, §8, §9). */
export type DPoPErrorCode = "invalid_dpop_proof" | "use_dpop_nonce";

/**
 * A server refused the DPoP proof sent with a token request (400) or an
 * API call (401 with a `DPoP` challenge): `invalid_dpop_proof` (an
 * algorithm it does not take, a clock more than a minute off, a proof
 * seen before), or `use_dpop_nonce` still after the one retry with the
 * nonce the server gave. Thrown at once, not retried further. Carries no
 * proof, token or key.
 */
export class DPoPProofError extends CasebookError {
  readonly kind = "dpop_proof";
  readonly code: DPoPErrorCode;
  /** The server's `error_description` (or its problem's `detail`), when it gave one. */
  readonly description: string | undefined;
  /** The algorithms the server takes, from its challenge's `algs`; empty when it did not say. */
  readonly algorithms: readonly string[];
  readonly #status: number;

  constructor(code: DPoPErrorCode, description: string | undefined, status: number, algorithms: readonly string[] = []) {
    super(`the server refused the DPoP proof: ${code}${description ? `: ${description}` : ""}`);
    this.name = "DPoPProofError";
    this.code = code;
    this.description = description;
    this.algorithms = algorithms;
    this.#status = status;
  }

  override get status(): number {
    return this.#status;
  }
}

/** The API answered with an RFC 9457 problem: 401, 403, 404, 409, 422, … */
export class ApiError extends CasebookError {
  readonly kind = "api";
  /**
   * The problem's `type`, a URI naming the kind of problem; `about:blank`
   * when the status says it all.
   */
  readonly problemType: string;
  /** The status's phrase, e.g. `Unprocessable Entity`. */
  readonly title: string;
  /** What went wrong, for people. */
  readonly detail: string;
  /** Every refused field with its stable code; empty unless the status is 422. */
  readonly errors: readonly FieldError[];
  /** On a 403 from the grant rule: the permissions the caller lacks. */
  readonly missingPermissions: readonly string[];
  /**
   * On a 403 `insufficient_scope` (RFC 6750 §3.1): the scope the call
   * needs, from the `WWW-Authenticate` challenge, e.g. `engage:delete`.
   */
  readonly requiredScope: string | undefined;
  /** The whole problem document, for members this SDK does not name. */
  readonly problem: Problem;
  readonly #status: number;
  readonly #retryAfterMs: number | undefined;

  constructor(status: number, problem: Problem, retryAfterMs?: number, requiredScope?: string) {
    super(`HTTP ${status} ${problem.title}: ${problem.detail}`);
    this.name = "ApiError";
    this.#status = status;
    this.problemType = problem.type ?? "about:blank";
    this.title = problem.title;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.missingPermissions = problem.missing_permissions ?? [];
    this.requiredScope = requiredScope;
    this.problem = problem;
    this.#retryAfterMs = retryAfterMs;
  }

  override get transient(): boolean {
    return transientStatus(this.#status);
  }
  override get status(): number {
    return this.#status;
  }
  override get retryAfterMs(): number | undefined {
    return this.#retryAfterMs;
  }
  override get fieldErrors(): readonly FieldError[] {
    return this.errors;
  }

  /**
   * On a 403: the tenant requires a second factor of everyone holding an
   * `admin:` permission, and this person has none yet. Until they enrol
   * (`admin.totp.begin`, then `confirm`), that is all they can do.
   */
  get secondFactorEnrolmentRequired(): boolean {
    return this.#status === 403 && this.problem.mfa_enrolment_required === true;
  }
}

/**
 * The input breaks a rule the server would enforce, so it was not sent.
 * The errors carry the codes the server would have answered with.
 */
export class ValidationError extends CasebookError {
  readonly kind = "validation";
  readonly errors: readonly FieldError[];

  constructor(errors: readonly FieldError[]) {
    super(`the request was not sent: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
    this.name = "ValidationError";
    this.errors = errors;
  }

  override get fieldErrors(): readonly FieldError[] {
    return this.errors;
  }
}

/** The server did not answer in time (see the `timeoutMs` option). */
export class TimeoutError extends CasebookError {
  readonly kind = "timeout";

  constructor(options?: { cause?: unknown }) {
    super("the request to the server timed out", options);
    this.name = "TimeoutError";
  }

  override get transient(): boolean {
    return true;
  }
}

/** The server could not be reached, or the connection failed mid-way. */
export class TransportError extends CasebookError {
  readonly kind = "transport";
  /** Whether the connection was never opened, so the server did nothing. */
  readonly notSent: boolean;

  constructor(notSent: boolean, options?: { cause?: unknown }) {
    super("could not reach the server", options);
    this.name = "TransportError";
    this.notSent = notSent;
  }

  override get transient(): boolean {
    return true;
  }
}

/**
 * The server answered with something this SDK does not understand: a body
 * that is not the documented JSON, a redirect, an unknown error code.
 */
export class UnexpectedResponseError extends CasebookError {
  readonly kind = "unexpected_response";
  readonly #status: number;
  readonly #retryAfterMs: number | undefined;

  constructor(status: number, message: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(`unexpected answer from the server (HTTP ${status}): ${message}`, options);
    this.name = "UnexpectedResponseError";
    this.#status = status;
    this.#retryAfterMs = retryAfterMs;
  }

  override get transient(): boolean {
    return transientStatus(this.#status);
  }
  override get status(): number {
    return this.#status;
  }
  override get retryAfterMs(): number | undefined {
    return this.#retryAfterMs;
  }
}

/** The client was configured with something unusable, e.g. a base URL that is not http(s). */
export class ConfigError extends CasebookError {
  readonly kind = "config";

  constructor(message: string) {
    super(`invalid configuration: ${message}`);
    this.name = "ConfigError";
  }
}

/**
 * The client's credential could not be read: a secret file or a federated
 * token file missing, empty or unreadable, a function given as
 * `clientSecret` or `federatedToken` that threw. Nothing was sent.
 * Transient, as the platform may be about to write the file: retried like a
 * refused connection, then thrown. Never quotes the credential.
 */
export class CredentialError extends CasebookError {
  readonly kind = "credential";

  constructor(message: string, options?: { cause?: unknown }) {
    super(`the client's credential could not be read: ${message}`, options);
    this.name = "CredentialError";
  }

  override get transient(): boolean {
    return true;
  }
}

/**
 * The client secret is neither of the formats Casebook issues: its checksum
 * fails, or it was cut short or copied with extra characters. Caught before
 * anything is sent; the secret is never quoted.
 */
export class MistypedSecretError extends CasebookError {
  readonly kind = "mistyped_secret";

  constructor() {
    super(
      "the client secret is not one Casebook issued (its format or checksum is wrong): copy it again, whole, from cb Admin " +
        "(for another server's secrets, set checkSecretFormat: false)",
    );
    this.name = "MistypedSecretError";
  }
}
