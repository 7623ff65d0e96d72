// The key icon (reveal, after the admin's password), "Show" of one listed
// secret, and rotation. An empty password is never sent: each wrong one
// counts toward a lockout. Someone with a second factor gives it too: a code
// from their authenticator app (or a recovery code), or their passkey.
import { api, path, problemText } from "./api.js";
import { $, announce, openDialog, busy, copyButton, formatTime } from "./ui.js";
import { proofField as factorProof, secondFactor, refusalOf } from "./factor.js";
import { LOCKOUT_FAILURES, LOCKOUT_MINUTES, MAX_GRACE_PERIOD_SECS } from "./limits.js";

const LOCKOUT_WARNING = " Wrong passwords count toward a lockout: after " + LOCKOUT_FAILURES
  + ", viewing and rotating secrets is locked for " + LOCKOUT_MINUTES + " minutes.";
const GRACE_SAY = "Grace period must be a whole number of hours or days, from 0 to "
  + MAX_GRACE_PERIOD_SECS / 86400 + " days (" + MAX_GRACE_PERIOD_SECS / 3600 + " hours).";
// A day: long enough for a partner to deploy the new secret, short enough
// that an old one does not linger. 0 (for a leak) is a choice, never the default.
const DEFAULT_GRACE_HOURS = "24";
$("r-grace-hint").textContent = "At most " + MAX_GRACE_PERIOD_SECS / 86400
  + " days. 0 ends it now and revokes every live token: the answer to a leak.";

// Who hears of it: the application's contact address is emailed on a
// reveal, a rotation, a disable and a delete.
const emailed = (app, what) => app.email + " is emailed that " + what + ".";
let current = null;

export function passwordError(input, error, r) {
  input.value = "";
  input.setAttribute("aria-invalid", "true");
  if (r.status === 429) error.textContent = problemText(r) + " Try again later, or ask another administrator.";
  else if (r.status === 403 && /password/i.test((r.data && r.data.detail) || "")) error.textContent = problemText(r) + "." + LOCKOUT_WARNING;
  else error.textContent = problemText(r, "Could not verify.");
  input.focus();
}

const CODE_REFUSED = "That code was not accepted: enter the code your app shows now (each code works once), or an unused recovery code."
  + " Wrong codes count toward the same lockout as wrong passwords.";
const PASSKEY_REFUSED = "Your passkey's answer was not accepted: use your passkey again, or a code."
  + " Refused answers count toward the same lockout as wrong passwords.";
// What the server's ask for a factor says, by what the dialog now offers.
function factorNeeded(field) {
  const start = "Your account has 2-step verification: ";
  if (field.code.shown && field.passkey.shown) return start + "enter the code from your authenticator app as well, or use your passkey.";
  return start + (field.code.shown ? "enter the code from your authenticator app as well." : "use your passkey as well.");
}

// The second factor of a dialog that asks for the password: the code field
// for those known to have an authenticator app, "Use your passkey" for
// those known to have a passkey, and both for anyone the server asks one
// of. Its `plan()` runs on submit (see factor.js).
export function proofField(slot, prefix, form) {
  return factorProof(slot, prefix, form);
}

// A refused password-and-factor: the field at fault says why. The password
// was right when the factor was missing or refused (the server judges it
// only after a right password), so it is put back for the next try.
export function proofFailed(r, input, error, field, password) {
  const why = refusalOf(r);
  if (why === "code-needed" || why === "code-refused") {
    input.value = password;
    if (why === "code-needed" || !field.shown) {
      secondFactor.set(true);
      field.showAll();
      if (field.code.shown) field.code.fail(factorNeeded(field)); else field.passkey.fail(factorNeeded(field));
      return;
    }
    field.fail(field.used === "passkey" ? PASSKEY_REFUSED : CODE_REFUSED);
    return;
  }
  if (field.code.shown) field.code.input.value = "";
  passwordError(input, error, r);
}

export function emptyPassword(input, error) {
  if (input.value) return false;
  input.setAttribute("aria-invalid", "true");
  error.textContent = "Enter your password: nothing was sent.";
  input.focus();
  return true;
}

const revealCode = proofField($("v-factor-slot"), "v", $("verify-form"));
const rotateCode = proofField($("r-factor-slot"), "r", $("rotate-form"));

for (const [input, error] of [["v-password", "v-password-error"], ["r-password", "r-password-error"]]) {
  $(input).addEventListener("input", () => { $(input).removeAttribute("aria-invalid"); $(error).textContent = ""; });
}

// ---- reveal ----
// `one`, when given, is a listed secret ({ id, name }) to show instead of
// the newest active one, and `fallback` where focus goes if the opener is gone.
let revealing = null;
export function openReveal(app, opener, one, fallback) {
  current = app;
  revealing = one || null;
  $("verify-title").textContent = one ? "Client secret " + one.name + " of " + app.name : "Client secret of " + app.name;
  $("v-password").value = ""; $("v-password").removeAttribute("aria-invalid");
  $("v-password-error").textContent = "";
  $("secret").textContent = "";
  $("secret-which").textContent = "";
  $("verify-emailed").textContent = emailed(app, "its client secret was shown");
  $("verify-ask").hidden = false; $("verify-result").hidden = true; $("verify-submit").hidden = false;
  revealCode.open();
  openDialog($("verify-dialog"), opener, $("v-password"), fallback || $("apps-title"));
}
$("secret-copy-slot").append(copyButton(() => $("secret").textContent, "client secret"));
$("verify-dialog")._onclose = () => { $("secret").textContent = ""; $("v-password").value = ""; revealCode.reset(); };

