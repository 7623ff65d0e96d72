// Global → Settings: the tenant's own settings. For now one: whether
// everyone holding an Admin permission must sign in with a second factor
// (an authenticator app or a passkey).
import { api, path, problemText } from "./api.js";
import { $, el, announce, busy, listState } from "./ui.js";
import { reworded } from "./errors.js";
import { can } from "./catalog.js";

const form = $("settings-form");
let saved = null; // the settings as the server last said

// The Settings screen is for those who may see admin records.
export function settingsShown() { return can("admin:view"); }

function fill(settings) {
  saved = settings;
  $("st-mfa").checked = Boolean(settings.require_mfa_for_admins);
  const editable = can("admin:edit");
  $("st-mfa").disabled = !editable;
  $("settings-readonly").hidden = editable;
  $("settings-save").hidden = !editable;
}

export async function showSettings() {
  $("settings-form-error").replaceChildren();
  form.hidden = true;
  $("settings-denied").hidden = true;
  listState("settings", form, { loading: true });
  const r = await api("GET", path.settings);
  listState("settings", form);
  if (r.status === 403) {
    $("settings-denied").hidden = false;
    $("settings-denied").textContent = "Your account cannot see the settings. Ask an administrator for the Administrator role.";
    return;
  }
  if (!r.ok) { listState("settings", form, { error: "Could not load the settings: " + problemText(r) }); return; }
  form.hidden = false;
  fill(r.data);
}
$("settings-retry").addEventListener("click", async () => { await showSettings(); if ($("settings-error").hidden) $("settings-title").focus(); });
$("st-mfa").addEventListener("change", () => $("settings-form-error").replaceChildren());

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  busy(form, async () => {
    const error = $("settings-form-error");
    error.replaceChildren();
    const wanted = $("st-mfa").checked;
    if (saved && wanted === saved.require_mfa_for_admins) { announce("Nothing to save: the settings are as shown."); return; }
    const r = await api("PATCH", path.settings, { require_mfa_for_admins: wanted });
    if (r.ok) {
      fill(r.data);
      announce(r.data.require_mfa_for_admins
        ? "Saved: administrators must now sign in with 2-step verification. Those without it are taken to set it up."
        : "Saved: 2-step verification is no longer required of administrators.");
      return;
    }
    if (r.status === 409) {
      // The caller has no second factor of their own: the server's
      // sentence, in the console's words, with the way to set one up.
      const text = reworded(r.data && r.data.detail, [[/\s*\(POST \/admin\/v1\/users\/me\/(totp|passkeys\/options)\)/g, " under Your account"]])
        || "Set up 2-step verification for yourself first.";
      const link = el("a", "Set up an authenticator app or a passkey"); link.href = "#/account";
      error.append(text + " ", link);
      $("st-mfa").focus();
      return;
    }
    error.textContent = problemText(r, "Could not save the settings.");
  });
});
