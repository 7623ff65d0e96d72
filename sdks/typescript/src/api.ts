/**
 * The typed calls: the Casebook API under `/api/v1` and the admin API under
 * `/admin/v1`. Each call needs the permission its documentation names.
 */

import { transportFor } from "./client.js";
import type { ClientOptions, Transport } from "./client.js";
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
export type NewClientSecret = Omit<Schemas["NewSecretRequest"], "password">;

function wrapSecret<T extends { client_secret: string }>(answer: T): WithSecret<T> {
  return { ...answer, client_secret: new ClientSecret(answer.client_secret) };
}

const CASES = ["api", "v1", "engage", "cases"] as const;
const REPORTS = ["api", "v1", "intake", "reports"] as const;
const ROLES = ["admin", "v1", "roles"] as const;
const USERS = ["admin", "v1", "users"] as const;
const APPLICATIONS = ["admin", "v1", "external-applications"] as const;
const AUDIT = ["admin", "v1", "audit-events"] as const;

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
    return this.#transport.json<Me>("GET", ["api", "v1", "me"]);
  }

  /**
   * Signs a person in to the admin API (`POST /admin/v1/sessions`) and
   * returns a client that acts as them. Only a signed-in person can reveal
   * or rotate a client secret.
   */
  async signIn(email: string, password: string): Promise<Client> {
    const session = await this.#transport.json<Session>("POST", ["admin", "v1", "sessions"], {
      body: { email, password },
    });
    return new Client(this.#transport.withSession(session.token));
  }

  /** Signs the session out (`DELETE /admin/v1/sessions/current`): its token stops working. */
  signOut(): Promise<void> {
    return this.#transport.empty("DELETE", ["admin", "v1", "sessions", "current"]);
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

/** Create, read, update and delete under one collection path. */
abstract class Collection<View, Form, Change> {
  protected readonly transport: Transport;
  protected readonly path: readonly string[];

  constructor(transport: Transport, path: readonly string[]) {
    this.transport = transport;
    this.path = path;
  }

  /** One record. */
  get(id: string): Promise<View> {
    return this.transport.json<View>("GET", [...this.path, id]);
  }

  /** Creates a record; the server answers a 422 {@link ApiError} listing every refused field. */
  create(form: Form): Promise<View> {
    return this.transport.json<View>("POST", this.path, { body: form });
  }

  /** Changes the fields set in `change`. */
  change(id: string, change: Change): Promise<View> {
    return this.transport.json<View>("PATCH", [...this.path, id], { body: change });
  }

  /** Removes a record. */
  remove(id: string): Promise<void> {
    return this.transport.empty("DELETE", [...this.path, id]);
  }
}

/** Engage cases: view, create, edit, delete need `engage:view`, `engage:create`, … */
export class Cases extends Collection<Case, CaseForm, CaseChange> {
  constructor(transport: Transport) {
    super(transport, CASES);
  }

  /** Lists cases, oldest first (`engage:view`). */
  list(params: ListQuery<"list_cases"> = {}): List<Case> {
    return new List<Case>(this.transport, this.path, params);
  }
}

/** Intake reports: `intake:view`, `intake:create`, … */
export class Reports extends Collection<Report, ReportForm, ReportChange> {
  constructor(transport: Transport) {
    super(transport, REPORTS);
  }

  /** Lists reports, oldest first (`intake:view`). */
  list(params: ListQuery<"list_reports"> = {}): List<Report> {
    return new List<Report>(this.transport, this.path, params);
  }
}

/** The admin API: a signed-in person, or an application whose roles grant `admin:*`. */
export class Admin {
  readonly roles: Roles;
  readonly users: Users;
  readonly applications: Applications;
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
    this.roles = new Roles(transport);
    this.users = new Users(transport);
    this.applications = new Applications(transport);
  }

  /** The audit trail, newest first (`admin:view`). No secret is ever in it. */
  auditEvents(params: ListQuery<"list_audit"> = {}): List<AuditEvent> {
    return new List<AuditEvent>(this.#transport, AUDIT, params);
  }
}

/** The role catalog (`admin:*`); removing a role someone holds is a 409. */
export class Roles extends Collection<Role, RoleForm, RoleChange> {
  constructor(transport: Transport) {
    super(transport, ROLES);
  }

  list(params: ListQuery<"list_roles"> = {}): List<Role> {
    return new List<Role>(this.transport, this.path, params);
  }
}

/** User accounts (`admin:*`). */
export class Users extends Collection<User, UserForm, UserChange> {
  constructor(transport: Transport) {
    super(transport, USERS);
  }

  list(params: ListQuery<"list_users"> = {}): List<User> {
    return new List<User>(this.transport, this.path, params);
  }
}

/** Registered external applications and their credentials (`admin:*`). */
export class Applications extends Collection<Application, ApplicationForm, ApplicationChange> {
  constructor(transport: Transport) {
    super(transport, APPLICATIONS);
  }

  /** Lists applications; `name` and `email` filter by case-insensitive substring. */
  list(params: ListQuery<"list_applications"> = {}): List<Application> {
    return new List<Application>(this.transport, this.path, params);
  }

  /** Registers an application: the "New Application" form. The answer never holds the secret. */
  register(form: ApplicationForm): Promise<Application> {
    return this.create(form);
  }

  /**
   * Shows the client secret. Only a signed-in person can, re-entering their
   * own `password`: a wrong one is a 403 and counts toward a lockout (429).
   */
  async revealSecret(id: string, password: string): Promise<RevealedSecret> {
    const answer = await this.transport.json<Schemas["SecretView"]>("POST", [...this.path, id, "client-secret", "reveal"], {
      body: { password },
    });
    return wrapSecret(answer);
  }

  /** Issues a new client secret; the old one keeps working for `gracePeriodSeconds` (up to 7 days). */
  async rotateSecret(id: string, password: string, gracePeriodSeconds = 0): Promise<RevealedSecret> {
    const answer = await this.transport.json<Schemas["SecretView"]>("POST", [...this.path, id, "client-secret", "rotate"], {
      body: { password, grace_period_seconds: gracePeriodSeconds },
    });
    return wrapSecret(answer);
  }

  /** Every secret of the application, newest first, without values. */
  async listSecrets(id: string): Promise<ClientSecretInfo[]> {
    const listed = await this.transport.json<Schemas["ClientSecretList"]>("GET", [...this.path, id, "client-secrets"]);
    return listed.items;
  }

  /** Adds a secret beside the others (up to 5 active); only for a signed-in person. */
  async addSecret(id: string, password: string, secret: NewClientSecret = {}): Promise<NewSecret> {
    const answer = await this.transport.json<Schemas["ClientSecretValueView"]>("POST", [...this.path, id, "client-secrets"], {
      body: { ...secret, password },
    });
    return wrapSecret(answer);
  }

  /** Shows one secret by its id; only for a signed-in person. */
  async revealSecretById(id: string, secretId: string, password: string): Promise<NewSecret> {
    const answer = await this.transport.json<Schemas["ClientSecretValueView"]>(
      "POST",
      [...this.path, id, "client-secrets", secretId, "reveal"],
      { body: { password } },
    );
    return wrapSecret(answer);
  }

  /** Ends one secret at once; the others keep working. */
  endSecret(id: string, secretId: string): Promise<void> {
    return this.transport.empty("DELETE", [...this.path, id, "client-secrets", secretId]);
  }

  /** The application's federated credentials, oldest first. */
  async listFederatedCredentials(id: string): Promise<FederatedCredential[]> {
    const listed = await this.transport.json<Schemas["FederatedCredentialList"]>("GET", [
      ...this.path,
      id,
      "federated-credentials",
    ]);
    return listed.items;
  }

  /** Trusts tokens of an outside issuer (a workload identity) for the application. */
  addFederatedCredential(id: string, form: FederatedCredentialForm): Promise<FederatedCredential> {
    return this.transport.json<FederatedCredential>("POST", [...this.path, id, "federated-credentials"], { body: form });
  }

  removeFederatedCredential(id: string, credentialId: string): Promise<void> {
    return this.transport.empty("DELETE", [...this.path, id, "federated-credentials", credentialId]);
  }
}
