// Global → Users: list, invite or create, edit, disable and enable, delete.
import { api, path, query, problemText } from "./api.js";
import { $, el, announce, highlight, openDialog, busy, checkboxes, checkedValues, listState, draftKeeper, formatTime } from "./ui.js";
import { clearErrors, clearOnChange, showErrors, requireFilled } from "./errors.js";
import { can, session, roleName, roleItems, loadRoles } from "./catalog.js";
import { confirmAction } from "./confirm.js";
import { DEFAULT_PAGE_SIZE } from "./limits.js";

const form = $("user-form");
const dialog = $("user-dialog");
const fields = {
  name: { label: "Name", input: $("u-name"), error: $("u-name-error") },
  email: { label: "Email", input: $("u-email"), error: $("u-email-error") },
  password: { label: "Password", input: $("u-password"), error: $("u-password-error") },
  roles: { label: "Roles", input: () => Array.from($("u-roles-list").querySelectorAll("input")), group: $("u-roles"), error: $("u-roles-error") },
};
clearOnChange(fields);
let cursor = null;
let editing = null;
const shown = new Map();

function cell(content, label, cls) {
  const td = el("td", undefined, cls);
  td.dataset.label = label;
  if (content !== undefined) td.append(content);
  return td;
}

// In words, with a mark beside them: never by colour alone.
function statusOf(user) {
  const [word, mark, cls] = !user.enabled ? ["Disabled", "✕ ", "badge-expired"]
    : user.invitation_pending ? ["Invited", "✉ ", "badge-ending"] : ["Enabled", "✓ ", "badge-active"];
  const badge = el("span", undefined, "badge " + cls);
  const m = el("span", mark); m.setAttribute("aria-hidden", "true");
  badge.append(m, word);
  return badge;
}

function secondStep(user) {
  const on = (user.second_factors || []).length > 0;
  const text = el("span", on ? "On" : "Off", on ? "status-on" : "muted");
  return text;
}

const isMe = (user) => Boolean(session.me && user.id === session.me.id);

// An address that must wrap does so after its @ rather than mid-word.
function address(email) {
  const at = email.lastIndexOf("@");
  const span = el("span");
  if (at < 1) { span.textContent = email; return span; }
  span.append(email.slice(0, at + 1), el("wbr"), el("span", email.slice(at + 1), "domain"));
  return span;
}

function build(user) {
  const tr = el("tr");
  tr.dataset.id = user.id;
  tr.append(
    cell(user.name, "Name"), cell(address(user.email), "Email"), cell(user.roles.map(roleName).join(", ") || "—", "Roles"),
    cell(statusOf(user), "Status", "keep"),
    cell(user.last_sign_in_at ? formatTime(user.last_sign_in_at) : (user.invitation_pending ? "Not yet" : "Never"), "Last sign-in"),
    cell(secondStep(user), "2-step", "keep"),
  );
  const actions = cell(undefined, "Actions");
  actions.className = "row-actions";
  if (can("admin:edit")) {
    const b = el("button", "Edit"); b.type = "button"; b.setAttribute("aria-label", "Edit " + user.name);
    b.addEventListener("click", () => open(user, b)); actions.append(b);
    // One's own account is disabled by another administrator, never by oneself.
    if (!isMe(user)) {
      const verb = user.enabled ? "Disable" : "Enable";
      const t = el("button", verb, user.enabled ? "danger" : undefined); t.type = "button";
      t.setAttribute("aria-label", verb + " " + user.name);
      t.addEventListener("click", () => (user.enabled ? disable(user, t) : enable(user, t)));
      actions.append(t);
    }
  }
  if (can("admin:delete") && !isMe(user)) {
    const b = el("button", "Delete", "danger"); b.type = "button"; b.setAttribute("aria-label", "Delete " + user.name);
    b.addEventListener("click", () => remove(user, b)); actions.append(b);
  }
  tr.append(actions);
  return tr;
}

function put(user, top) {
  const tr = build(user);
  const old = shown.get(user.id);
  if (old) old.replaceWith(tr); else if (top) $("user-rows").prepend(tr); else $("user-rows").append(tr);
  shown.set(user.id, tr);
  return tr;
}

async function load(reset) {
  if (reset) { cursor = null; shown.clear(); $("user-rows").replaceChildren(); listState("users", $("users-table"), { loading: true }); }
  const r = await api("GET", path.users + query({ limit: DEFAULT_PAGE_SIZE, cursor }));
  listState("users", $("users-table"));
  const denied = r.status === 403;
  $("users-denied").hidden = !denied; $("users-table").hidden = denied;
  $("user-new").hidden = denied || !can("admin:create");
  if (denied) { $("users-denied").textContent = "Your account cannot see or manage users. Ask an administrator for the Administrator role."; $("users-more").hidden = true; return; }
  if (!r.ok) {
    listState("users", $("users-table"), { error: "Could not load users: " + problemText(r) });
    $("users-more").hidden = true;
    return;
  }
  for (const u of r.data.items) if (!shown.has(u.id)) put(u, false);
  cursor = r.data.next_cursor;
  $("users-more").hidden = !cursor;
}
export async function showUsers() { await loadRoles(); await load(true); }
$("users-more").addEventListener("click", () => load(false));
$("users-retry").addEventListener("click", async () => { await showUsers(); if ($("users-error").hidden) $("users-title").focus(); });

