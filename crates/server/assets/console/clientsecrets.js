// An application's client secrets: listed in its details (never a value),
// added in a dialog that shows the new value once, shown one by one after
// the admin's password, and ended after a confirmation that names them.
import { api, path, problemText } from "./api.js";
import { $, el, announce, openDialog, busy, copyButton, highlight, formatTime } from "./ui.js";
import { clearErrors, clearOnChange, showErrors, reworded } from "./errors.js";
import { can } from "./catalog.js";
import { confirmAction } from "./confirm.js";
import { openReveal, emptyPassword, proofField, proofFailed } from "./secrets.js";
import { MAX_ACTIVE_SECRETS, SECRET_LABEL_CHARS } from "./limits.js";

const dialog = $("cs-dialog");
const form = $("cs-form");
const secretsPath = (app) => path.app(app.id) + "/client-secrets";
// What a secret is called wherever it is named: its label, else its id.
const nameOf = (s) => s.label || s.id;

const fields = {
  password: { label: "Your password", input: $("cs-password"), error: $("cs-password-error") },
  label: {
    label: "Label", input: $("cs-label"), error: $("cs-label-error"),
    say: (code) => (code === "too_long" ? "Label is too long (at most " + SECRET_LABEL_CHARS + " characters)." : null),
  },
  expires_at: {
    label: "Expires on", input: $("cs-expires"), error: $("cs-expires-error"),
    say: (code, message) => {
      if (/future/.test(message || "")) return "Expires on must be a day still to come: choose a later date.";
      return reworded(message, [[/^expires_at\b/, "Expires on"], [/\bexpires_at\b/g, "expires on"]]);
    },
  },
};
clearOnChange(fields);

// The chosen day's end in UTC, as the hint says: a secret set to expire
// "on" a day works through all of it, wherever the admin sits.
function expiryOf(input) {
  if (input.validity.badInput) return { error: { field: "expires_at", code: "invalid_value", message: "Enter a whole date (day, month and year), or leave Expires on empty." } };
  return input.value ? { at: input.value + "T23:59:59Z" } : {};
}

let adding = null; // the section the dialog adds to
const addCode = proofField($("cs-factor-slot"), "cs", form);

function openAdd(section, opener) {
  adding = section;
  form.reset();
  clearErrors(fields, $("cs-summary"), $("cs-error"));
  $("cs-value").textContent = "";
  $("cs-about").textContent = "";
  $("cs-dialog-title").textContent = "Add client secret to " + section.app.name;
  $("cs-ask").hidden = false; $("cs-result").hidden = true; $("cs-submit").hidden = false;
  $("cs-cancel").textContent = "Cancel";
  addCode.open();
  openDialog(dialog, opener, $("cs-password"), section.title);
}
$("cs-copy-slot").append(copyButton(() => $("cs-value").textContent, "new client secret"));
dialog._onclose = () => { $("cs-value").textContent = ""; $("cs-password").value = ""; addCode.reset(); };

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!$("cs-result").hidden) return; // already shown: Enter does nothing more
  const input = $("cs-password");
  clearErrors(fields, $("cs-summary"), $("cs-error"));
  const expiry = expiryOf($("cs-expires"));
  if (expiry.error) { showErrors(fields, [expiry.error], $("cs-summary"), $("cs-error")); return; }
  if (emptyPassword(input, $("cs-password-error"))) return;
  const plan = addCode.plan();
  if (!plan) return;
  busy(form, async () => {
    const code = await plan();
    if (!code) return;
    const section = adding;
    const app = section.app;
    const password = input.value;
    input.value = "";
    const body = { password, ...code };
    if ($("cs-label").value.trim()) body.label = $("cs-label").value;
    if (expiry.at) body.expires_at = expiry.at;
    const r = await api("POST", secretsPath(app), body);
    if (r.ok) {
      addCode.reset();
      $("cs-value").textContent = r.data.client_secret;
      $("cs-about").textContent = (r.data.label ? "Label: " + r.data.label + ". " : "")
        + (r.data.expires_at ? "Works until " + formatTime(r.data.expires_at) + "." : "It does not expire.");
      $("cs-ask").hidden = true; $("cs-result").hidden = false; $("cs-submit").hidden = true;
      $("cs-cancel").textContent = "Close";
      $("cs-copy-slot").querySelector("button").focus();
      await section.load(r.data.id);
      announce("Client secret " + nameOf(r.data) + " added to " + app.name + ". It is shown once here; Show in the list shows it again.");
      return;
    }
    if (r.status === 422 && r.data && Array.isArray(r.data.errors)) {
      // Refused before the password was checked: it need not be typed again.
      input.value = password;
      showErrors(fields, r.data.errors, $("cs-summary"), $("cs-error"));
    } else if (r.status === 403 && r.data && Array.isArray(r.data.missing_permissions)) {
      $("cs-error").textContent = "Your account cannot change " + app.name + ": it holds permissions you lack ("
        + r.data.missing_permissions.join(", ") + ").";
    } else if (r.status === 409) {
      const text = problemText(r, "Could not add the client secret.");
      $("cs-error").textContent = /[.!?]$/.test(text) ? text : text + ".";
      // Others may have added secrets since the list was loaded: show them.
      await section.load();
    } else {
      proofFailed(r, input, $("cs-password-error"), addCode, password);
    }
  });
});

