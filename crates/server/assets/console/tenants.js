// Tenants, at the root only: the install's agencies, each under its own base
// URL. A new one comes with its first Administrator, whose generated
// password is shown once; one is disabled after a confirmation that says
// what stops, and deleted only once its slug is typed, as the CLI asks.
import { api, path, query, problemText, TENANT } from "./api.js";
import { $, el, announce, highlight, openDialog, busy, copyButton, formatTime } from "./ui.js";
import { clearErrors, clearOnChange, showErrors, requireFilled, reworded } from "./errors.js";
import { can } from "./catalog.js";
import { confirmAction } from "./confirm.js";
import { DEFAULT_PAGE_SIZE, MAX_EMAIL_CHARS, MIN_PASSWORD_CHARS } from "./limits.js";

const ROOT = "root";
const form = $("tenant-form");
const dialog = $("tenant-dialog");

// The server's sentences name the API's fields; the form's labels replace them.
const fields = {
  slug: {
    label: "Slug", input: $("t-slug"), error: $("t-slug-error"),
    say: (code, message) => {
      if (code === "invalid_characters") return "Slug may hold only lowercase letters a-z, digits 0-9 and hyphens, and cannot begin or end with a hyphen.";
      if (code === "name_in_use") {
        return /root tenant/.test(message || "")
          ? "Slug root is the root tenant's: choose another."
          : "A tenant with this slug exists already: choose another.";
      }
      if (code === "too_short" || code === "too_long") return reworded(message, [[/^slug\b/, "Slug"]]);
      return null;
    },
  },
  name: {
    label: "Name", input: $("t-name"), error: $("t-name-error"),
    say: (code, message) => (code === "too_long" ? reworded(message, [[/^name\b/, "Name"]]) : null),
  },
  admin_email: {
    label: "Administrator's email", input: $("t-email"), error: $("t-email-error"),
    say: (code) => (code === "too_long" ? "Administrator's email is too long (at most " + MAX_EMAIL_CHARS + " characters)." : null),
  },
  admin_password: {
    label: "Administrator's password", input: $("t-password"), error: $("t-password-error"),
    say: (code, message) => {
      if (code === "too_short") return "Administrator's password must be at least " + MIN_PASSWORD_CHARS + " characters, or left empty to have one generated.";
      return reworded(message, [[/^admin_password\b/, "Administrator's password"], [/\badmin_password\b/g, "the Administrator's password"]]);
    },
  },
};
clearOnChange(fields);

let cursor = null;
const shown = new Map(); // slug → row

// The Tenants screen exists at the root, for those who may see tenants.
export function tenantsShown() { return !TENANT && can("tenants:view"); }

function cell(text, label, cls) { const td = el("td", text, cls); td.dataset.label = label; return td; }

// A URL that wraps after a slash, where a narrow column breaks it, rather than mid-word.
function url(text) {
  const code = el("code");
  text.split(/(?<=\/)/).forEach((part, i) => { if (i) code.append(el("wbr")); code.append(part); });
  return code;
}

