// How the audit trail reads to a person: each action's words, family by
// family, each kind's and field's name, and an event's `changes` as a list.
// What the server sends but this file does not know yet is shown as the
// server names it.
import { el } from "./ui.js";

// What each action is called on screen, family by family; an action the
// console does not know yet is shown as the server names it.
export const FAMILIES = [
  { family: "application.", any: "Any application event", actions: {
    "application.registered": "Application registered",
    "application.changed": "Application changed",
    "application.enabled": "Application enabled",
    "application.disabled": "Application disabled",
    "application.removed": "Application deleted",
    "application.secret_added": "Client secret added",
    "application.secret_ended": "Client secret ended",
    "application.secret_revealed": "Client secret revealed",
    "application.secret_reveal_refused": "Client secret reveal refused",
    "application.secret_rotated": "Client secret rotated",
    "application.expired_secret_refused": "Expired client secret refused",
    "application.secret_leaked": "Client secret reported leaked",
    "application.federated_credential_added": "Federated credential added",
    "application.federated_credential_removed": "Federated credential removed",
    "application.federated_token_issued": "Token issued for a federated credential",
  } },
  { family: "user.", any: "Any user event", actions: {
    "user.created": "User created",
    "user.changed": "User changed",
    "user.removed": "User deleted",
    "user.sign_in_refused": "Sign-in refused",
  } },
  { family: "role.", any: "Any role event", actions: {
    "role.created": "Role created",
    "role.changed": "Role changed",
    "role.removed": "Role deleted",
  } },
  { family: "session.", any: "Any session event", actions: {
    "session.created": "Signed in",
    "session.ended": "Signed out",
  } },
  { family: "keys.", any: "Any signing key event", actions: {
    "keys.rotated": "Signing keys rotated",
  } },
  { family: "master_key.", any: "Any master key event", actions: {
    "master_key.rotated": "Master key rotated",
  } },
  { family: "tenant.", any: "Any tenant event", root: true, actions: {
    "tenant.created": "Tenant created",
    "tenant.changed": "Tenant changed",
    "tenant.enabled": "Tenant enabled",
    "tenant.disabled": "Tenant disabled",
    "tenant.deleted": "Tenant deleted",
  } },
];
const ACTIONS = Object.assign({}, ...FAMILIES.map((f) => f.actions));
export function actionName(action) { return ACTIONS[action] || action; }

const KINDS = { user: "User", application: "Application", operator: "Operator", role: "Role", tenant: "Tenant", session: "Session" };
export const kindName = (kind) => KINDS[kind] || (kind ? kind.charAt(0).toUpperCase() + kind.slice(1).replace(/_/g, " ") : "");

const FIELDS = {
  name: "Name", email: "Email", application_url: "Application URL", description: "Description", enabled: "Enabled",
  token_endpoint_auth_method: "Client authentication", jwks_uri: "JWKS URL", allowed_sources: "Allowed sources",
  token_quota_per_hour: "Token quota per hour", dpop_bound_access_tokens: "DPoP-bound tokens required",
  roles: "Roles", permissions: "Permissions", password: "Password",
};
const fieldName = (f) => FIELDS[f] || (f.charAt(0).toUpperCase() + f.slice(1)).replace(/_/g, " ");

function valueText(v) {
  if (v === null || v === undefined || v === "") return "none";
  if (v === true) return "yes";
  if (v === false) return "no";
  if (Array.isArray(v)) return v.length ? v.join(", ") : "none";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// `changes` as a list a person reads: "Roles: A → A, B", "Permissions
// added: …", "Password changed".
export function changesList(changes) {
  const list = el("ul", undefined, "changes");
  for (const [field, c] of Object.entries(changes)) {
    const name = fieldName(field);
    if (c && c.changed === true && Object.keys(c).length === 1) { list.append(el("li", name + " changed")); continue; }
    if (c && ("added" in c || "removed" in c)) {
      if (c.added && c.added.length) { const li = el("li"); li.append(el("span", name + " added: ", "field"), c.added.join(", ")); list.append(li); }
      if (c.removed && c.removed.length) { const li = el("li"); li.append(el("span", name + " removed: ", "field"), c.removed.join(", ")); list.append(li); }
      continue;
    }
    const li = el("li");
    if (c && typeof c === "object" && "from" in c && "to" in c) {
      const arrow = el("span", " → ", "arrow"); arrow.setAttribute("aria-hidden", "true");
      li.append(el("span", name + ": ", "field"), el("span", valueText(c.from), "from"), arrow,
        el("span", " to ", "sr-only"), el("span", valueText(c.to), "to"));
    } else {
      li.append(el("span", name + ": ", "field"), valueText(c));
    }
    list.append(li);
  }
  return list;
}