function confirmEnd(section, s, activeCount, opener) {
  const app = section.app;
  const last = s.status === "active" && activeCount === 1;
  confirmAction({
    title: "End client secret " + nameOf(s) + "?",
    text: app.name + " can no longer get tokens with this secret; its other secrets keep working. "
      + "Tokens it already got with it keep working until they expire, within the hour."
      + (last ? " It is the application's only active secret: the application gets no tokens until a new one is added." : ""),
    ok: "End secret",
    opener,
    fallback: section.title,
    run: () => api("DELETE", secretsPath(app) + "/" + encodeURIComponent(s.id)),
    done: async () => {
      await section.load();
      announce("Client secret " + nameOf(s) + " of " + app.name + " ended.");
      (section.addButton || section.title).focus();
    },
  });
}

function cell(content, label, cls) {
  const td = el("td", undefined, cls);
  td.dataset.label = label;
  td.append(content);
  return td;
}

// A working secret that stops within this long is said to be ending: a
// rotation's grace period is at most a week, so a rotated-out secret never
// reads as plainly active.
const ENDING_WITHIN_MS = 7 * 24 * 3600 * 1000;

function statusOf(s) {
  const expired = s.status === "expired";
  const ending = !expired && s.expires_at && new Date(s.expires_at) - Date.now() < ENDING_WITHIN_MS;
  // Said in words, with a mark beside it: never by colour alone.
  const badge = el("span", undefined, "badge badge-" + (expired ? "expired" : ending ? "ending" : "active"));
  const mark = el("span", expired ? "✕ " : ending ? "◷ " : "✓ ");
  mark.setAttribute("aria-hidden", "true");
  badge.append(mark, expired ? "Expired" : ending ? "Ending " + formatTime(s.expires_at) : "Active");
  return badge;
}

function row(section, s, activeCount) {
  const app = section.app;
  const tr = el("tr", undefined, s.status === "expired" ? "cs-row cs-expired" : "cs-row");
  tr.dataset.id = s.id;
  const name = el("div");
  name.append(s.label ? el("span", s.label, "cs-label") : el("span", "No label", "muted"), el("br"), el("code", s.id, "cs-id"));
  tr.append(
    cell(name, "Label", "cs-name"),
    cell(formatTime(s.created_at), "Created"),
    cell(s.expires_at ? formatTime(s.expires_at) : "Never", "Expires"),
    cell(s.last_used_at ? formatTime(s.last_used_at) : "Never", "Last used"),
    cell(statusOf(s), "Status"),
  );
  const actions = el("td", undefined, "row-actions");
  actions.dataset.label = "Actions";
  if (can("admin:edit")) {
    const show = el("button", "Show");
    show.type = "button";
    show.setAttribute("aria-label", "Show client secret " + nameOf(s) + " of " + app.name);
    show.addEventListener("click", () => openReveal(app, show, { id: s.id, name: nameOf(s) }, section.title));
    const end = el("button", "End", "danger");
    end.type = "button";
    end.setAttribute("aria-label", "End client secret " + nameOf(s) + " of " + app.name);
    end.addEventListener("click", () => confirmEnd(section, s, activeCount, end));
    actions.append(show, end);
  }
  tr.append(actions);
  return tr;
}