function build(tenant) {
  const root = tenant.slug === ROOT;
  const tr = el("tr");
  tr.dataset.slug = tenant.slug;
  const slug = cell(undefined, "Slug", "keep"); slug.append(el("code", tenant.slug));
  const status = cell(tenant.enabled ? "Enabled" : "Disabled", "Status", "keep " + (tenant.enabled ? "status-on" : "status-off"));
  const baseUrl = cell(undefined, "Base URL", "url-cell");
  baseUrl.append(url(tenant.base_url), " ", copyButton(() => tenant.base_url, "base URL of " + tenant.slug));
  // A flex box inside the cell, so that the row keeps its table layout.
  const cellOfActions = cell(undefined, "Actions");
  const actions = el("div", undefined, "row-actions");
  cellOfActions.append(actions);
  if (root) {
    actions.append(el("span", "Cannot be disabled or deleted", "muted"));
  } else {
    const link = el("a", "Open console");
    link.href = tenant.base_url + "/admin";
    link.setAttribute("aria-label", "Open console of " + tenant.slug);
    actions.append(link);
    if (can("tenants:edit")) {
      const b = el("button", tenant.enabled ? "Disable" : "Enable"); b.type = "button";
      b.setAttribute("aria-label", (tenant.enabled ? "Disable" : "Enable") + " tenant " + tenant.slug);
      b.addEventListener("click", () => (tenant.enabled ? confirmDisable(tenant, b) : enable(tenant, b)));
      actions.append(b);
    }
    if (can("tenants:delete")) {
      const b = el("button", "Delete", "danger"); b.type = "button";
      b.setAttribute("aria-label", "Delete tenant " + tenant.slug);
      b.addEventListener("click", () => remove(tenant, b));
      actions.append(b);
    }
  }
  // The root's row predates tenants: the epoch it carries means "not known".
  const created = Date.parse(tenant.created_at) > 0 ? formatTime(tenant.created_at) : "—";
  tr.append(slug, cell(tenant.name, "Name"), status, baseUrl, cell(created, "Created"), cellOfActions);
  return tr;
}

function put(tenant, top) {
  const tr = build(tenant);
  const old = shown.get(tenant.slug);
  if (old) old.replaceWith(tr); else if (top) $("tenant-rows").prepend(tr); else $("tenant-rows").append(tr);
  shown.set(tenant.slug, tr);
  return tr;
}

async function load(reset) {
  if (reset) { cursor = null; shown.clear(); $("tenant-rows").replaceChildren(); }
  const r = await api("GET", path.tenants + query({ limit: DEFAULT_PAGE_SIZE, cursor }));
  const denied = r.status === 403;
  $("tenants-denied").hidden = !denied; $("tenants-table").hidden = denied;
  $("tenant-new").hidden = denied || !can("tenants:create");
  if (denied) {
    $("tenants-denied").textContent = "Your account cannot see or manage tenants. Ask an administrator of the root tenant for the permission.";
    $("tenants-more").hidden = true;
    return;
  }
  if (!r.ok) { announce("Could not load the tenants: " + problemText(r)); return; }
  for (const t of r.data.items) if (!shown.has(t.slug)) put(t, false);
  cursor = r.data.next_cursor;
  $("tenants-more").hidden = !cursor;
}
export async function showTenants() { await load(true); }
$("tenants-more").addEventListener("click", () => load(false));

// ---- create ----
function showAsk(ask) {
  $("tenant-ask").hidden = !ask; $("tenant-result").hidden = ask; $("tenant-submit").hidden = !ask;
  $("tenant-cancel").textContent = ask ? "Cancel" : "Close";
}

