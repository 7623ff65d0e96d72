// Global → External applications: the list, search, each row's details,
// and the row actions that need no form (enable/disable, delete).
import { api, path, query, problemText, BASE } from "./api.js";
import { $, el, announce, highlight, copyButton, listState } from "./ui.js";
import { can, roleName } from "./catalog.js";
import { openNew, openEdit, methodOf } from "./appform.js";
import { confirmAction } from "./confirm.js";
import { DEFAULT_PAGE_SIZE } from "./limits.js";
import { openReveal, openRotate } from "./secrets.js";
import { federatedSection } from "./federated.js";
import { clientSecretsSection } from "./clientsecrets.js";
import { usageSection, lastActivity, activityText } from "./usage.js";

// A static, trusted SVG: the only markup ever set as HTML on this page.
const KEY_ICON = '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true" focusable="false"><circle cx="7.5" cy="15.5" r="4.5"/><path d="M10.7 12.3 21 2m-4 4 3 3m-6 0 2 2"/></svg>';

// Where partners trade credentials for tokens, as the discovery document
// names it (the service's public URL, which may not be the address this
// console was opened at); read once.
const TOKEN_ENDPOINT = fetch(BASE + "/.well-known/oauth-authorization-server", { headers: { accept: "application/json" } })
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
  .then((d) => d.token_endpoint)
  .catch(() => location.origin + BASE + "/oauth2/token");

let cursor = null;
let filter = { name: "", email: "", client_id: "" };
const shown = new Map(); // application id → { tr, details, app }
// Each application's last activity, read with the list's first page.
let activity = Promise.resolve(new Map());

function cell(text, label, cls) {
  const td = el("td", text, cls);
  td.dataset.label = label;
  return td;
}

function detailItem(dl, term, value, copyWhat) {
  dl.append(el("dt", term));
  const dd = el("dd");
  const code = el("code", value);
  dd.append(code);
  if (copyWhat) dd.append(" ", copyButton(() => value, copyWhat));
  dl.append(dd);
}

function textItem(dl, term, value) {
  dl.append(el("dt", term), el("dd", value));
}

// The token endpoint and, for a client secret, the first request a partner
// makes, ready to copy: filled once the discovery document is read.
function firstRequestItems(dl, app, keyed) {
  const endpoint = el("code", "…");
  const endpointDd = el("dd");
  endpointDd.append(endpoint);
  dl.append(el("dt", "Token endpoint"), endpointDd);
  let curl = null;
  if (!keyed) {
    const dd = el("dd");
    curl = el("code", "…", "curl-line");
    dd.append(curl);
    dl.append(el("dt", "First request"), dd);
    TOKEN_ENDPOINT.then(() => dd.append(" ", copyButton(() => curl.textContent, "first request of " + app.name)));
  }
  TOKEN_ENDPOINT.then((url) => {
    endpoint.textContent = url;
    endpointDd.append(" ", copyButton(() => url, "token endpoint"));
    if (curl) curl.textContent = "curl -u '" + app.client_id + ":<client secret>' -d grant_type=client_credentials " + url;
  });
}

// One line per registered public key: its kid, type (and curve), and alg;
// or, for keys the server fetches, where from.
function keyItems(dl, app) {
  if (app.jwks_uri) {
    const dd = el("dd");
    dd.append("Keys fetched from ", el("code", app.jwks_uri));
    dl.append(el("dt", "Public keys"), dd);
    return;
  }
  const keys = (app.jwks && Array.isArray(app.jwks.keys)) ? app.jwks.keys : [];
  dl.append(el("dt", keys.length === 1 ? "Public key" : "Public keys"));
  const dd = el("dd");
  const list = el("ul", undefined, "key-list");
  list.setAttribute("aria-label", "Public keys of " + app.name);
  for (const k of keys) {
    const li = el("li");
    li.append("kid ", el("code", k.kid || "—"), ", type " + (k.kty || "?") + (k.crv ? " " + k.crv : ""));
    if (k.alg) li.append(", alg " + k.alg);
    list.append(li);
  }
  if (!keys.length) list.append(el("li", "None"));
  dd.append(list);
  dl.append(dd);
}

