// You → Your account: who is signed in, and their 2-step verification:
// setting up an authenticator app in three steps (password; scan and
// confirm a code; save the recovery codes, shown once), and turning it off;
// their passkeys (passkeys.js). Reached from the header by anyone signed
// in, and where the console takes an administrator whose agency requires a
// second factor they lack.
import { api, path, problemText, TENANT } from "./api.js";
import { $, el, announce, busy, copyButton, openDialog, formatTime } from "./ui.js";
import { reworded } from "./errors.js";
import { can, session } from "./catalog.js";
import { proofField, secondFactor, refusalOf, factorRefused } from "./factor.js";
import { loadPasskeys, renderPasskeys, passkeysHeld, whenPasskeysChange } from "./passkeys.js";

let record = null; // the person's user record, where they may read it
let stage = null; // the enrolment step shown: "password", "scan", "codes" or null
let codes = [];
let afterEnrol = () => {};
// `fn` runs once the app is on and the codes are saved.
export function whenEnrolled(fn) { afterEnrol = fn; }

const STEPS = { password: "enrol-password", scan: "enrol-scan", codes: "enrol-codes" };

// Learns which second factors the person holds: from their record, where
// they may read it; else from their own list of passkeys (anyone may read
// theirs), beside what the sign-in itself showed.
export async function learnSecondFactor() {
  record = null;
  if (!session.me || session.me.kind !== "user") return;
  if (!session.mustEnrol && can("admin:view")) {
    const r = await api("GET", path.user(session.me.id));
    if (r.ok) {
      record = r.data;
      secondFactor.fromList(r.data.second_factors);
      return;
    }
  }
  await loadPasskeys();
}

function fact(dl, term, value) { dl.append(el("dt", term), el("dd", value)); }

// What signing in asks, by the factors held.
function stateText(on, app, key) {
  if (on === false) return "Signing in asks for your password only. With an authenticator app or a passkey, a stolen password is not enough to sign in as you.";
  if (on === null) return "This console could not learn whether your account has a second factor. Set one up, or remove one, below.";
  if (app && key) return "Signing in asks for your passkey or a code from your authenticator app after your password. A recovery code works in place of either, once.";
  if (key) return "Signing in asks for your passkey after your password.";
  if (app) return "Signing in asks for a code from your authenticator app after your password. A recovery code works in its place, once.";
  return "Signing in asks for a second factor after your password.";
}

function render() {
  const on = session.mustEnrol ? false : secondFactor.get();
  const app = session.mustEnrol ? false : secondFactor.has("totp");
  const key = session.mustEnrol ? passkeysHeld() > 0 : secondFactor.has("passkey");
  const me = session.me || {};
  const dl = $("account-facts");
  dl.replaceChildren();
  fact(dl, "Name", record ? record.name : me.name || "—");
  if (record) {
    fact(dl, "Email", record.email);
    fact(dl, "Signed in last", formatTime(record.last_sign_in_at));
  }
  if (TENANT) fact(dl, "Tenant", TENANT);
  $("account-limited").hidden = Boolean(record) || session.mustEnrol;
  $("account-must").hidden = !session.mustEnrol;

  const state = $("tfa-state");
  state.replaceChildren();
  const badge = el("span", undefined, "badge " + (on ? "badge-active" : on === false ? "badge-expired" : "badge-ending"));
  const mark = el("span", on ? "✓ " : on === false ? "✕ " : "? ");
  mark.setAttribute("aria-hidden", "true");
  badge.append(mark, on ? "On" : on === false ? "Off" : "Not known");
  state.append(badge, " ", stateText(on, app, key));
  $("app-state").textContent = app === true ? "On: your app shows the codes for cb Admin, and your recovery codes work in their place."
    : app === false ? "Not set up. An app such as Google Authenticator, Microsoft Authenticator, 1Password or Bitwarden shows a new code every 30 seconds."
      : "";
  $("app-state").hidden = !$("app-state").textContent;
  const enrolling = stage !== null;
  $("tfa-actions").hidden = enrolling;
  $("tfa-start").hidden = app === true;
  $("tfa-off").hidden = app === false;
  // With a passkey left, removing the app leaves 2-step verification on.
  $("tfa-off").textContent = key ? "Remove authenticator app" : "Turn off 2-step verification";
  for (const [name, id] of Object.entries(STEPS)) $(id).hidden = stage !== name;
  renderPasskeys();
}

export async function showAccount() {
  if (stage === null) await learnSecondFactor();
  // The list is shown here (learnSecondFactor read it where there is no record).
  if (record) await loadPasskeys();
  render();
}
// A passkey added or removed: what it changes here, and a must-enrol's end.
whenPasskeysChange(async (added) => {
  if (added && session.mustEnrol) {
    session.mustEnrol = false;
    render();
    await afterEnrol();
    return true;
  }
  if (record) await learnSecondFactor();
  render();
  return false;
});