function open(opener) {
  form.reset();
  clearErrors(fields, $("tenant-summary"), $("tenant-error"));
  $("tenant-password").textContent = "";
  $("tenant-created").replaceChildren();
  $("tenant-dialog-title").textContent = "New tenant";
  showAsk(true);
  openDialog(dialog, opener, $("t-slug"), $("tenants-title"));
}
$("tenant-new").addEventListener("click", () => open($("tenant-new")));
$("tenant-copy-slot").append(copyButton(() => $("tenant-password").textContent, "Administrator's password"));
// The password leaves the page with the dialog: it was shown its one time.
dialog._onclose = () => { $("tenant-password").textContent = ""; $("t-password").value = ""; };

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!$("tenant-result").hidden) return; // already shown: Enter does nothing more
  busy(form, async () => {
    clearErrors(fields, $("tenant-summary"), $("tenant-error"));
    if (!requireFilled(fields, ["slug", "name", "admin_email"], $("tenant-summary"))) return;
    const body = { slug: $("t-slug").value.trim(), name: $("t-name").value, admin_email: $("t-email").value };
    // Left empty, the server generates one: an empty string would be a password refused as too short.
    if ($("t-password").value) body.admin_password = $("t-password").value;
    const r = await api("POST", path.tenants, body);
    if (r.ok) {
      const tenant = r.data;
      $("t-password").value = "";
      const tr = put(tenant, true);
      highlight(tr);
      if (!tenant.admin_password) {
        dialog._opener = null; dialog.close();
        announce("Tenant " + tenant.name + " created at " + tenant.base_url + ". Its Administrator signs in with the password you chose.");
        (tr.querySelector(".row-actions a") || $("tenants-title")).focus();
        return;
      }
      const consoleUrl = tenant.base_url + "/admin";
      const link = el("a", consoleUrl); link.href = consoleUrl;
      $("tenant-created").replaceChildren("Tenant " + tenant.name + " is ready. Its Administrator, ",
        el("strong", body.admin_email.trim()), ", signs in at ", link, " with this password:");
      $("tenant-password").textContent = tenant.admin_password;
      $("tenant-dialog-title").textContent = "Tenant " + tenant.name + " created";
      showAsk(false);
      $("tenant-copy-slot").querySelector("button").focus();
      announce("Tenant " + tenant.name + " created. Its Administrator's password is shown once, in the dialog: copy it now.");
      return;
    }
    if (r.status === 422 && r.data && Array.isArray(r.data.errors)) {
      showErrors(fields, r.data.errors, $("tenant-summary"), $("tenant-error"));
    } else if (r.status === 403 && r.data && Array.isArray(r.data.missing_permissions)) {
      $("tenant-error").textContent = "Your account cannot create tenants: a tenant's Administrator gets every agency permission, and you lack "
        + r.data.missing_permissions.join(", ") + ".";
    } else {
      $("tenant-error").textContent = problemText(r, "Could not create the tenant.");
    }
  });
});

// ---- disable, enable, delete ----
// The changed row in place, said, and focus on its Enable or Disable.
function changed(tenant) {
  const tr = put(tenant, false);
  highlight(tr);
  announce("Tenant " + tenant.name + (tenant.enabled
    ? " enabled: its people can sign in and its applications get tokens again."
    : " disabled: its people cannot sign in and its tokens are refused."));
  const again = Array.from(tr.querySelectorAll("button")).find((b) => /^(Enable|Disable)$/.test(b.textContent));
  (again || $("tenants-title")).focus();
}

// Enabling takes nothing away, so it asks nothing.
async function enable(tenant, button) {
  if (button.disabled) return;
  button.disabled = true;
  const r = await api("PATCH", path.tenant(tenant.slug), { enabled: true });
  button.disabled = false;
  if (!r.ok) { announce("Could not enable " + tenant.name + ": " + problemText(r)); return; }
  changed(r.data);
}

function confirmDisable(tenant, opener) {
  confirmAction({
    title: "Disable tenant " + tenant.name + "?",
    text: "Within seconds its people cannot sign in, its applications get no tokens and every token it issued is refused. "
      + "Its data stays. Enabling it again does not bring back tokens issued before.",
    ok: "Disable tenant",
    opener,
    run: () => api("PATCH", path.tenant(tenant.slug), { enabled: false }),
    done: (r) => changed(r.data),
  });
}

function remove(tenant, opener) {
  confirmAction({
    title: "Delete tenant " + tenant.name + "?",
    text: "Everything tenant " + tenant.name + " holds is removed for good: its administrators, users, roles, applications, "
      + "secrets, signing keys and audit trail. Its tokens stop working within seconds. This cannot be undone.",
    ok: "Delete tenant",
    opener,
    typed: { value: tenant.slug, what: "its slug" },
    run: () => api("DELETE", path.tenant(tenant.slug)),
    done: () => {
      const tr = shown.get(tenant.slug); if (tr) tr.remove(); shown.delete(tenant.slug);
      announce("Tenant " + tenant.name + " deleted.");
      $("tenants-title").focus();
    },
  });
}
