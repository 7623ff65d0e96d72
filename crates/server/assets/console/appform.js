// "New Application" and its edit twin. Whoever opens the form says where a
// saved application goes on screen (the list's `upsert`).
import { api, path, problemText } from "./api.js";
import { $, announce, openDialog, busy, checkboxes, checkedValues, grouped, draftKeeper } from "./ui.js";
import { clearErrors, clearOnChange, showErrors, jwksUriSay, reworded } from "./errors.js";
import { roleItems } from "./catalog.js";
import { keyChoice } from "./keyset.js";
import { MAX_SOURCES, MAX_TOKEN_QUOTA, MIN_TOKEN_QUOTA } from "./limits.js";

const form = $("app-form");
const dialog = $("app-dialog");
const authRadios = () => Array.from($("f-auth").querySelectorAll("input[type=radio]"));
const KEYED = "private_key_jwt";
const SECRET = "client_secret_basic";
const roleBoxes = () => Array.from($("f-roles-list").querySelectorAll("input"));
const fields = {
  name: { label: "Application name", input: $("f-name"), error: $("f-name-error") },
  email: { label: "Email", input: $("f-email"), error: $("f-email-error") },
  application_url: { label: "Application URL", input: $("f-url"), error: $("f-url-error") },
  roles: { label: "Roles", input: roleBoxes, group: $("f-roles"), error: $("f-roles-error") },
  description: { label: "Description", input: $("f-description"), error: $("f-description-error") },
  token_endpoint_auth_method: { label: "Client authentication", input: authRadios, group: $("f-auth"), error: $("f-auth-error") },
  jwks: { label: "Public keys (JWK Set)", input: $("f-jwks"), error: $("f-jwks-error") },
  jwks_uri: { label: "JWKS URL", input: $("f-jwks-uri"), error: $("f-jwks-uri-error"), say: jwksUriSay("the application") },
  allowed_sources: { label: "Allowed sources", input: $("f-sources"), error: $("f-sources-error"), say: sourcesSay },
  token_quota_per_hour: { label: "Token quota per hour", input: $("f-quota"), error: $("f-quota-error"), say: quotaSay },
  dpop_bound_access_tokens: { label: "Require DPoP-bound tokens", input: $("f-dpop"), error: $("f-dpop-error") },
};
// The server counts list entries from 0; people count lines from 1.
function sourcesSay(code, message) {
  if (code === "too_long") return "List at most " + MAX_SOURCES + " networks.";
  if (code === "invalid_type") return "List one network a line.";
  return reworded(message, [[/allowed_sources\[(\d+)\]/g, (_, n) => "line " + (Number(n) + 1)], [/allowed_sources/g, "Allowed sources"]]);
}
function quotaSay() {
  return "Token quota per hour must be a whole number from " + grouped(MIN_TOKEN_QUOTA) + " to " + grouped(MAX_TOKEN_QUOTA) + ", or empty for no quota.";
}

// What the two limit fields hold, as the API takes them: null when empty.
const sourcesOf = (text) => { const list = text.split(/[\s,]+/).filter(Boolean); return list.length ? list : null; };
const quotaOf = (text) => { const t = text.trim(); if (!t) return null; const n = Number(t); return Number.isInteger(n) ? n : t; };
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const keys = keyChoice({
  uriRadio: $("f-keys-uri"), setRow: $("f-jwks-row"), uriRow: $("f-jwks-uri-row"),
  textarea: $("f-jwks"), uriInput: $("f-jwks-uri"),
});
clearOnChange(fields);
let editing = null;
let place = null;

export const methodOf = (app) => (app && app.token_endpoint_auth_method) || SECRET;
const chosenMethod = () => ($("f-auth-jwt").checked ? KEYED : SECRET);

// The keys show only for Private key JWT; the hint says what a change of
// method does to an application's secret.
function showMethod() {
  const keyed = chosenMethod() === KEYED;
  $("f-keys").hidden = !keyed;
  keys.show(keyed);
  const was = editing ? methodOf(editing) : null;
  $("f-auth-hint").textContent = was === SECRET && keyed
    ? "Saving ends this application's client secret at once: it then signs assertions with its private key."
    : was === KEYED && !keyed
      ? "Saving removes its public keys and issues a new client secret, to reveal with the key icon."
      : "";
}
for (const radio of authRadios()) radio.addEventListener("change", showMethod);

function formTouched() {
  return ["f-name", "f-email", "f-url", "f-description", "f-sources", "f-quota", "f-jwks", "f-jwks-uri"].some((id) => $(id).value.trim() !== "")
    || checkedValues($("f-roles-list")).length > 0 || $("f-dpop").checked;
}
const draft = draftKeeper(dialog, $("app-draft"), { touched: formTouched, startOver: () => { fill(null); $("f-name").focus(); } });

