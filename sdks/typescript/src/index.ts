/**
 * The Casebook SDK: OAuth 2.0 client credentials with one shared,
 * self-refreshing token, and typed calls to `/api/v1` and `/admin/v1`.
 * No runtime dependencies beyond `fetch`; runs on Node 20+ and in browsers.
 * Node's own helpers (credentials read from files) are in
 * `@casebook/sdk/node`; helpers for a partner's tests in `@casebook/sdk/testing`.
 */

export {
  Client,
  Admin,
  Cases,
  Reports,
  Roles,
  Users,
  Applications,
  TenantSettings,
  Totp,
  SecondFactorRequiredError,
} from "./api.js";
export type {
  RevealedSecret,
  NewSecret,
  NewClientSecret,
  SignInCredentials,
  Reauthentication,
  TotpEnrolment,
  RecoveryCodes,
  TenantUsage,
  Usage,
  UsageBucket,
  UsageWindow,
  SecondFactor,
} from "./api.js";
export type { ClientOptions, Method, Route } from "./client.js";
export { PrivateKey, ASSERTION_LIFETIME_SECONDS } from "./assertion.js";
export type { AssertionAlgorithm, PrivateKeyOptions } from "./assertion.js";
export { formErrors } from "./forms.js";
export type { FormName } from "./forms.js";
export type { Instrumentation, RequestEvent, ResponseEvent, RequestKind } from "./instrument.js";
export {
  CasebookError,
  OAuthError,
  ApiError,
  ValidationError,
  TimeoutError,
  TransportError,
  UnexpectedResponseError,
  ConfigError,
  CredentialError,
  MistypedSecretError,
  DPoPProofError,
} from "./errors.js";
export type { OAuthErrorCode, DPoPErrorCode, ErrorCode, FieldError, Problem } from "./errors.js";
export { DPoPKey } from "./dpop.js";
export type { DPoPAlgorithm, DPoPOption } from "./dpop.js";
export { List } from "./pagination.js";
export type { Page, PageParams } from "./pagination.js";
export { RetryPolicy } from "./retry.js";
export type { RetryOptions } from "./retry.js";
export { ClientSecret, secretShape } from "./secret.js";
export type { SecretShape } from "./secret.js";
export { AccessToken, TokenSource, DEFAULT_REFRESH_AHEAD_MS } from "./token.js";
export type { ClientAuthMethod, CredentialReader, TokenAuthMethod, TokenSourceOptions, TokenType } from "./token.js";
export type * from "./types.js";