$("verify-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!$("verify-result").hidden) return; // already shown: Enter does nothing more
  const input = $("v-password"); const error = $("v-password-error");
  if (emptyPassword(input, error)) return;
  const plan = revealCode.plan();
  if (!plan) return;
  busy($("verify-form"), async () => {
    const code = await plan();
    if (!code) return;
    const password = input.value;
    input.value = "";
    const where = revealing
      ? path.app(current.id) + "/client-secrets/" + encodeURIComponent(revealing.id) + "/reveal"
      : path.app(current.id) + "/client-secret/reveal";
    const r = await api("POST", where, { password, ...code });
    if (!r.ok) { proofFailed(r, input, error, revealCode, password); return; }
    revealCode.reset();
    $("secret").textContent = r.data.client_secret;
    const which = revealing ? revealing.name : (r.data.secret_label || r.data.secret_id);
    $("secret-which").textContent = which
      ? "This is secret " + which + (revealing ? "." : ", the newest that works. Others, if any, are listed under Client secrets.")
      : "";
    $("verify-ask").hidden = true; $("verify-result").hidden = false; $("verify-submit").hidden = true;
    $("secret-copy-slot").querySelector("button").focus();
    announce(revealing ? "Client secret " + revealing.name + " of " + current.name + " shown." : "Client secret of " + current.name + " shown.");
  });
});

// ---- rotate ----
// `rotated()`, when given, runs after a rotation (the list of secrets changed).
let rotating = null;
let afterRotate = null;
export function openRotate(app, opener, rotated) {
  rotating = app;
  afterRotate = rotated || null;
  $("rotate-title").textContent = "Rotate client secret of " + app.name;
  for (const id of ["r-password", "r-grace"]) $(id).removeAttribute("aria-invalid");
  $("r-password").value = ""; $("r-grace").value = DEFAULT_GRACE_HOURS; $("r-grace-unit").value = "3600";
  $("rotate-emailed").textContent = emailed(app, "its client secret was rotated");
  for (const id of ["r-password-error", "r-grace-error", "rotate-error"]) $(id).textContent = "";
  $("rotated").textContent = "";
  $("rotate-ask").hidden = false; $("rotate-result").hidden = true; $("rotate-submit").hidden = false;
  rotateCode.open();
  openDialog($("rotate-dialog"), opener, $("r-password"), $("apps-title"));
}
$("rotated-copy-slot").append(copyButton(() => $("rotated").textContent, "new client secret"));
$("rotate-dialog")._onclose = () => { $("rotated").textContent = ""; $("r-password").value = ""; rotateCode.reset(); };
for (const id of ["r-grace", "r-grace-unit"]) {
  $(id).addEventListener("input", () => { $("r-grace").removeAttribute("aria-invalid"); $("r-grace-error").textContent = ""; });
}

$("rotate-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!$("rotate-result").hidden) return;
  const input = $("r-password"); const error = $("r-password-error");
  const graceText = $("r-grace").value.trim();
  const count = graceText === "" ? NaN : Number(graceText);
  const grace = count * Number($("r-grace-unit").value);
  if (!Number.isInteger(count) || count < 0 || grace > MAX_GRACE_PERIOD_SECS) {
    $("r-grace").setAttribute("aria-invalid", "true");
    $("r-grace-error").textContent = GRACE_SAY;
    $("r-grace").focus();
    return;
  }
  if (emptyPassword(input, error)) return;
  const plan = rotateCode.plan();
  if (!plan) return;
  busy($("rotate-form"), async () => {
    const code = await plan();
    if (!code) return;
    const password = input.value;
    input.value = "";
    const r = await api("POST", path.app(rotating.id) + "/client-secret/rotate", { password, grace_period_seconds: grace, ...code });
    if (!r.ok) {
      if (r.status === 422 && r.data && r.data.errors) {
        // Refused before the password was checked: it need not be typed again.
        input.value = password;
        $("r-grace").setAttribute("aria-invalid", "true");
        $("r-grace-error").textContent = GRACE_SAY;
        $("r-grace").focus();
        return;
      }
      proofFailed(r, input, error, rotateCode, password); return;
    }
    rotateCode.reset();
    $("rotated").textContent = r.data.client_secret;
    $("rotated-grace").textContent = r.data.previous_secret_valid_until
      ? "The previous secret keeps working until " + formatTime(r.data.previous_secret_valid_until) + "."
      : "The previous secret no longer works, and the application's live tokens were revoked.";
    $("rotate-ask").hidden = true; $("rotate-result").hidden = false; $("rotate-submit").hidden = true;
    $("rotated-copy-slot").querySelector("button").focus();
    if (afterRotate) afterRotate();
    announce("Client secret of " + rotating.name + " rotated. The new secret is shown once here; it can be revealed again with the key icon.");
  });
});