// ---- setting up ----
function step(name, focus) {
  stage = name;
  render();
  if (focus) focus.focus();
}

const enrolProof = proofField($("en-factor-slot"), "enf", $("enrol-password"), {
  hint: "Adding an app asks for the factor you hold already: your browser asks for your passkey.",
});

function clearEnrolment() {
  enrolProof.reset();
  $("en-password").value = ""; $("en-code").value = "";
  for (const id of ["en-password", "en-code", "en-saved"]) $(id).removeAttribute("aria-invalid");
  for (const id of ["en-password-error", "en1-error", "en-code-error", "enrol-scan-error", "en-saved-error"]) $(id).textContent = "";
  $("en-qr").removeAttribute("src");
  $("en-secret").textContent = ""; $("en-secret").dataset.secret = "";
  $("en-codes").replaceChildren(); codes = [];
  $("en-saved").checked = false;
}

$("tfa-start").addEventListener("click", () => { clearEnrolment(); enrolProof.open(); step("password", $("en-password")); });
for (const b of document.querySelectorAll(".en-cancel")) {
  b.addEventListener("click", () => {
    clearEnrolment(); stage = null; render();
    announce(secondFactor.get() ? "Setup cancelled: no authenticator app was added." : "Setup cancelled: 2-step verification is still off.");
    $("tfa-start").focus();
  });
}
for (const [input, error] of [["en-password", "en-password-error"], ["en-code", "en-code-error"]]) {
  $(input).addEventListener("input", () => { $(input).removeAttribute("aria-invalid"); $(error).textContent = ""; });
}
$("en-saved").addEventListener("change", () => { $("en-saved").removeAttribute("aria-invalid"); $("en-saved-error").textContent = ""; });

function fieldError(input, error, text) {
  $(input).setAttribute("aria-invalid", "true");
  $(error).textContent = text;
  $(input).focus();
}

// The server's SVG as an image: never markup of the page (the policy lets
// images come from data: URLs, and an SVG in an <img> runs no script).
function svgImage(svg) {
  const bytes = new TextEncoder().encode(svg);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return "data:image/svg+xml;base64," + btoa(binary);
}

$("enrol-password").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("en-password");
  $("en1-error").textContent = "";
  if (!input.value) { fieldError("en-password", "en-password-error", "Enter your password: nothing was sent."); return; }
  const plan = enrolProof.plan();
  if (!plan) return;
  busy($("enrol-password"), async () => {
    const factor = await plan();
    if (!factor) return;
    const password = input.value;
    input.value = "";
    const r = await api("POST", path.totp, { password, ...factor });
    if (r.ok) {
      $("en-qr").src = svgImage(r.data.qr_svg);
      $("en-secret").dataset.secret = r.data.secret;
      $("en-secret").textContent = r.data.secret.replace(/\s+/g, "").match(/.{1,4}/g).join(" ");
      step("scan", $("en2-title"));
      return;
    }
    if (r.status === 403) {
      if (refusalOf(r) === "password") { fieldError("en-password", "en-password-error", "The password is not right."); return; }
      // The password was right: a factor held was missing, or refused.
      input.value = password;
      factorRefused(enrolProof, "You hold a second factor already: to add an app, give it too.");
      return;
    }
    if (r.status === 409) {
      // Set up already (in another tab, say): nothing to begin.
      secondFactor.learn({ totp: true }); clearEnrolment(); stage = null; render();
      announce("2-step verification is on already for your account.");
      $("tfa-title").focus();
      return;
    }
    $("en1-error").textContent = problemText(r, "Could not begin the setup.");
    input.focus();
  });
});
$("en-secret-copy-slot").append(copyButton(() => $("en-secret").dataset.secret || "", "key"));

$("enrol-scan").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const typed = $("en-code").value.replace(/\s+/g, "");
  $("enrol-scan-error").textContent = "";
  if (!/^\d{6}$/.test(typed)) {
    fieldError("en-code", "en-code-error", typed ? "The code is 6 digits, like 123 456: type the one your app shows now." : "Enter the 6-digit code your app shows for cb Admin.");
    return;
  }
  busy($("enrol-scan"), async () => {
    const r = await api("POST", path.totp + "/confirm", { code: typed });
    if (r.ok) {
      codes = r.data.recovery_codes || [];
      $("en-codes").replaceChildren(...codes.map((c) => { const li = el("li"); li.append(el("code", c)); return li; }));
      $("en-code").value = "";
      secondFactor.learn({ totp: true });
      step("codes", $("en3-title"));
      announce("2-step verification is on. Save your recovery codes now: they are shown once.");
      return;
    }
    if (r.status === 422) {
      $("en-code").value = "";
      fieldError("en-code", "en-code-error", "That is not the code the app shows now. Check that the device's clock is set automatically, wait for a new code, and type it.");
      return;
    }
    if (r.status === 409) {
      // Begun over 15 minutes ago (or in another tab): start again.
      clearEnrolment();
      step("password", $("en-password"));
      $("en1-error").textContent = "The setup expired before it was finished (it lasts 15 minutes). Begin again, and first remove the cb Admin entry this attempt added to your app: its codes will not work.";
      return;
    }
    $("enrol-scan-error").textContent = problemText(r, "Could not turn on 2-step verification.");
    $("en-code").focus();
  });
});

