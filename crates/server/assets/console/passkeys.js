// Your account → Passkeys: the person's passkeys (name, added, last used),
// adding one (a name, the password and any factor held, then the browser's
// ceremony) and removing one (the password and a factor held). Anyone
// signed in reads and changes their own, even an administrator who must
// first enrol a second factor: a passkey is one.
import { api, path, problemText } from "./api.js";
import { $, el, announce, busy, openDialog, formatTime, highlight, listState, focusWhenEnabled } from "./ui.js";
import { reworded } from "./errors.js";
import { proofField, secondFactor, refusalOf, factorRefused } from "./factor.js";
import * as webauthn from "./webauthn.js";

const MAX_NAME_CHARS = 100;
// The server keeps a registration's options for 5 minutes: a retry after a
// cancelled prompt reuses them within this, without the password again.
const CEREMONY_REUSE_MS = 4 * 60 * 1000;

let keys = null; // the person's passkeys as last loaded, or null
let changed = () => {};
// `fn(added)` runs after a passkey is added (true) or removed (false); it
// answers true when it said what happened itself.
export function whenPasskeysChange(fn) { changed = fn; }
// How many passkeys the person holds, as last loaded (0 when not known).
export function passkeysHeld() { return keys ? keys.length : 0; }

// Loads the list; what it says of the person's passkeys is learnt.
export async function loadPasskeys() {
  listState("pk", $("pk-table"), { loading: true });
  const r = await api("GET", path.passkeys);
  if (!r.ok) {
    keys = null;
    listState("pk", $("pk-table"), { error: "Could not load your passkeys: " + problemText(r) });
    $("pk-empty").hidden = true;
    return r;
  }
  listState("pk", $("pk-table"));
  keys = r.data.items || [];
  secondFactor.learn({ passkey: keys.length > 0 });
  return r;
}
$("pk-retry").addEventListener("click", async () => {
  await loadPasskeys();
  renderPasskeys();
  if ($("pk-error").hidden) $("pk-title").focus();
});

function cell(content, label, cls) {
  const td = el("td", undefined, cls);
  td.dataset.label = label;
  td.append(content);
  return td;
}

export function renderPasskeys() {
  if (!keys) return;
  $("pk-rows").replaceChildren(...keys.map((key) => {
    const tr = el("tr");
    tr.dataset.id = key.id;
    const remove = el("button", "Remove", "danger");
    remove.type = "button";
    remove.setAttribute("aria-label", "Remove passkey " + key.name);
    remove.addEventListener("click", () => openRemove(key, remove));
    const actions = cell(remove, "Actions", "row-actions");
    tr.append(cell(key.name, "Name", "pk-name"), cell(formatTime(key.created_at), "Added"),
      cell(key.last_used_at ? formatTime(key.last_used_at) : "Never", "Last used"), actions);
    return tr;
  }));
  $("pk-table").hidden = keys.length === 0;
  $("pk-empty").hidden = keys.length > 0;
}

function fieldError(input, error, text) {
  $(input).setAttribute("aria-invalid", "true");
  $(error).textContent = text;
  $(input).focus();
}
for (const [input, error] of [["pk-name", "pk-name-error"], ["pk-password", "pk-password-error"], ["pk-rm-password", "pk-rm-password-error"]]) {
  $(input).addEventListener("input", () => { $(input).removeAttribute("aria-invalid"); $(error).textContent = ""; });
}

// ---- adding ----
const addDialog = $("pk-add-dialog");
const addForm = $("pk-add-form");
const addProof = proofField($("pk-factor-slot"), "pka", addForm, {
  hint: "To add another, confirm with one you hold: your browser asks for it first, then makes the new one.",
});
let ceremony = null; // { id, options, at }: registration options not yet answered

// Back to asking for the password (a ceremony spent or expired).
function askPassword() {
  ceremony = null;
  $("pk-confirm").hidden = false;
  $("pk-ready").hidden = true;
}

$("pk-add").addEventListener("click", () => {
  $("pk-name").value = ""; $("pk-password").value = "";
  for (const id of ["pk-name", "pk-password"]) $(id).removeAttribute("aria-invalid");
  for (const id of ["pk-name-error", "pk-password-error", "pk-add-error"]) $(id).textContent = "";
  askPassword();
  addProof.open();
  $("pk-add-why").textContent = "Your browser then asks where to keep it: this device, your phone or your password manager."
    + (addProof.shown ? " You have 2-step verification: adding a passkey asks for your second factor as well." : "")
    + " Fields marked * are required.";
  openDialog(addDialog, $("pk-add"), $("pk-name"), $("pk-title"));
});
addDialog._onclose = () => { $("pk-password").value = ""; addProof.reset(); ceremony = null; };

addForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  $("pk-add-error").textContent = "";
  const name = $("pk-name").value.trim();
  if (!name) { fieldError("pk-name", "pk-name-error", "Name the passkey, like Work laptop, to tell it apart in your list."); return; }
  if (name.length > MAX_NAME_CHARS) { fieldError("pk-name", "pk-name-error", "Name is too long (at most " + MAX_NAME_CHARS + " characters)."); return; }
  if (!webauthn.supported()) { $("pk-add-error").textContent = webauthn.UNSUPPORTED; return; }
  const reuse = ceremony && Date.now() - ceremony.at < CEREMONY_REUSE_MS;
  let plan = null;
  if (!reuse) {
    askPassword();
    if (!$("pk-password").value) { fieldError("pk-password", "pk-password-error", "Enter your password: nothing was sent."); return; }
    plan = addProof.plan();
    if (!plan) return;
  }
  busy(addForm, async () => {
    if (!reuse) {
      const factor = await plan();
      if (!factor) return;
      const input = $("pk-password");
      const password = input.value;
      input.value = "";
      const r = await api("POST", path.passkeys + "/options", { password, ...factor });
      if (!r.ok) {
        if (r.status === 403) {
          if (refusalOf(r) === "password") {
            if (addProof.code.shown) addProof.code.input.value = "";
            fieldError("pk-password", "pk-password-error", "The password is not right.");
            return;
          }
          input.value = password;
          factorRefused(addProof, "You hold a second factor already: to add a passkey, give it too.");
          return;
        }
        // 409: the service is at an IP address, where browsers allow none.
        $("pk-add-error").textContent = r.status === 409 ? webauthn.sentence(r.data && r.data.detail)
          : problemText(r, "Could not begin adding a passkey.");
        return;
      }
      ceremony = { id: r.data.ceremony_id, options: r.data.options, at: Date.now() };
    }
    let credential;
    try {
      credential = await webauthn.create(ceremony.options);
    } catch (error) {
      // The password stands for this ceremony: another try needs the browser only.
      $("pk-confirm").hidden = true;
      $("pk-ready").hidden = false;
      $("pk-add-error").textContent = webauthn.refusal(error, true);
      focusWhenEnabled($("pk-add-submit"));
      return;
    }
    const begun = ceremony;
    const r = await api("POST", path.passkeys, { ceremony_id: begun.id, name, credential });
    if (r.ok) {
      askPassword();
      addDialog._opener = null;
      addDialog.close();
      secondFactor.learn({ passkey: true });
      await loadPasskeys();
      renderPasskeys();
      const row = $("pk-rows").querySelector(`tr[data-id="${CSS.escape(r.data.id)}"]`);
      if (row) highlight(row);
      $("pk-title").focus();
      // An administrator who had to enrol first is let through, and told so there.
      if (await changed(true)) return;
      announce("Passkey " + r.data.name + " added: signing in now asks for "
        + (secondFactor.has("totp") === true ? "a passkey or a code" : "a passkey") + " after your password.");
      return;
    }
    if (r.status === 422) {
      // Judged before the ceremony was taken: a new name, and the same answer, would do; ask afresh.
      askPassword(); addProof.open();
      const field = r.data && Array.isArray(r.data.errors) ? r.data.errors[0] : null;
      fieldError("pk-name", "pk-name-error", (field && reworded(field.message, [[/^name\b/, "Name"]])) || "Choose another name.");
      return;
    }
    askPassword(); addProof.open();
    if (r.status === 409) {
      $("pk-add-error").textContent = "This passkey is in your list already: the browser offered one added before. Choose another device or password manager.";
    } else if (r.status === 400) {
      $("pk-add-error").textContent = "The passkey could not be added: the browser's answer came too late or did not match. Enter your password to begin again.";
    } else {
      $("pk-add-error").textContent = problemText(r, "Could not add the passkey.");
    }
    $("pk-password").focus();
  });
});

// ---- removing ----
const removeDialog = $("pk-remove-dialog");
const removeForm = $("pk-remove-form");
const removeProof = proofField($("pk-rm-factor-slot"), "pkr", removeForm, {
  hint: "Any of your passkeys will do, this one too: your browser asks for it.",
});
let removing = null;
removeDialog._onclose = () => { $("pk-rm-password").value = ""; removeProof.reset(); };

function openRemove(key, opener) {
  removing = key;
  const last = keys && keys.length === 1;
  const app = secondFactor.has("totp");
  $("pk-remove-title").textContent = "Remove passkey " + key.name + "?";
  $("pk-remove-why").textContent = "You can no longer sign in with it, here or on any device that holds it."
    + (last && app === false ? " It is your last second factor: signing in will ask for your password only." : "")
    + " To confirm it is you, enter your password, and use a passkey or a code.";
  $("pk-rm-password").value = ""; $("pk-rm-password").removeAttribute("aria-invalid");
  $("pk-rm-password-error").textContent = ""; $("pk-remove-error").textContent = "";
  removeProof.open();
  openDialog(removeDialog, opener, $("pk-rm-password"), $("pk-title"));
}

removeForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  $("pk-remove-error").textContent = "";
  const input = $("pk-rm-password");
  if (!input.value) { fieldError("pk-rm-password", "pk-rm-password-error", "Enter your password: nothing was sent."); return; }
  const plan = removeProof.plan();
  if (!plan) return;
  busy(removeForm, async () => {
    const factor = await plan();
    if (!factor) return;
    const key = removing;
    const password = input.value;
    input.value = "";
    const r = await api("DELETE", path.passkey(key.id), { password, ...factor });
    if (r.ok || r.status === 404) {
      removeDialog._opener = null;
      removeDialog.close();
      await loadPasskeys();
      renderPasskeys();
      $("pk-add").focus();
      await changed(false);
      announce((r.ok ? "Passkey " + key.name + " removed." : "Passkey " + key.name + " was removed already.")
        + (secondFactor.get() === false ? " 2-step verification is off: signing in asks for your password only." : ""));
      return;
    }
    if (r.status === 403) {
      if (refusalOf(r) === "password") {
        if (removeProof.code.shown) removeProof.code.input.value = "";
        fieldError("pk-rm-password", "pk-rm-password-error", "The password is not right.");
        return;
      }
      input.value = password;
      factorRefused(removeProof, "To remove a passkey, use one of yours or a code as well.");
      return;
    }
    if (r.status === 409) {
      $("pk-remove-error").textContent = reworded(r.data && r.data.detail, [])
        || "Your agency requires a second factor of administrators, and this is your last.";
      return;
    }
    $("pk-remove-error").textContent = problemText(r, "Could not remove the passkey.");
  });
});