function build(app, wasOpen) {
  const keyed = methodOf(app) === "private_key_jwt";
  const detailsId = "details-" + app.id;
  const tr = el("tr", undefined, "app-row");
  tr.dataset.id = app.id;
  const expand = el("button", undefined, "icon expand");
  expand.type = "button";
  expand.title = "Expand";
  expand.setAttribute("aria-label", "Show details of " + app.name);
  expand.setAttribute("aria-controls", detailsId);
  expand.setAttribute("aria-expanded", "false");
  const arrow = el("span", "▸"); arrow.setAttribute("aria-hidden", "true"); expand.append(arrow);
  const td0 = cell(undefined, "Details", "expand-cell"); td0.append(expand);
  const nameCell = cell(app.name, "Application name", "name-cell");
  tr.append(td0, nameCell, cell(app.email, "Email", "email-cell"), cell(app.roles.map(roleName).join(", "), "Roles"));
  tr.append(cell(app.enabled ? "Enabled" : "Disabled", "Status", app.enabled ? "status-on" : "status-off"));
  const lastCell = cell("…", "Last activity", "activity-cell");
  activity.then((seen) => { lastCell.textContent = activityText(seen.get(app.id)); });
  tr.append(lastCell);
  const keyCell = cell(undefined, "Client secret", "key-cell");
  if (can("admin:edit") && !keyed) {
    const key = el("button", undefined, "icon key");
    key.type = "button";
    key.innerHTML = KEY_ICON;
    key.title = "View client secret";
    key.setAttribute("aria-label", "Reveal client secret of " + app.name);
    key.addEventListener("click", () => openReveal(app, key));
    keyCell.append(key);
  }
  tr.append(keyCell);

  const details = el("tr", undefined, "details");
  details.id = detailsId;
  details.hidden = true;
  const td = el("td"); td.colSpan = 7;
  const dl = el("dl");
  detailItem(dl, "Client ID", app.client_id, "Client ID of " + app.name);
  detailItem(dl, "Description", app.description || "—");
  detailItem(dl, "Application URL", app.application_url || "—");
  detailItem(dl, "Callback URL", app.callback_url, "Callback URL of " + app.name);
  textItem(dl, "Client authentication", keyed ? "Private key JWT" : "Client secret");
  textItem(dl, "Allowed sources", app.allowed_sources ? app.allowed_sources.join(", ") : "Any address");
  textItem(dl, "Token quota", app.token_quota_per_hour ? app.token_quota_per_hour + " an hour" : "None");
  textItem(dl, "DPoP-bound tokens", app.dpop_bound_access_tokens ? "Required" : "Not required");
  firstRequestItems(dl, app, keyed);
  if (keyed) keyItems(dl, app);
  td.append(dl);
  if (keyed) td.append(el("p", "This application signs assertions with its private key; it has no client secret.", "muted no-secret"));
  // A private_key_jwt application has no secrets to list.
  const secrets = keyed ? null : clientSecretsSection(app);
  const actions = el("div", undefined, "row-actions");
  const add = (label, aria, fn, cls) => {
    const b = el("button", label, cls); b.type = "button"; b.setAttribute("aria-label", aria + " " + app.name);
    b.addEventListener("click", () => fn(b)); actions.append(b);
  };
  if (can("admin:edit")) {
    add("Edit", "Edit", (b) => openEdit(app, b, upsert));
    add(app.enabled ? "Disable" : "Enable", app.enabled ? "Disable" : "Enable",
      (b) => (app.enabled ? confirmDisable(app, b) : setEnabled(app, true)));
    if (!keyed) add("Rotate secret", "Rotate client secret of", (b) => openRotate(app, b, () => secrets.load()));
  }
  if (can("admin:delete")) add("Delete", "Delete", (b) => confirmDelete(app, b), "danger");
  if (actions.children.length) td.append(actions);
  if (secrets) td.append(secrets.node);
  const federated = federatedSection(app);
  td.append(federated.node);
  const usage = can("admin:view") ? usageSection(app) : null;
  if (usage) td.append(usage.node);
  details.append(td);

  const setOpen = (open) => {
    details.hidden = !open;
    expand.setAttribute("aria-expanded", String(open));
    arrow.textContent = open ? "▾" : "▸";
    expand.setAttribute("aria-label", (open ? "Hide details of " : "Show details of ") + app.name);
    if (open) { if (secrets) secrets.load(); federated.load(); if (usage) usage.load(); }
  };
  expand.addEventListener("click", () => setOpen(details.hidden));
  setOpen(Boolean(wasOpen));
  return { tr, details, app, setOpen, expand };
}

// Puts a created or changed application on screen where the admin can see
// it: in place when listed, else at the top; opened and highlighted.
export function upsert(app, { open = true } = {}) {
  const old = shown.get(app.id);
  const entry = build(app, open || (old && !old.details.hidden));
  if (old) { old.tr.replaceWith(entry.tr); old.details.replaceWith(entry.details); }
  else $("rows").prepend(entry.tr, entry.details);
  shown.set(app.id, entry);
  $("empty").hidden = true;
  highlight(entry.tr);
  return entry;
}

