// Talks to the admin API. The session token lives in this tab only
// (sessionStorage), never in localStorage.
//
// The console answers at the root (/admin) and under each tenant's base URL
// (/t/{slug}/admin), from the same files: every API call goes to the base it
// was loaded under, and each base keeps its own session, so that a root
// administrator's token is never sent to a tenant, nor one tenant's to
// another.
export const BASE = (/^(.*)\/admin\/?$/.exec(location.pathname) || [null, ""])[1];
const tenantPath = /^\/t\/([^/]+)$/.exec(BASE);
// The tenant's slug, or null at the root.
export const TENANT = tenantPath ? decodeURIComponent(tenantPath[1]) : null;
// The root's key is the one every earlier release used: a session open
// across an upgrade stays open.
const KEY = BASE ? "cb-session:" + BASE : "cb-session";
let token = sessionStorage.getItem(KEY);
let onSignedOut = () => {};
let onMustEnrol = () => {};

export function setToken(value) {
  token = value;
  if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
}
export function hasToken() { return Boolean(token); }
// The session's header for a request that is not JSON (a download).
export function authorization() { return token ? { authorization: "Bearer " + token } : {}; }
export function whenSignedOut(fn) { onSignedOut = fn; }
// The tenant requires a second factor of administrators and this one has
// none: every admin route answers 403 with `mfa_enrolment_required` until
// they enrol, so the console takes them to where they can.
export function whenEnrolmentRequired(fn) { onMustEnrol = fn; }
export const mustEnrol = (r) => Boolean(r && r.status === 403 && r.data && r.data.mfa_enrolment_required);

// Answers of these say nothing about the session in hand (a 401 there is a
// sign-in or a link refused, not a session that ended).
const PUBLIC = new Set(["/admin/v1/sessions", "/admin/v1/sessions/mfa", "/admin/v1/sessions/mfa/passkey", "/admin/v1/password-resets", "/admin/v1/set-password"]);

// `path` is the root's (/admin/v1/…); it is sent under this console's base.
export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = "Bearer " + token;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (_) {
    return { ok: false, status: 0, data: { detail: "The server could not be reached. Check your connection and try again." } };
  }
  let data = null;
  if (response.status !== 204) { try { data = await response.json(); } catch (_) { data = null; } }
  if (response.status === 401 && !PUBLIC.has(path) && token) { setToken(null); onSignedOut(); }
  const result = { ok: response.ok, status: response.status, data, retryAfter: response.headers.get("retry-after") };
  if (mustEnrol(result)) onMustEnrol();
  return result;
}

// The server's sentence, starting with a capital letter.
export function problemText(r, fallback) {
  const detail = r && r.data && r.data.detail;
  const text = detail || fallback || "Something went wrong (" + (r ? r.status : "?") + ").";
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}

export const path = {
  apps: "/admin/v1/external-applications",
  app: (id) => "/admin/v1/external-applications/" + encodeURIComponent(id),
  users: "/admin/v1/users",
  user: (id) => "/admin/v1/users/" + encodeURIComponent(id),
  roles: "/admin/v1/roles",
  role: (id) => "/admin/v1/roles/" + encodeURIComponent(id),
  audit: "/admin/v1/audit-events",
  tenants: "/admin/v1/tenants",
  tenant: (slug) => "/admin/v1/tenants/" + encodeURIComponent(slug),
  settings: "/admin/v1/settings",
  webhooks: "/admin/v1/webhooks",
  webhook: (id) => "/admin/v1/webhooks/" + encodeURIComponent(id),
  webhookDeliveries: (id) => "/admin/v1/webhooks/" + encodeURIComponent(id) + "/deliveries",
  webhookRetry: (id, delivery) => "/admin/v1/webhooks/" + encodeURIComponent(id) + "/deliveries/" + encodeURIComponent(delivery) + "/retry",
  totp: "/admin/v1/users/me/totp",
  passkeys: "/admin/v1/users/me/passkeys",
  passkey: (id) => "/admin/v1/users/me/passkeys/" + encodeURIComponent(id),
};
