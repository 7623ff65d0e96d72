// What every screen shares: who is signed in, what they may do, and the role
// catalog.
import { api, path, query, TENANT } from "./api.js";
import { MAX_PAGE_SIZE } from "./limits.js";

// Managing tenants is the root's alone: no role of another tenant can hold
// the `tenants` module, so its editor does not offer it.
const AGENCY_MODULES = ["engage", "intake", "investigations", "placements", "providers", "admin"];
export const MODULES = TENANT ? AGENCY_MODULES : [...AGENCY_MODULES, "tenants"];
export const ACTIONS = ["view", "create", "edit", "delete"];
export const MODULE_NAMES = { engage: "cb Engage", intake: "Intake", investigations: "Investigations", placements: "Placements", providers: "Providers", admin: "Admin", tenants: "Tenants" };

export const session = { me: null, roles: [] };

export function can(permission) {
  return Boolean(session.me && session.me.permissions && session.me.permissions.includes(permission));
}

export async function loadMe() {
  const r = await api("GET", "/api/v1/me");
  session.me = r.ok ? r.data : null;
  return r;
}

// Every role, following the cursor to the end.
export async function loadRoles() {
  const all = [];
  let cursor = null;
  do {
    const r = await api("GET", path.roles + query({ limit: MAX_PAGE_SIZE, cursor }));
    if (!r.ok) { session.roles = all; return r; }
    all.push(...r.data.items);
    cursor = r.data.next_cursor;
  } while (cursor);
  session.roles = all;
  return { ok: true };
}

export function roleName(id) {
  const role = session.roles.find((r) => r.id === id);
  return role ? role.name : "Unknown role";
}
export function roleItems() {
  return session.roles.map((r) => ({ value: r.id, label: r.name }));
}
