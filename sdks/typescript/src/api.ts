/**
 * The typed calls: the Casebook API under `/api/v1` and the admin API under
 * `/admin/v1`. Each call needs the permission its documentation names.
 */

import { mfaTokenOf, transportFor } from "./client.js";
import type { ClientOptions, Route, Transport } from "./client.js";
import { ApiError, CasebookError, ConfigError, withRequestId } from "./errors.js";
import type { Problem } from "./errors.js";
import type { FormName } from "./forms.js";
import { List } from "./pagination.js";
import { ClientSecret } from "./secret.js";
import type { TokenSource } from "./token.js";
import type {
  Application,
  ApplicationChange,
  ApplicationForm,
  AuditEvent,
  Case,
  CaseChange,
  CaseForm,
  ClientSecretInfo,
  FederatedCredential,
  FederatedCredentialForm,
  ListQuery,
  Me,
  Report,
  ReportChange,
  ReportForm,
  Role,
  RoleChange,
  RoleForm,
  Session,
  Settings,
  SettingsChange,
  User,
  UserChange,
  UserForm,
  components,
} from "./types.js";

type Schemas = components["schemas"];

/** A secret answer with its value wrapped, so that logging the answer shows none. */
type WithSecret<T> = Omit<T, "client_secret"> & { client_secret: ClientSecret };
/** A revealed or rotated client secret (`…/client-secret/reveal`, `…/rotate`). */
export type RevealedSecret = WithSecret<Schemas["SecretView"]>;
/** One secret of an application with its value (`…/client-secrets`). */
export type NewSecret = WithSecret<Schemas["ClientSecretValueView"]>;
/** What to call a new secret and when it should stop working (RFC 3339). */
export type NewClientSecret = Omit<Schemas["NewSecretRequest"], "password" | "totp_code" | "recovery_code">;
/**
 * A TOTP secret to add to an authenticator app. `secret`, `otpauth_uri`
 * and `qr_svg` are readable but not enumerable, so `JSON.stringify` and
 * `util.inspect` leave them out.
 */
export type TotpEnrolment = Schemas["TotpEnrolment"];
/** The ten recovery codes, shown once; `recovery_codes` is not enumerable, as above. */
export type RecoveryCodes = Schemas["RecoveryCodes"];
/** An application's counts per hour: `GET /admin/v1/external-applications/{id}/usage`. */
export type Usage = Schemas["Usage"];
/** One hour of counts, on the hour, UTC. */
export type UsageBucket = Schemas["UsageBucket"];
/** The tenant's counts per hour and per application: `GET /admin/v1/usage`. */
export type TenantUsage = Schemas["TenantUsage"];

/**
 * The hours asked for: `since` (at most 30 days back; 7 days before `until`
 * when absent) up to `until` (now when absent). Dates or RFC 3339 text.
 */
export interface UsageWindow {
  since?: Date | string;
  until?: Date | string;
}

function windowQuery(window: UsageWindow): Record<string, string | undefined> {
  const text = (at: Date | string | undefined) => (at instanceof Date ? at.toISOString() : at);
  return { since: text(window.since), until: text(window.until) };
}

/**
 * Signing in: the password and, for a person with a second factor, a code
 * at once (`totpCode` or `recoveryCode`).
 */
export interface SignInCredentials {
  email: string;
  password: string;
  totpCode?: string;
  recoveryCode?: string;
}

/**
 * What revealing, rotating or adding a client secret asks of the signed-in
 * person: their password again and, once they have a second factor, a code.
 * The secret calls take one wherever they take a password; a bare password
 * is enough for someone without a second factor. Enrolled, a call without
 * a code is a 403 that costs no attempt; a wrong or reused code a 403 that
 * counts toward the lockout as a wrong password does.
 */
export interface Reauthentication {
  password: string;
  totpCode?: string;
  recoveryCode?: string;
}

/** The body fields of a password and, maybe, a code. */
function reauthentication(again: string | Reauthentication): {
  password: string;
  totp_code?: string;
  recovery_code?: string;
} {
  if (typeof again === "string") return { password: again };
  return { password: again.password, ...codes(again) };
}

