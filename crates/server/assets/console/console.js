"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("cb-session");
let roles = [];
let cursor = null;
// A static, trusted SVG: the only markup ever set as HTML on this page.
const KEY_ICON = '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><circle cx="7.5" cy="15.5" r="4.5"/><path d="M10.7 12.3 21 2m-4 4 3 3m-6 0 2 2"/></svg>';

async function api(method, path, body) {
  const headers = { "accept": "application/json" };
  if (token) headers["authorization"] = "Bearer " + token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  if (response.status !== 204) { try { data = await response.json(); } catch (_) { data = null; } }
  if (response.status === 401 && path !== "/admin/v1/sessions") { signOutLocally(); }
  return { ok: response.ok, status: response.status, data };
}

function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }

function show(signedIn) {
  $("signin").hidden = signedIn; $("apps").hidden = !signedIn; $("new").hidden = !signedIn; $("signout").hidden = !signedIn;
}

function signOutLocally() { token = null; sessionStorage.removeItem("cb-session"); $("who").textContent = ""; show(false); }

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("si-error").textContent = "";
  const r = await api("POST", "/admin/v1/sessions", { email: $("si-email").value, password: $("si-password").value });
  if (!r.ok) { $("si-error").textContent = (r.data && r.data.detail) || "Sign-in failed"; return; }
  token = r.data.token; sessionStorage.setItem("cb-session", token); $("si-password").value = "";
  await start();
});

$("signout").addEventListener("click", async () => { await api("DELETE", "/admin/v1/sessions/current"); signOutLocally(); });

function roleName(id) { const r = roles.find((x) => x.id === id); return r ? r.name : id; }

function row(app) {
  const tr = el("tr");
  const expand = el("button", "▸", "icon"); expand.title = "Expand"; expand.setAttribute("aria-label", "Expand " + app.name);
  const td0 = el("td"); td0.append(expand); tr.append(td0);
  tr.append(el("td", app.name), el("td", app.email), el("td", app.roles.map(roleName).join(", ")));
  tr.append(el("td", app.enabled ? "Enabled" : "Disabled", app.enabled ? "status-on" : "status-off"));
  const key = el("button", undefined, "icon");
  key.innerHTML = KEY_ICON; key.title = "View client secret"; key.setAttribute("aria-label", "View client secret of " + app.name);
  key.addEventListener("click", () => openVerify(app));
  const td5 = el("td"); td5.append(key); tr.append(td5);
  const details = el("tr", undefined, "details"); details.hidden = true;
  const cell = el("td"); cell.colSpan = 6; const dl = el("dl");
  for (const [k, v] of [["Client ID", app.client_id], ["Description", app.description || "—"], ["Application URL", app.application_url || "—"], ["Callback URL", app.callback_url]]) {
    dl.append(el("dt", k)); const dd = el("dd"); dd.append(el("code", v)); dl.append(dd);
  }
  cell.append(dl); details.append(cell);
  expand.addEventListener("click", () => { details.hidden = !details.hidden; expand.textContent = details.hidden ? "▸" : "▾"; });
  return [tr, details];
}

async function loadApps(reset) {
  if (reset) { cursor = null; $("rows").replaceChildren(); }
  const q = cursor ? "?cursor=" + encodeURIComponent(cursor) : "";
  const r = await api("GET", "/admin/v1/external-applications" + q);
  if (!r.ok) return;
  for (const app of r.data.items) $("rows").append(...row(app));
  cursor = r.data.next_cursor; $("more").hidden = !cursor;
  $("empty").hidden = $("rows").children.length > 0;
}
$("more").addEventListener("click", () => loadApps(false));

async function loadRoles() {
  roles = []; let c = null;
  do {
    const r = await api("GET", "/admin/v1/roles?limit=100" + (c ? "&cursor=" + encodeURIComponent(c) : ""));
    if (!r.ok) break; roles.push(...r.data.items); c = r.data.next_cursor;
  } while (c);
  const select = $("f-roles"); select.replaceChildren();
  for (const role of roles) { const o = el("option", role.name); o.value = role.id; select.append(o); }
}

function clearErrors() { document.querySelectorAll("#new-form .err").forEach((e) => (e.textContent = "")); }

$("new").addEventListener("click", () => { $("new-form").reset(); clearErrors(); $("new-dialog").showModal(); $("f-name").focus(); });
$("new-cancel").addEventListener("click", () => $("new-dialog").close());
$("new-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); clearErrors();
  const body = {
    name: $("f-name").value, email: $("f-email").value,
    application_url: $("f-url").value || null,
    roles: Array.from($("f-roles").selectedOptions).map((o) => o.value),
    description: $("f-description").value || null,
  };
  const r = await api("POST", "/admin/v1/external-applications", body);
  if (r.ok) { $("new-dialog").close(); await loadApps(true); return; }
  if (r.status === 422 && r.data && r.data.errors) {
    for (const e of r.data.errors) {
      const slot = document.querySelector('#new-form .err[data-for="' + e.field + '"]') || $("new-error");
      slot.textContent = slot.textContent ? slot.textContent + " " + e.message : e.message;
    }
  } else { $("new-error").textContent = (r.data && r.data.detail) || "Could not save"; }
});

let verifying = null;
function openVerify(app) {
  verifying = app; $("v-password").value = ""; $("verify-error").textContent = "";
  $("secret").hidden = true; $("secret").textContent = ""; $("verify-submit").hidden = false;
  $("verify-dialog").showModal(); $("v-password").focus();
}
$("verify-cancel").addEventListener("click", () => { $("secret").textContent = ""; $("verify-dialog").close(); });
$("verify-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); $("verify-error").textContent = "";
  const r = await api("POST", "/admin/v1/external-applications/" + encodeURIComponent(verifying.id) + "/client-secret/reveal", { password: $("v-password").value });
  $("v-password").value = "";
  if (!r.ok) { $("verify-error").textContent = (r.data && r.data.detail) || "Could not verify"; return; }
  $("secret").textContent = r.data.client_secret; $("secret").hidden = false; $("verify-submit").hidden = true;
});

async function start() {
  const me = await api("GET", "/api/v1/me");
  if (!me.ok) { show(false); return; }
  $("who").textContent = me.data.name;
  show(true);
  await loadRoles();
  await loadApps(true);
}

if (token) { start(); } else { show(false); }