function open(app, opener, placeOnScreen) {
  editing = app;
  place = placeOnScreen;
  if (draft.opens(!app)) clearErrors(fields, $("app-summary"), $("app-error"));
  else fill(app);
  openDialog(dialog, opener, $("f-name"), $("apps-title"));
}

// The form as `app` is now, or empty for a new one.
function fill(app) {
  form.reset();
  clearErrors(fields, $("app-summary"), $("app-error"));
  $("app-dialog-title").textContent = app ? "Edit " + app.name : "New Application";
  checkboxes($("f-roles-list"), "f-role", roleItems(), new Set(app ? app.roles : []), "f-roles-error");
  $("f-enabled-row").hidden = !app;
  if (app) {
    $("f-name").value = app.name; $("f-email").value = app.email;
    $("f-url").value = app.application_url || ""; $("f-description").value = app.description || "";
    $("f-enabled").checked = app.enabled;
    $("f-sources").value = (app.allowed_sources || []).join("\n");
    $("f-quota").value = app.token_quota_per_hour == null ? "" : String(app.token_quota_per_hour);
    $("f-dpop").checked = Boolean(app.dpop_bound_access_tokens);
  }
  const keyed = methodOf(app) === KEYED;
  $("f-auth-jwt").checked = keyed; $("f-auth-secret").checked = !keyed;
  $("f-jwks").value = keyed && app.jwks ? JSON.stringify(app.jwks, null, 2) : "";
  $("f-jwks-uri").value = keyed && app.jwks_uri ? app.jwks_uri : "";
  $("f-keys-uri").checked = Boolean(keyed && app.jwks_uri); $("f-keys-set").checked = !$("f-keys-uri").checked;
  showMethod();
}

export function openNew(opener, placeOnScreen) { open(null, opener, placeOnScreen); }
export function openEdit(app, opener, placeOnScreen) { open(app, opener, placeOnScreen); }

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  busy(form, async () => {
    clearErrors(fields, $("app-summary"), $("app-error"));
    const body = {
      name: $("f-name").value, email: $("f-email").value,
      application_url: $("f-url").value.trim() || null,
      roles: checkedValues($("f-roles-list")),
      description: $("f-description").value.trim() || null,
    };
    if (editing) body.enabled = $("f-enabled").checked;
    // Sent when set on a new application, or changed on an edit.
    const sources = sourcesOf($("f-sources").value);
    const quota = quotaOf($("f-quota").value);
    if (editing ? !same(sources, editing.allowed_sources || null) : sources) body.allowed_sources = sources;
    if (editing ? !same(quota, editing.token_quota_per_hour ?? null) : quota !== null) body.token_quota_per_hour = quota;
    // Sent only when it moves, so an edit of something else works against an older server too.
    const dpop = $("f-dpop").checked;
    if (dpop !== Boolean(editing && editing.dpop_bound_access_tokens)) body.dpop_bound_access_tokens = dpop;
    const method = chosenMethod();
    const before = editing ? methodOf(editing) : SECRET;
    if (method === KEYED) {
      // The one kind chosen replaces whatever keys the application had.
      const given = keys.read();
      if (given.error) { showErrors(fields, [given.error], $("app-summary"), $("app-error")); return; }
      body.token_endpoint_auth_method = method;
      Object.assign(body, given);
    } else if (!editing || before !== method) {
      body.token_endpoint_auth_method = method;
    }
    const r = editing ? await api("PATCH", path.app(editing.id), body) : await api("POST", path.apps, body);
    if (r.ok) {
      const wasNew = !editing;
      dialog._opener = null;
      draft.saved();
      dialog.close();
      const entry = place(r.data, { open: true });
      const after = methodOf(r.data);
      const switched = wasNew ? "" : before === KEYED && after === SECRET
        ? " Reveal its new client secret with the key icon."
        : before === SECRET && after === KEYED ? " Its client secret no longer works: it signs assertions with its private key." : "";
      announce(wasNew ? "Application " + r.data.name + " registered. It is shown at the top of the list, with its Client ID."
        : "Application " + r.data.name + " saved." + switched);
      entry.expand.focus();
      return;
    }
    if (r.status === 422 && r.data && Array.isArray(r.data.errors)) {
      showErrors(fields, r.data.errors, $("app-summary"), $("app-error"));
    } else if (r.status === 403) {
      $("app-error").textContent = "Your account cannot " + (editing ? "change" : "register") + " this application. " + problemText(r);
    } else {
      $("app-error").textContent = problemText(r, "Could not save the application.");
    }
  });
});