// A new user is invited by default: they choose their own password through
// the emailed link. "Set a password now" shows the field.
const settingNow = () => Boolean(editing) || $("u-set-now").checked;
function firstPassword() {
  const now = settingNow();
  $("u-password-row").hidden = !now;
  if (!now) { $("u-password").value = ""; fields.password.error.textContent = ""; $("u-password").removeAttribute("aria-invalid"); }
}
for (const id of ["u-invite", "u-set-now"]) $(id).addEventListener("change", firstPassword);

const draft = draftKeeper(dialog, $("user-draft"), {
  touched: () => ["u-name", "u-email"].some((id) => $(id).value.trim() !== "") || checkedValues($("u-roles-list")).length > 0,
  startOver: () => { fill(null); $("u-name").focus(); },
});
// A password typed is never kept with a draft.
dialog.addEventListener("close", () => { $("u-password").value = ""; });

function open(user, opener) {
  editing = user;
  if (draft.opens(!user)) { clearErrors(fields, $("user-summary"), $("user-error")); firstPassword(); }
  else fill(user);
  openDialog(dialog, opener, $("u-name"), $("users-title"));
}

// The form as `user` is now, or empty for a new one.
function fill(user) {
  form.reset();
  clearErrors(fields, $("user-summary"), $("user-error"));
  $("user-dialog-title").textContent = user ? "Edit " + user.name : "New user";
  $("u-first").hidden = Boolean(user);
  $("u-password-label").textContent = user ? "New password (leave empty to keep the current one)" : "Password *";
  if (user) $("u-password").removeAttribute("required"); else $("u-password").setAttribute("required", "");
  checkboxes($("u-roles-list"), "u-role", roleItems(), new Set(user ? user.roles : []), "u-roles-error");
  if (user) { $("u-name").value = user.name; $("u-email").value = user.email; }
  firstPassword();
}
$("user-new").addEventListener("click", () => open(null, $("user-new")));

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  busy(form, async () => {
    clearErrors(fields, $("user-summary"), $("user-error"));
    const needed = editing ? ["name", "email"] : settingNow() ? ["name", "email", "password"] : ["name", "email"];
    if (!requireFilled(fields, needed, $("user-summary"))) return;
    const body = { name: $("u-name").value, email: $("u-email").value, roles: checkedValues($("u-roles-list")) };
    if (settingNow() && $("u-password").value) body.password = $("u-password").value;
    const invited = !editing && !body.password;
    const r = editing ? await api("PATCH", path.user(editing.id), body) : await api("POST", path.users, body);
    $("u-password").value = "";
    if (r.ok) {
      const wasNew = !editing;
      dialog._opener = null; draft.saved(); dialog.close();
      const tr = put(r.data, true);
      highlight(tr);
      announce(invited
        ? "User " + r.data.name + " invited: an email to " + r.data.email + " has a link to choose a password (it works for 48 hours)."
        : "User " + r.data.name + (wasNew ? " created." : " saved."));
      const b = tr.querySelector("button"); (b || $("users-title")).focus();
      return;
    }
    if (r.status === 422 && r.data && Array.isArray(r.data.errors)) showErrors(fields, r.data.errors, $("user-summary"), $("user-error"));
    else $("user-error").textContent = problemText(r, "Could not save the user.");
  });
});

// A disabled person's sessions end at once; enabling needs no confirmation.
function disable(user, opener) {
  confirmAction({
    title: "Disable " + user.name + "?",
    text: user.name + " (" + user.email + ") can no longer sign in, and every session they have open ends now. "
      + "Their account, roles and records stay; Enable lets them sign in again.",
    ok: "Disable user",
    opener,
    fallback: $("users-title"),
    run: () => api("PATCH", path.user(user.id), { enabled: false }),
    done: (r) => {
      const tr = put(r.data, false);
      highlight(tr);
      announce("User " + user.name + " disabled: they can no longer sign in.");
      const b = tr.querySelector(`button[aria-label="Enable ${CSS.escape(user.name)}"]`);
      (b || $("users-title")).focus();
    },
  });
}

async function enable(user, button) {
  if (button.getAttribute("aria-busy") === "true") return;
  button.setAttribute("aria-busy", "true");
  const r = await api("PATCH", path.user(user.id), { enabled: true });
  button.removeAttribute("aria-busy");
  if (!r.ok) { announce("Could not enable " + user.name + ": " + problemText(r)); return; }
  const tr = put(r.data, false);
  highlight(tr);
  announce("User " + user.name + " enabled: they can sign in again.");
  const b = tr.querySelector(`button[aria-label="Disable ${CSS.escape(user.name)}"]`);
  (b || $("users-title")).focus();
}

function remove(user, opener) {
  confirmAction({
    title: "Delete user " + user.name + "?",
    text: "The account " + user.name + " (" + user.email + ") is removed and can no longer sign in.",
    ok: "Delete user",
    opener,
    run: () => api("DELETE", path.user(user.id)),
    done: () => {
      const tr = shown.get(user.id); if (tr) tr.remove(); shown.delete(user.id);
      announce("User " + user.name + " deleted.");
      $("users-title").focus();
    },
  });
}