/** The code of a form that may hold one; a TOTP code wins over a recovery code, as on the server. */
function codes(form: { totpCode?: string | undefined; recoveryCode?: string | undefined }): {
  totp_code?: string;
  recovery_code?: string;
} {
  if (form.totpCode !== undefined) return secondFactorFields({ totpCode: form.totpCode });
  if (form.recoveryCode !== undefined) return secondFactorFields({ recoveryCode: form.recoveryCode });
  return {};
}

/** `answer` with `keys` kept readable but out of `JSON.stringify` and `util.inspect`. */
function hiding<T extends object>(answer: T, keys: readonly (keyof T)[]): T {
  const out = { ...answer };
  for (const key of keys) {
    if (key in out) Object.defineProperty(out, key, { value: answer[key], enumerable: false });
  }
  return out;
}

/**
 * What a person offers as their second factor: the code their authenticator
 * app shows now, or one of the recovery codes given at enrolment. A TOTP
 * code is accepted once, so a second act needs the app's next code (30
 * seconds on) or a recovery code. Spaces, a recovery code's hyphen and its
 * case do not matter.
 */
export type SecondFactor = { totpCode: string } | { recoveryCode: string };

/** The body fields of a {@link SecondFactor}; a bare string is a TOTP code. */
function secondFactorFields(factor: SecondFactor | string): { totp_code?: string; recovery_code?: string } {
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
  readonly #finish: Finish;

  /** @internal */
  constructor(problem: Problem, mfaToken: string, finish: Finish) {
    super(`a second factor is needed to finish signing in: ${problem.detail}`);
    this.name = "SecondFactorRequiredError";
    this.problem = problem;
    this.detail = problem.detail;
    this.#mfaToken = mfaToken;
    this.#finish = finish;
  }

  override get status(): number {
    return 401;
  }

  /**
   * Finishes the sign-in (`POST /admin/v1/sessions/mfa`) and resolves to a
   * client acting as the person. A string is a TOTP code. A code the server
   * does not accept rejects with a new `SecondFactorRequiredError` (this one
   * is spent); an expired or spent step with a 401 {@link ApiError}: sign
   * in again with the password.
   */
  complete(factor: SecondFactor | string): Promise<Client> {
    return this.#finish(this.#mfaToken, factor);
  }
}

/** A sign-in's 401 that asks for the second step, made able to finish through `transport`'s settings. */
function secondStep(error: unknown, transport: Transport): unknown {
  const token = mfaTokenOf(error);
  if (token === undefined || !(error instanceof ApiError)) return error;
  const step = new SecondFactorRequiredError(error.problem, token, async (mfaToken, factor) => {
    try {
      const session = await transport.anonymous().json<Session>("POST", "/admin/v1/sessions/mfa", {
        body: { mfa_token: mfaToken, ...secondFactorFields(factor) },
      });
      return new Client(transport.withSession(session.token));
    } catch (e) {
      throw secondStep(e, transport);
    }
  });
  return withRequestId(step, error.requestId);
}

function wrapSecret<T extends { client_secret: string }>(answer: T): WithSecret<T> {
  return { ...answer, client_secret: new ClientSecret(answer.client_secret) };
}


/**
 * A Casebook client. Make one and share it: every call through it shares
 * the cached access token.
 *
 * ```js
 * const casebook = new Client({ baseUrl, clientId, clientSecret });
 * const me = await casebook.me();
 * for await (const c of casebook.cases.list({ limit: 100 })) console.log(c.title);
 * ```
 */
export class Client {
  readonly #transport: Transport;
  /** Engage cases (`/api/v1/engage/cases`). */
  readonly cases: Cases;
  /** Intake reports (`/api/v1/intake/reports`). */
  readonly reports: Reports;
  /** The admin API (cb Admin). */
  readonly admin: Admin;