// The section in a client_secret_basic application's details.
// `load(addedId)` fetches the list afresh and, given the id of a secret just
// added, highlights its row (focus stays in the dialog showing its value).
export function clientSecretsSection(app) {
  const node = el("section", undefined, "cs");
  const title = el("h2", "Client secrets", "cs-title");
  title.id = "cs-title-" + app.id;
  title.tabIndex = -1;
  node.setAttribute("aria-labelledby", title.id);
  const table = el("table", undefined, "cards cs-table");
  const caption = el("caption", "Client secrets of " + app.name, "sr-only");
  const head = el("thead");
  const headRow = el("tr");
  for (const name of ["Label", "Created", "Expires", "Last used", "Status"]) {
    const th = el("th", name); th.scope = "col"; headRow.append(th);
  }
  const actionsTh = el("th"); actionsTh.scope = "col"; actionsTh.append(el("span", "Actions", "sr-only"));
  headRow.append(actionsTh);
  head.append(headRow);
  const body = el("tbody");
  table.append(caption, head, body);
  table.hidden = true;
  const empty = el("p", "Loading…", "muted");
  const failure = el("p", undefined, "err");
  failure.setAttribute("role", "alert");
  // Secrets that stopped existing, so that one ended by a rotation or by
  // End does not just vanish: what it was called, and when it ended.
  const ended = el("details", undefined, "cs-ended");
  ended.hidden = true;
  const endedSummary = el("summary");
  const endedList = el("ul", undefined, "cs-ended-list");
  ended.append(endedSummary, endedList);
  node.append(title, el("p", "The application may hold up to " + MAX_ACTIVE_SECRETS + " active secrets at once, so its deployments can move to a new one one by one. The key icon shows the newest active one.", "muted"),
    table, empty, failure, ended);
  const section = { app, node, title, addButton: null };
  if (can("admin:edit")) {
    const add = el("button", "Add secret");
    add.type = "button";
    add.setAttribute("aria-label", "Add client secret to " + app.name);
    add.addEventListener("click", () => openAdd(section, add));
    const actions = el("div", undefined, "row-actions");
    actions.append(add);
    node.append(actions);
    section.addButton = add;
  }
  let latest = 0;
  section.load = async (addedId) => {
    const mine = ++latest;
    const r = await api("GET", secretsPath(app));
    if (mine !== latest) return; // a newer load answers instead
    if (!r.ok) { failure.textContent = "Could not load the client secrets: " + problemText(r); return; }
    failure.textContent = "";
    const active = r.data.items.filter((s) => s.status === "active").length;
    body.replaceChildren(...r.data.items.map((s) => row(section, s, active)));
    table.hidden = r.data.items.length === 0;
    empty.textContent = "None: this application gets no tokens until a secret is added.";
    empty.hidden = r.data.items.length > 0;
    const gone = r.data.ended || [];
    ended.hidden = gone.length === 0;
    endedSummary.textContent = "Ended secrets (" + gone.length + (gone.length === 20 ? ", the most recent" : "") + ")";
    endedList.replaceChildren(...gone.map((e) => {
      const li = el("li");
      li.append(e.label ? el("span", e.label, "cs-label") : el("span", "No label", "muted"), " ", el("code", e.id, "cs-id"),
        el("br"), "Ended " + formatTime(e.ended_at) + (e.created_at ? ", created " + formatTime(e.created_at) : ""));
      return li;
    }));
    const added = addedId && body.querySelector(`tr[data-id="${CSS.escape(addedId)}"]`);
    if (added) highlight(added);
  };
  return section;
}