$("en-codes-copy-slot").append(copyButton(() => codes.join("\n"), "recovery codes"));
$("en-download").addEventListener("click", () => {
  const who = record ? record.email : (session.me && session.me.name) || "";
  const text = "cb Admin recovery codes" + (who ? " for " + who : "") + (TENANT ? " (tenant " + TENANT + ")" : "") + "\n"
    + "Each code signs you in once in place of a code from your authenticator app.\n\n" + codes.join("\n") + "\n";
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const a = el("a"); a.href = url; a.download = "cb-admin-recovery-codes" + (TENANT ? "-" + TENANT : "") + ".txt"; a.hidden = true;
  document.body.append(a); a.click(); a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60000);
  announce("Recovery codes downloaded as a text file.");
});

$("enrol-codes").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!$("en-saved").checked) {
    fieldError("en-saved", "en-saved-error", "Save the codes first (Copy or Download as text), then tick “I have saved these codes”.");
    return;
  }
  const forced = session.mustEnrol;
  clearEnrolment();
  stage = null;
  session.mustEnrol = false;
  render();
  announce("2-step verification is on: signing in now asks for a code from your authenticator app.");
  if (forced) afterEnrol(); else $("tfa-title").focus();
});

// ---- turning off ----
const offDialog = $("tfa-off-dialog");
const offCode = proofField($("off-factor-slot"), "off", $("tfa-off-form"));
offDialog._onclose = () => { $("off-password").value = ""; offCode.reset(); };
$("off-password").addEventListener("input", () => { $("off-password").removeAttribute("aria-invalid"); $("off-password-error").textContent = ""; });

$("tfa-off").addEventListener("click", () => {
  $("off-password").value = ""; $("off-password").removeAttribute("aria-invalid");
  $("off-password-error").textContent = ""; $("tfa-off-error").textContent = "";
  // With a passkey left, 2-step verification stays on: only the app goes.
  const keys = secondFactor.has("passkey") === true;
  $("tfa-off-title").textContent = keys ? "Remove the authenticator app?" : "Turn off 2-step verification?";
  $("tfa-off-why").textContent = keys
    ? "Signing in will ask for your passkey after your password, and your recovery codes stop working. To confirm it is you, enter your password, and use your passkey or a code."
    : "Signing in will ask for your password alone, and your recovery codes stop working. To confirm it is you, enter your password and a code.";
  $("tfa-off-submit").textContent = keys ? "Remove app" : "Turn off";
  offCode.open();
  // Removing the app asks for a factor held: the app's code, at least.
  if (!offCode.code.shown) offCode.showAll();
  openDialog(offDialog, $("tfa-off"), $("off-password"), $("tfa-title"));
});

$("tfa-off-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  $("tfa-off-error").textContent = "";
  const input = $("off-password");
  if (!input.value) { fieldError("off-password", "off-password-error", "Enter your password: nothing was sent."); return; }
  const plan = offCode.plan();
  if (!plan) return;
  busy($("tfa-off-form"), async () => {
    const code = await plan();
    if (!code) return;
    const password = input.value;
    input.value = "";
    const r = await api("DELETE", path.totp, { password, ...code });
    if (r.ok) {
      secondFactor.learn({ totp: false });
      offDialog._opener = null; offDialog.close();
      await learnSecondFactor();
      render();
      announce(secondFactor.get()
        ? "Authenticator app removed: signing in asks for your passkey after your password."
        : "2-step verification is off: signing in asks for your password only.");
      $("tfa-start").focus();
      return;
    }
    if (r.status === 403) {
      if (refusalOf(r) === "password") { fieldError("off-password", "off-password-error", "The password is not right."); offCode.code.input.value = ""; return; }
      // The password was right; the factor was not.
      input.value = password;
      factorRefused(offCode, "Enter the code your app shows now, or an unused recovery code.");
      return;
    }
    if (r.status === 409) {
      $("tfa-off-error").textContent = reworded(r.data && r.data.detail, []) || "Your agency requires 2-step verification: it cannot be turned off.";
      return;
    }
    $("tfa-off-error").textContent = problemText(r, "Could not turn off 2-step verification.");
  });
});