  /** Checks the options; nothing is sent yet: the first call fetches the first token. */
  constructor(options: ClientOptions);
  /** @internal */
  constructor(options: Transport);
  constructor(options: ClientOptions | Transport) {
    this.#transport = "json" in options ? options : transportFor(options);
    this.cases = new Cases(this.#transport);
    this.reports = new Reports(this.#transport);
    this.admin = new Admin(this.#transport);
  }

  /** The base URL every path is joined to. */
  get baseUrl(): string {
    return this.#transport.base.toString();
  }

  /**
   * The token source of a client acting as an application: the one given
   * as the `tokenSource` option, or the one made from `clientId` and
   * `clientSecret`. E.g. to hand its tokens to another tool, or to build
   * another client that shares them.
   */
  get tokenSource(): TokenSource | undefined {
    return this.#transport.tokenSource;
  }

  /** `GET /api/v1/me`: who the caller is and what it may do. Any valid token will do. */
  me(): Promise<Me> {
    return this.#transport.json<Me>("GET", "/api/v1/me");
  }

  /**
   * Signs a person in to the admin API (`POST /admin/v1/sessions`) and
   * returns a client that acts as them. Only a signed-in person can reveal
   * or rotate a client secret.
   *
   * When the person has a second factor, the password alone rejects with a
   * {@link SecondFactorRequiredError}, whose `complete(code)` finishes the
   * sign-in; or pass the code at once, `signIn({ email, password, totpCode })`
   * (or `recoveryCode`), which rejects the same way when the code is not
   * accepted. A wrong email or password, or a disabled account, is a 401
   * {@link ApiError}.
   */
  signIn(email: string, password: string): Promise<Client>;
  signIn(credentials: SignInCredentials): Promise<Client>;
  async signIn(emailOrCredentials: string | SignInCredentials, password?: string): Promise<Client> {
    const form: SignInCredentials =
      typeof emailOrCredentials === "string" ? { email: emailOrCredentials, password: password ?? "" } : emailOrCredentials;
    try {
      const session = await this.#transport.json<Session>("POST", "/admin/v1/sessions", {
        body: { email: form.email, password: form.password, ...codes(form) },
      });
      return new Client(this.#transport.withSession(session.token));
    } catch (e) {
      throw secondStep(e, this.#transport);
    }
  }

  /**
   * Asks for a password reset link for `email` (`POST /admin/v1/password-resets`).
   * Needs no sign-in. The answer is the same whether or not the address
   * holds an account; when it does, a link valid for an hour goes to it.
   */
  requestPasswordReset(email: string): Promise<void> {
    return this.#transport.empty("POST", "/admin/v1/password-resets", { body: { email } });
  }

  /**
   * Sets a password with the token of an invitation (48 hours) or reset
   * (1 hour) link, what follows `#set-password?token=` in it
   * (`POST /admin/v1/set-password`). Needs no sign-in; every session of
   * the account ends. A password the policy refuses is a 422 that leaves
   * the link working; an unknown, used or expired link a 400.
   */
  setPassword(token: string, password: string): Promise<void> {
    return this.#transport.empty("POST", "/admin/v1/set-password", { body: { token, password } });
  }

  /** Signs the session out (`DELETE /admin/v1/sessions/current`): its token stops working. */
  signOut(): Promise<void> {
    return this.#transport.empty("DELETE", "/admin/v1/sessions/current");
  }

  toString(): string {
    return `Client { baseUrl: ${this.baseUrl}, credentials: [redacted] }`;
  }

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** The routes and forms of one collection. */
interface Paths {
  /** The collection, e.g. `/api/v1/engage/cases`. */
  collection: Route;
  /** One record, e.g. `/api/v1/engage/cases/{id}`. */
  item: Route;
  /** The form that creates a record, and the one that changes it, as the OpenAPI document names them. */
  form: FormName;
  change: FormName;
}

/** Create, read, update and delete under one collection path. */
abstract class Collection<View, Form, Change> {
  /** @internal */
  protected readonly transport: Transport;
  /** @internal */
  protected readonly paths: Paths;

  /** @internal */
  constructor(transport: Transport, paths: Paths) {
    this.transport = transport;
    this.paths = paths;
  }

  /** One record. */
  get(id: string): Promise<View> {
    return this.transport.json<View>("GET", this.paths.item, { params: { id } });
  }

  /**
   * Creates a record. A form the server's rules refuse for its shape or
   * its text is a {@link ValidationError}, found offline; the server answers
   * a 422 {@link ApiError} for the rest, listing every refused field. Sent
   * with an `Idempotency-Key`, so a retry after a timeout creates one record.
   */
  create(form: Form): Promise<View> {
    return this.transport.json<View>("POST", this.paths.collection, { body: form, form: this.paths.form });
  }

  /** Changes the fields set in `change`, checked offline as {@link create}'s form is. */
  change(id: string, change: Change): Promise<View> {
    return this.transport.json<View>("PATCH", this.paths.item, { params: { id }, body: change, form: this.paths.change });
  }

  /** Removes a record. */
  remove(id: string): Promise<void> {
    return this.transport.empty("DELETE", this.paths.item, { params: { id } });
  }
}

/** Engage cases: view, create, edit, delete need `engage:view`, `engage:create`, … */
export class Cases extends Collection<Case, CaseForm, CaseChange> {
  /** @internal */
  constructor(transport: Transport) {
    super(transport, { collection: "/api/v1/engage/cases", item: "/api/v1/engage/cases/{id}", form: "CaseForm", change: "CaseChange" });
  }

  /** Lists cases, oldest first (`engage:view`). */
  list(params: ListQuery<"list_cases"> = {}): List<Case> {
    return new List<Case>(this.transport, this.paths.collection, params);
  }
}

/** Intake reports: `intake:view`, `intake:create`, … */
export class Reports extends Collection<Report, ReportForm, ReportChange> {
  /** @internal */
  constructor(transport: Transport) {
    super(transport, {
      collection: "/api/v1/intake/reports",
      item: "/api/v1/intake/reports/{id}",
      form: "ReportForm",
      change: "ReportChange",
    });
  }

  /** Lists reports, oldest first (`intake:view`). */
  list(params: ListQuery<"list_reports"> = {}): List<Report> {
    return new List<Report>(this.transport, this.paths.collection, params);
  }
}

/** The admin API: a signed-in person, or an application whose roles grant `admin:*`. */
export class Admin {
  readonly roles: Roles;
  readonly users: Users;
  readonly applications: Applications;
  /** The tenant's settings (`/admin/v1/settings`). */
  readonly settings: TenantSettings;
  /** The signed-in person's own authenticator app (`/admin/v1/users/me/totp`). */
  readonly totp: Totp;
  readonly #transport: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#transport = transport;
    this.roles = new Roles(transport);
    this.users = new Users(transport);
    this.applications = new Applications(transport);
    this.settings = new TenantSettings(transport);
    this.totp = new Totp(transport);
  }

  /** The audit trail, newest first (`admin:view`). No secret is ever in it. */
  auditEvents(params: ListQuery<"list_audit"> = {}): List<AuditEvent> {
    return new List<AuditEvent>(this.#transport, "/admin/v1/audit-events", params);
  }

  /** The tenant's counts per hour, every application summed, and each application's totals (`admin:view`). */
  usage(window: UsageWindow = {}): Promise<TenantUsage> {
    return this.#transport.json<TenantUsage>("GET", "/admin/v1/usage", { query: windowQuery(window) });
  }
}

/** The tenant's settings: whether administrators must have a second factor. */
export class TenantSettings {
  readonly #transport: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** The settings (`admin:view`). */
  get(): Promise<Settings> {
    return this.#transport.json<Settings>("GET", "/admin/v1/settings");
  }

  /**
   * Changes the fields set in `change` (`admin:edit`). With
   * `require_mfa_for_admins`, everyone holding an `admin:` permission must
   * enrol a second factor before anything else (their other calls are a
   * 403 whose `secondFactorEnrolmentRequired` is true); a person without
   * one cannot require it of others (409).
   */
  change(change: SettingsChange): Promise<Settings> {
    return this.#transport.json<Settings>("PATCH", "/admin/v1/settings", { body: change });
  }

  /** Requires a second factor of administrators, or stops requiring it. */
  requireMfaForAdmins(required: boolean): Promise<Settings> {
    return this.change({ require_mfa_for_admins: required });
  }
}

/**
 * The signed-in person's authenticator app (TOTP, RFC 6238). `begin` answers
 * a secret to add to the app, `confirm` with the app's code turns it on and
 * answers ten recovery codes, shown this once. From then on signing in and
 * the secret calls take a code too.
 */
export class Totp {
  readonly #transport: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /**
   * Begins enrolling, re-entering the password: a secret that works once
   * confirmed within 15 minutes. A wrong password is a 403; an app already
   * enrolled a 409.
   */
  async begin(password: string): Promise<TotpEnrolment> {
    const enrolment = await this.#transport.json<TotpEnrolment>("POST", "/admin/v1/users/me/totp", { body: { password } });
    return hiding(enrolment, ["secret", "otpauth_uri", "qr_svg"]);
  }

  /**
   * Confirms with the code the app shows; answers the recovery codes. A code
   * that is not the app's current one is a 422 on `code`; nothing to
   * confirm (none begun, or begun over 15 minutes ago) a 409.
   */
  async confirm(code: string): Promise<RecoveryCodes> {
    const codes = await this.#transport.json<RecoveryCodes>("POST", "/admin/v1/users/me/totp/confirm", { body: { code } });
    return hiding(codes, ["recovery_codes"]);
  }

  /**
   * Removes the app and its recovery codes: the password and a code. A
   * wrong one is a 403; while the tenant requires a second factor of this
   * person, a 409.
   */
  remove(again: Reauthentication): Promise<void> {
    return this.#transport.empty("DELETE", "/admin/v1/users/me/totp", { body: reauthentication(again) });
  }
}

/** The role catalog (`admin:*`); removing a role someone holds is a 409. */
export class Roles extends Collection<Role, RoleForm, RoleChange> {
  /** @internal */
  constructor(transport: Transport) {
    super(transport, { collection: "/admin/v1/roles", item: "/admin/v1/roles/{id}", form: "RoleForm", change: "RoleChange" });
  }

  list(params: ListQuery<"list_roles"> = {}): List<Role> {
    return new List<Role>(this.transport, this.paths.collection, params);
  }
}

/**
 * User accounts (`admin:*`). A user created without a `password` is invited
 * by email to choose one (`invitation_pending` until they have);
 * `change(id, { enabled: false })` disables a person: no sign-in, and their
 * sessions end.
 */
export class Users extends Collection<User, UserForm, UserChange> {
  /** @internal */
  constructor(transport: Transport) {
    super(transport, { collection: "/admin/v1/users", item: "/admin/v1/users/{id}", form: "UserForm", change: "UserChange" });
  }

  list(params: ListQuery<"list_users"> = {}): List<User> {
    return new List<User>(this.transport, this.paths.collection, params);
  }
}

/** Registered external applications and their credentials (`admin:*`). */
export class Applications extends Collection<Application, ApplicationForm, ApplicationChange> {
  /** @internal */
  constructor(transport: Transport) {
    super(transport, {
      collection: "/admin/v1/external-applications",
      item: "/admin/v1/external-applications/{id}",
      form: "ApplicationForm",
      change: "ApplicationChange",
    });
  }

  /** Lists applications; `name` and `email` filter by case-insensitive substring. */
  list(params: ListQuery<"list_applications"> = {}): List<Application> {
    return new List<Application>(this.transport, this.paths.collection, params);
  }

  /** Registers an application: the "New Application" form. The answer never holds the secret. */
  register(form: ApplicationForm): Promise<Application> {
    return this.create(form);
  }

  /**
   * Shows the client secret. Only a signed-in person can, re-entering their
   * own `password`: a wrong one is a 403 and counts toward a lockout (429).
   * A person with a second factor passes `{ password, totpCode }` (or
   * `recoveryCode`).
   */
  async revealSecret(id: string, password: string | Reauthentication): Promise<RevealedSecret> {
    const answer = await this.transport.json<Schemas["SecretView"]>("POST", "/admin/v1/external-applications/{id}/client-secret/reveal", {
      params: { id },
      body: reauthentication(password),
    });
    return wrapSecret(answer);
  }

  /** Issues a new client secret; the old one keeps working for `gracePeriodSeconds` (up to 7 days). */
  async rotateSecret(id: string, password: string | Reauthentication, gracePeriodSeconds = 0): Promise<RevealedSecret> {
    const answer = await this.transport.json<Schemas["SecretView"]>("POST", "/admin/v1/external-applications/{id}/client-secret/rotate", {
      params: { id },
      body: { ...reauthentication(password), grace_period_seconds: gracePeriodSeconds },
    });
    return wrapSecret(answer);
  }

  /** Every secret of the application, newest first, without values. */
  async listSecrets(id: string): Promise<ClientSecretInfo[]> {
    const listed = await this.transport.json<Schemas["ClientSecretList"]>("GET", "/admin/v1/external-applications/{id}/client-secrets", {
      params: { id },
    });
    return listed.items;
  }

  /** Adds a secret beside the others (up to 5 active); only for a signed-in person. */
  async addSecret(id: string, password: string | Reauthentication, secret: NewClientSecret = {}): Promise<NewSecret> {
    const answer = await this.transport.json<Schemas["ClientSecretValueView"]>("POST", "/admin/v1/external-applications/{id}/client-secrets", {
      params: { id },
      body: { ...secret, ...reauthentication(password) },
    });
    return wrapSecret(answer);
  }

  /** Shows one secret by its id; only for a signed-in person. */
  async revealSecretById(id: string, secretId: string, password: string | Reauthentication): Promise<NewSecret> {
    const answer = await this.transport.json<Schemas["ClientSecretValueView"]>(
      "POST",
      "/admin/v1/external-applications/{id}/client-secrets/{secret_id}/reveal",
      { params: { id, secret_id: secretId }, body: reauthentication(password) },
    );
    return wrapSecret(answer);
  }

  /** Ends one secret at once; the others keep working. */
  endSecret(id: string, secretId: string): Promise<void> {
    return this.transport.empty("DELETE", "/admin/v1/external-applications/{id}/client-secrets/{secret_id}", {
      params: { id, secret_id: secretId },
    });
  }

  /** The application's federated credentials, oldest first. */
  async listFederatedCredentials(id: string): Promise<FederatedCredential[]> {
    const listed = await this.transport.json<Schemas["FederatedCredentialList"]>(
      "GET",
      "/admin/v1/external-applications/{id}/federated-credentials",
      { params: { id } },
    );
    return listed.items;
  }

  /** Trusts tokens of an outside issuer (a workload identity) for the application. */
  addFederatedCredential(id: string, form: FederatedCredentialForm): Promise<FederatedCredential> {
    return this.transport.json<FederatedCredential>("POST", "/admin/v1/external-applications/{id}/federated-credentials", {
      params: { id },
      body: form,
      form: "FederatedCredentialForm",
    });
  }

  /**
   * The application's counts per hour (UTC, oldest first, hours with nothing
   * left out): tokens issued, token requests refused by reason, API calls
   * refused with its tokens (`admin:view`).
   */
  usage(id: string, window: UsageWindow = {}): Promise<Usage> {
    return this.transport.json<Usage>("GET", "/admin/v1/external-applications/{id}/usage", {
      params: { id },
      query: windowQuery(window),
    });
  }

  removeFederatedCredential(id: string, credentialId: string): Promise<void> {
    return this.transport.empty("DELETE", "/admin/v1/external-applications/{id}/federated-credentials/{credential_id}", {
      params: { id, credential_id: credentialId },
    });
  }
}
