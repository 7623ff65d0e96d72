/** Names for the wire types of `openapi/openapi.json`, generated into `generated/openapi.ts`. */

import type { components, operations } from "./generated/openapi.js";

type Schemas = components["schemas"];

export type Me = Schemas["MeView"];
export type AccountKind = Schemas["AccountKind"];
export type Actor = Schemas["Actor"];
export type Case = Schemas["CaseView"];
export type CaseForm = Schemas["CaseForm"];
export type CaseChange = Schemas["CaseChange"];
export type Report = Schemas["ReportView"];
export type ReportForm = Schemas["ReportForm"];
export type ReportChange = Schemas["ReportChange"];
export type Role = Schemas["RoleView"];
export type RoleForm = Schemas["RoleForm"];
export type RoleChange = Schemas["RoleChange"];
export type User = Schemas["UserView"];
export type UserForm = Schemas["UserForm"];
export type UserChange = Schemas["UserChange"];
export type Application = Schemas["ApplicationView"];
export type ApplicationForm = Schemas["ApplicationForm"];
export type ApplicationChange = Schemas["ApplicationChange"];
export type AuditEvent = Schemas["AuditEventView"];
export type Session = Schemas["SessionView"];
/** The tenant's settings, and a change to them (absent fields stay as they are). */
export type Settings = Schemas["Settings"];
export type SettingsChange = Schemas["SettingsChange"];
export type ClientSecretInfo = Schemas["ClientSecretView"];
export type FederatedCredential = Schemas["FederatedCredentialView"];
export type FederatedCredentialForm = Schemas["FederatedCredentialForm"];
export type TokenResponse = Schemas["TokenResponse"];
export type ServerMetadata = Schemas["ServerMetadata"];

/** The query a list operation takes, as the OpenAPI document declares it. */
export type ListQuery<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

export type { components, operations, paths } from "./generated/openapi.js";