export function removeApp(id) {
  const old = shown.get(id);
  if (old) { old.tr.remove(); old.details.remove(); shown.delete(id); }
  $("empty").hidden = shown.size > 0;
}

// Disabling ends what the partner runs on, so it is asked first and says
// what it ends; enabling gives nothing away and is done at once.
function confirmDisable(app, opener) {
  confirmAction({
    title: "Disable " + app.name + "?",
    text: "It can no longer get tokens, and every token it holds is refused at once (enabling it again does not bring them back). "
      + app.email + " is emailed that it was disabled.",
    ok: "Disable application",
    opener,
    run: () => api("PATCH", path.app(app.id), { enabled: false }),
    done: (r) => shownChange(r.data),
  });
}

async function setEnabled(app, enabled) {
  const r = await api("PATCH", path.app(app.id), { enabled });
  if (!r.ok) { announce("Could not " + (enabled ? "enable " : "disable ") + app.name + ": " + problemText(r)); return; }
  shownChange(r.data);
}

function shownChange(app) {
  const entry = upsert(app, { open: true });
  announce("Application " + app.name + " " + (app.enabled ? "enabled." : "disabled: it can no longer get tokens, and its tokens are refused."));
  const again = Array.from(entry.details.querySelectorAll("button")).find((b) => /^(Enable|Disable)$/.test(b.textContent));
  if (again) again.focus();
}

function confirmDelete(app, opener) {
  confirmAction({
    title: "Delete " + app.name + "?",
    text: "The application " + app.name + " (" + app.email + ") is removed for good: its client secrets and tokens stop working at once. "
      + app.email + " is emailed that it was deleted.",
    ok: "Delete application",
    opener,
    typed: { value: app.name, what: "its name" },
    run: () => api("DELETE", path.app(app.id)),
    done: () => {
      removeApp(app.id);
      announce("Application " + app.name + " deleted.");
      $("apps-title").focus();
    },
  });
}

function denied(message) {
  $("apps-denied").textContent = message;
  $("apps-denied").hidden = false;
  $("apps-table").hidden = true; $("search").hidden = true; $("more").hidden = true; $("empty").hidden = true;
  $("new").hidden = true;
}

// Bumped by each fresh load: the answer to an older one (the first page,
// still on its way when a search starts) must not join the new list.
let generation = 0;

export async function loadApps(reset) {
  if (reset) {
    generation += 1; cursor = null; shown.clear(); $("rows").replaceChildren();
    activity = can("admin:view") ? lastActivity() : Promise.resolve(new Map());
  }
  const mine = generation;
  if (reset) { listState("apps", $("apps-table"), { loading: true }); $("empty").hidden = true; }
  const r = await api("GET", path.apps + query({ limit: DEFAULT_PAGE_SIZE, cursor, name: filter.name, email: filter.email, client_id: filter.client_id }));
  if (mine !== generation) return;
  listState("apps", $("apps-table"));
  if (r.status === 403) {
    denied("Your account cannot see or manage external applications. Ask an administrator for the Administrator role.");
    return;
  }
  // A page that arrives after the admin moved to another screen leaves that screen without the button.
  $("new").hidden = !can("admin:create") || $("applications").hidden;
  if (!r.ok) {
    listState("apps", $("apps-table"), { error: "Could not load the applications: " + problemText(r) });
    $("more").hidden = true;
    return;
  }
  $("apps-denied").hidden = true; $("apps-table").hidden = false; $("search").hidden = false;
  for (const app of r.data.items) {
    if (shown.has(app.id)) continue;
    const entry = build(app, false);
    $("rows").append(entry.tr, entry.details);
    shown.set(app.id, entry);
  }
  cursor = r.data.next_cursor;
  $("more").hidden = !cursor;
  const filtered = filter.name || filter.email || filter.client_id;
  $("empty").textContent = filtered ? "No application matches this search." : "No external applications yet. Register one with the plus button.";
  $("empty").hidden = shown.size > 0;
  if (reset && filtered) announce(shown.size === 0 ? "No application matches." : shown.size + (cursor ? "+" : "") + " applications match.");
}

$("more").addEventListener("click", () => loadApps(false));
$("apps-retry").addEventListener("click", async () => { await loadApps(true); if ($("apps-error").hidden) $("apps-title").focus(); });
$("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  filter = { name: $("q-name").value.trim(), email: $("q-email").value.trim(), client_id: $("q-client").value.trim() };
  loadApps(true);
});
$("search-clear").addEventListener("click", () => {
  $("q-name").value = ""; $("q-email").value = ""; $("q-client").value = "";
  filter = { name: "", email: "", client_id: "" };
  loadApps(true);
  $("q-name").focus();
});
$("new").addEventListener("click", () => openNew($("new"), upsert));
