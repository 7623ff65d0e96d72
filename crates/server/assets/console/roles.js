// Global → Roles: the catalog of roles and their permissions.
import { api, path, problemText } from "./api.js";
import { $, el, announce, highlight, openDialog, busy, listState, draftKeeper } from "./ui.js";
import { clearErrors, clearOnChange, showErrors, requireFilled } from "./errors.js";
import { can, session, loadRoles, MODULES, ACTIONS, MODULE_NAMES } from "./catalog.js";
import { confirmAction } from "./confirm.js";

const form = $("role-form");
const dialog = $("role-dialog");
const permBoxes = () => Array.from($("ro-perms-list").querySelectorAll("input"));
const fields = {
  name: { label: "Role name", input: $("ro-name"), error: $("ro-name-error") },
  permissions: { label: "Permissions", input: permBoxes, group: $("ro-perms"), error: $("ro-perms-error") },
};
let editing = null;

// One small group per module, one checkbox per action.
for (const module of MODULES) {
  const group = el("fieldset", undefined, "perm-module");
  group.append(el("legend", MODULE_NAMES[module]));
  for (const action of ACTIONS) {
    const id = "perm-" + module + "-" + action;
    const row = el("div", undefined, "check-row");
    const box = el("input"); box.type = "checkbox"; box.id = id; box.value = module + ":" + action;
    box.setAttribute("aria-describedby", "ro-perms-error");
    const label = el("label", action.charAt(0).toUpperCase() + action.slice(1)); label.htmlFor = id;
    row.append(box, label); group.append(row);
  }
  $("ro-perms-list").append(group);
}
clearOnChange(fields);

function describe(perms) {
  return MODULES.map((m) => {
    const acts = ACTIONS.filter((a) => perms.includes(m + ":" + a));
    return acts.length ? MODULE_NAMES[m] + ": " + acts.join(", ") : null;
  }).filter(Boolean).join("; ") || "—";
}

function build(role) {
  const tr = el("tr");
  tr.dataset.id = role.id;
  const name = el("td", role.name); name.dataset.label = "Name";
  const perms = el("td", describe(role.permissions)); perms.dataset.label = "Permissions";
  const actions = el("td", undefined, "row-actions"); actions.dataset.label = "Actions";
  if (can("admin:edit")) {
    const b = el("button", "Edit"); b.type = "button"; b.setAttribute("aria-label", "Edit role " + role.name);
    b.addEventListener("click", () => open(role, b)); actions.append(b);
  }
  if (can("admin:delete")) {
    const b = el("button", "Delete", "danger"); b.type = "button"; b.setAttribute("aria-label", "Delete role " + role.name);
    b.addEventListener("click", () => remove(role, b)); actions.append(b);
  }
  tr.append(name, perms, actions);
  return tr;
}

function render() {
  $("role-rows").replaceChildren(...session.roles.map(build));
}

export async function showRoles() {
  listState("roles", $("roles-table"), { loading: true });
  const r = await loadRoles();
  listState("roles", $("roles-table"));
  const denied = r.status === 403;
  $("roles-denied").hidden = !denied; $("roles-table").hidden = denied;
  $("role-new").hidden = denied || !can("admin:create");
  if (denied) { $("roles-denied").textContent = "Your account cannot see or manage roles. Ask an administrator for the Administrator role."; return; }
  if (!r.ok) { listState("roles", $("roles-table"), { error: "Could not load roles: " + problemText(r) }); return; }
  render();
}
$("roles-retry").addEventListener("click", async () => { await showRoles(); if ($("roles-error").hidden) $("roles-title").focus(); });

const draft = draftKeeper(dialog, $("role-draft"), {
  touched: () => $("ro-name").value.trim() !== "" || permBoxes().some((b) => b.checked),
  startOver: () => { fill(null); $("ro-name").focus(); },
});

function open(role, opener) {
  editing = role;
  if (draft.opens(!role)) clearErrors(fields, $("role-summary"), $("role-error"));
  else fill(role);
  openDialog(dialog, opener, $("ro-name"), $("roles-title"));
}

// The form as `role` is now, or empty for a new one.
function fill(role) {
  form.reset();
  clearErrors(fields, $("role-summary"), $("role-error"));
  $("role-dialog-title").textContent = role ? "Edit role " + role.name : "New role";
  if (role) {
    $("ro-name").value = role.name;
    for (const b of permBoxes()) b.checked = role.permissions.includes(b.value);
  }
}
$("role-new").addEventListener("click", () => open(null, $("role-new")));

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  busy(form, async () => {
    clearErrors(fields, $("role-summary"), $("role-error"));
    if (!requireFilled(fields, ["name", "permissions"], $("role-summary"))) return;
    const body = { name: $("ro-name").value, permissions: permBoxes().filter((b) => b.checked).map((b) => b.value) };
    const r = editing ? await api("PATCH", path.role(editing.id), body) : await api("POST", path.roles, body);
    if (r.ok) {
      const wasNew = !editing;
      dialog._opener = null; draft.saved(); dialog.close();
      await loadRoles();
      render();
      const tr = $("role-rows").querySelector('tr[data-id="' + CSS.escape(r.data.id) + '"]');
      if (tr) { highlight(tr); (tr.querySelector("button") || $("roles-title")).focus(); }
      announce("Role " + r.data.name + (wasNew ? " created." : " saved."));
      return;
    }
    if (r.status === 422 && r.data && Array.isArray(r.data.errors)) showErrors(fields, r.data.errors, $("role-summary"), $("role-error"));
    else if (r.status === 403 && r.data && r.data.missing_permissions) {
      $("role-error").textContent = "You can only hand out permissions you hold yourself. Missing: " + r.data.missing_permissions.join(", ") + ".";
    } else $("role-error").textContent = problemText(r, "Could not save the role.");
  });
});

function remove(role, opener) {
  confirmAction({
    title: "Delete role " + role.name + "?",
    text: "The role " + role.name + " is removed from the catalog. A role still assigned to a user or an application cannot be removed.",
    ok: "Delete role",
    opener,
    run: async () => {
      const r = await api("DELETE", path.role(role.id));
      if (r.status === 409 && r.data && Array.isArray(r.data.holders) && r.data.holders.length) {
        r.message = "The role is still held by " + r.data.holders.map((h) => h.name).join(", ") + ". Take it from them first.";
      }
      return r;
    },
    done: async () => {
      await loadRoles(); render();
      announce("Role " + role.name + " deleted.");
      $("roles-title").focus();
    },
  });
}
