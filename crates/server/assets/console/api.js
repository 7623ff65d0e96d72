// Talks to the admin API. The session token lives in this tab only
// (sessionStorage), never in localStorage.
const KEY = "cb-session";
let token = sessionStorage.getItem(KEY);
let onSignedOut = () => {};

export function setToken(value) {
  token = value;
  if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
}
export function hasToken() { return Boolean(token); }
export function whenSignedOut(fn) { onSignedOut = fn; }

export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = "Bearer " + token;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (_) {
    return { ok: false, status: 0, data: { detail: "The server could not be reached. Check your connection and try again." } };
  }
  let data = null;
  if (response.status !== 204) { try { data = await response.json(); } catch (_) { data = null; } }
  if (response.status === 401 && path !== "/admin/v1/sessions" && token) { setToken(null); onSignedOut(); }
  return { ok: response.ok, status: response.status, data, retryAfter: response.headers.get("retry-after") };
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
};
