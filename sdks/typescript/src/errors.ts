/**
 * Every way a call can fail, as classes a caller can tell apart with
 * `instanceof` (or by `kind`). No error ever holds a client secret,
 * password or token.
 */

import type { Client } from "./api.js";
import type { components } from "./generated/openapi.js";

export type OAuthErrorCode = components["schemas"]["OAuthErrorCode"];
export type ErrorCode = components["schemas"]["ErrorCode"];
export type FieldError = components["schemas"]["FieldError"];
export type Problem = components["schemas"]["Problem"];

/** The base of every error the SDK throws. */
export abstract class CasebookError extends Error {
  /** A stable name for the kind of failure, e.g. `"oauth"` or `"api"`. */
  abstract readonly kind: string;

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
 * the credentials must change.
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
 * What a person offers as their second factor: the code their authenticator
 * app shows now, or one of the recovery codes given at enrolment. A TOTP
 * code is accepted once, so a second act needs the app's next code (30
 * seconds on) or a recovery code. Spaces, a recovery code's hyphen and its
 * case do not matter.
 */
export type SecondFactor = { totpCode: string } | { recoveryCode: string };

/** The body fields of a {@link SecondFactor}; a bare string is a TOTP code. @internal */
export function secondFactorFields(factor: SecondFactor | string | undefined): {
  totp_code?: string;
  recovery_code?: string;
} {
  if (factor === undefined) return {};
  if (typeof factor === "string") return { totp_code: factor };
  if ("totpCode" in factor && typeof factor.totpCode === "string") return { totp_code: factor.totpCode };
  if ("recoveryCode" in factor && typeof factor.recoveryCode === "string") return { recovery_code: factor.recoveryCode };
  throw new ConfigError("a second factor is { totpCode } or { recoveryCode }");
}

type Finish = (mfaToken: string, factor: SecondFactor | string) => Promise<Client>;

/**
 * The password was right and the person has a second factor: signing in
 * takes a code too (a 401 with `mfa_required`). Finish within 5 minutes with
 * {@link SecondFactorRequiredError.complete}; its token works once and is
 * never shown (`String`, `JSON.stringify` and `util.inspect` leave it out).
 * Also thrown for a code the server did not accept, with a new step to try
 * again.
 *
 * ```js
 * try {
 *   admin = await client.signIn(email, password);
 * } catch (e) {
 *   if (!(e instanceof SecondFactorRequiredError)) throw e;
 *   admin = await e.complete(await askForTheCode());      // or { recoveryCode }
 * }
 * ```
 */
export class SecondFactorRequiredError extends CasebookError {
  readonly kind = "second_factor_required";
  /** The server's words for people: asking for a code, or saying the one offered was not accepted. */
  readonly detail: string;
  /** The problem document, without its token. */
  readonly problem: Problem;
  readonly #mfaToken: string;
  #finish: Finish | undefined;

  constructor(problem: Problem, mfaToken: string) {
    super(`a second factor is needed to finish signing in: ${problem.detail}`);
    this.name = "SecondFactorRequiredError";
    const { mfa_token: _hidden, ...shown } = problem;
    this.problem = shown;
    this.detail = problem.detail;
    this.#mfaToken = mfaToken;
  }

  override get status(): number {
    return 401;
  }

  /** Lets {@link complete} finish through the client that signed in. @internal */
  static arm(error: SecondFactorRequiredError, finish: Finish): SecondFactorRequiredError {
    error.#finish = finish;
    return error;
  }

  /**
   * Finishes the sign-in (`POST /admin/v1/sessions/mfa`) and resolves to a
   * client acting as the person. A string is a TOTP code. A code the server
   * does not accept rejects with a new `SecondFactorRequiredError` (this one
   * is spent); an expired or spent step with a 401 {@link ApiError}: sign
   * in again with the password.
   */
  complete(factor: SecondFactor | string): Promise<Client> {
    if (this.#finish === undefined) {
      return Promise.reject(new ConfigError("this second step did not come from Client.signIn"));
    }
    return this.#finish(this.#mfaToken, factor);
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
 * The client secret is neither of the formats Casebook issues: its checksum
 * fails, or it was cut short or copied with extra characters. Caught before
 * anything is sent; the secret is never quoted.
 */
export class MistypedSecretError extends CasebookError {
  readonly kind = "mistyped_secret";

  constructor() {
    super(
      "the client secret is not one Casebook issued (its format or checksum is wrong): copy it again, whole, from cb Admin",
    );
    this.name = "MistypedSecretError";
  }
}
