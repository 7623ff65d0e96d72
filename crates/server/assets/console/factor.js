// A person's second factors as the console knows them, and the fields that
// ask for one: a code from the authenticator app or, on request, one of
// the recovery codes; and their passkey. Used by the second step of
// signing in, Your account (adding or removing a factor asks for one held),
// and the dialogs that show or replace a client secret.
import { BASE } from "./api.js";
import { el, focusWhenEnabled } from "./ui.js";
import * as webauthn from "./webauthn.js";

// Which second factors the signed-in person holds: for each of "totp" (an
// authenticator app, with its recovery codes) and "passkey", true, false
// or null when not known. Learnt from their user record where they may read
// it and from their own list of passkeys, else from the sign-in itself (the
// second step is asked exactly of those with a factor, and says which one
// answered); kept for this tab's session only.
//
// Stored as JSON ({"totp": true, "passkey": null, "some": false}); "off"
// and "on" (none; one at least, which not known) read as well.
const KEY = "cb-second-factor:" + (BASE || "/");
const KINDS = ["totp", "passkey"];
function read() {
  const v = sessionStorage.getItem(KEY);
  if (v === null) return null;
  if (v === "off") return { totp: false, passkey: false, some: false };
  if (v === "on") return { totp: null, passkey: null, some: true };
  try {
    const s = JSON.parse(v);
    return s && typeof s === "object" ? { totp: s.totp ?? null, passkey: s.passkey ?? null, some: Boolean(s.some) } : null;
  } catch (_) { return null; }
}
function write(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); }

export const secondFactor = {
  // Whether the person holds any second factor: true, false or null.
  get() {
    const s = read();
    if (!s) return null;
    if (s.totp || s.passkey || s.some) return true;
    return s.totp === false && s.passkey === false ? false : null;
  },
  // Whether they hold this kind ("totp" or "passkey"): true, false or null.
  has(kind) {
    const s = read();
    if (!s) return null;
    if (s[kind] !== null) return s[kind];
    // One at least, and not the other: this one.
    const other = KINDS.find((k) => k !== kind);
    return s.some && s[other] === false ? true : null;
  },
  // What the console may offer for this kind: held, or perhaps held by
  // someone known to hold a factor of a kind not known.
  offers(kind) {
    const held = secondFactor.has(kind);
    return held === true || (held === null && secondFactor.get() === true);
  },
  // `true`: one at least, which not known; `false`: none; null: forget.
  set(on) {
    if (on === null || on === undefined) { sessionStorage.removeItem(KEY); return; }
    if (on === false) { write({ totp: false, passkey: false, some: false }); return; }
    const s = read() || { totp: null, passkey: null, some: false };
    // Known to hold none, and now one: what was known is out of date.
    if (s.totp === false && s.passkey === false) { s.totp = null; s.passkey = null; }
    s.some = true;
    write(s);
  },
  // What was learnt of some kinds: `{ passkey: true }`.
  learn(facts) {
    const s = read() || { totp: null, passkey: null, some: false };
    for (const k of KINDS) if (k in facts) s[k] = facts[k];
    if (s.totp === false && s.passkey === false) s.some = false;
    write(s);
  },
  // A user record's `second_factors`: the whole truth.
  fromList(list) {
    const kinds = list || [];
    write({ totp: kinds.includes("totp"), passkey: kinds.includes("passkey"), some: false });
  },
};

const TOTP_RE = /^\d{6}$/;
const RECOVERY_RE = /^[a-z2-7]{10}$/;
const LOOKS = {
  totp: {
    label: "Authenticator code",
    hint: "The 6-digit code your authenticator app shows now.",
    other: "Use a recovery code instead",
    empty: "Enter the 6-digit code from your authenticator app.",
    bad: "An authenticator code is 6 digits, like 123 456.",
  },
  recovery: {
    label: "Recovery code",
    hint: "One of the recovery codes you saved when you set up the app, like abcde-fghij. Each works once.",
    other: "Use the authenticator app instead",
    empty: "Enter one of your recovery codes.",
    bad: "A recovery code is 10 letters and digits, like abcde-fghij.",
  },
};

// The field, built into `slot` with ids from `prefix`. `required` marks the
// label with the star the console's forms use.
export function codeField(slot, prefix, { required = true } = {}) {
  const wrap = el("div", undefined, "factor");
  const label = el("label"); label.htmlFor = prefix + "-code"; label.id = prefix + "-code-label";
  const input = el("input");
  input.id = prefix + "-code";
  input.autocomplete = "one-time-code";
  input.spellcheck = false;
  input.setAttribute("autocapitalize", "off");
  input.setAttribute("aria-describedby", prefix + "-code-hint " + prefix + "-code-error");
  const hint = el("p", undefined, "hint"); hint.id = prefix + "-code-hint";
  const error = el("p", undefined, "err"); error.id = prefix + "-code-error";
  const other = el("button", undefined, "linklike"); other.type = "button"; other.id = prefix + "-code-switch";
  wrap.append(label, input, hint, error, other);
  slot.append(wrap);
  let mode = "totp";

  function look() {
    const l = LOOKS[mode];
    label.textContent = l.label + (required ? " *" : "");
    hint.textContent = l.hint;
    other.textContent = l.other;
    input.inputMode = mode === "totp" ? "numeric" : "text";
    input.autocomplete = mode === "totp" ? "one-time-code" : "off";
    input.maxLength = mode === "totp" ? 7 : 11;
  }
  function clearError() { error.textContent = ""; input.removeAttribute("aria-invalid"); }
  input.addEventListener("input", clearError);
  other.addEventListener("click", () => {
    mode = mode === "totp" ? "recovery" : "totp";
    input.value = ""; clearError(); look();
    input.focus();
  });
  look();

  const field = {
    node: wrap,
    input,
    get mode() { return mode; },
    // Back to the app's code, empty, with no error.
    reset() { mode = "totp"; input.value = ""; clearError(); look(); },
    show(yes) { wrap.hidden = !yes; },
    get shown() { return !wrap.hidden; },
    fail(text) {
      error.textContent = text;
      input.setAttribute("aria-invalid", "true");
      input.value = "";
      input.focus();
    },
    // The body's member for what was typed, or null (with the field's
    // error shown and focused) when it cannot be a code: nothing is sent,
    // and no attempt is spent on it.
    take() {
      const typed = input.value.replace(/[\s-]/g, "").toLowerCase();
      const l = LOOKS[mode];
      if (!typed) { field.fail(l.empty); return null; }
      if (!(mode === "totp" ? TOTP_RE : RECOVERY_RE).test(typed)) {
        const keep = input.value; field.fail(l.bad); input.value = keep; input.select(); return null;
      }
      return mode === "totp" ? { totp_code: typed } : { recovery_code: input.value.trim() };
    },
  };
  return field;
}

// What a 403 from a step that asks for the password and a code was about:
// "code-needed" (the person has a second factor and sent no code; the
// password was right), "code-refused" (the password was right, the code
// not), or "password" (the password was not right, or anything else).
export function refusalOf(r) {
  const detail = (r && r.data && r.data.detail) || "";
  if (r.status !== 403) return "other";
  if (/totp_code|second factor/i.test(detail)) return "code-needed";
  if (/code was not accepted|recovery code|authenticator/i.test(detail)) return "code-refused";
  return "password";
}

// A person with a key beside them: the passkey's mark on its buttons.
export const PASSKEY_ICON = '<svg class="passkey-icon" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true" focusable="false"><circle cx="9" cy="7" r="4"/><path d="M2 21v-1a6 6 0 0 1 10-4.5"/><circle cx="18" cy="13" r="2.5"/><path d="M18 15.5V21m0-2h2"/></svg>';

// A passkey's way in: the button that asks the browser for it, a line on
// what happens, and its error. `onUse` runs on the button.
export function passkeyRow(slot, prefix, { text, hint, onUse }) {
  const wrap = el("div", undefined, "passkey-row");
  wrap.id = prefix + "-passkey-row";
  const or = el("p", "or", "or-line");
  or.setAttribute("aria-hidden", "true");
  const button = el("button", undefined, "passkey-button");
  button.type = "button";
  button.id = prefix + "-passkey";
  // Disabled with the form's submit buttons while a request is out (ui.js busy).
  button.dataset.submits = "";
  button.innerHTML = PASSKEY_ICON;
  button.append(text);
  const line = el("p", hint, "hint"); line.id = prefix + "-passkey-hint";
  const error = el("p", undefined, "err"); error.id = prefix + "-passkey-error";
  error.setAttribute("role", "alert");
  button.setAttribute("aria-describedby", line.id + " " + error.id);
  wrap.append(or, button, line, error);
  slot.append(wrap);
  button.addEventListener("click", () => { error.textContent = ""; onUse(); });
  return {
    node: wrap,
    button,
    show(yes) { wrap.hidden = !yes; },
    get shown() { return !wrap.hidden; },
    // The "or" above it, when a code field shows before it.
    between(yes) { or.hidden = !yes; },
    clear() { error.textContent = ""; },
    // The error, and focus on the button unless `focus` is false.
    fail(text, { focus = true } = {}) { error.textContent = text; if (focus) focusWhenEnabled(button); },
  };
}

// The second factor of a form that also asks for the password: the code
// field, and "Use your passkey". Which of them shows follows what the
// console knows the person holds (`open()`); when the server asks for a
// factor the console did not know of, both show (`showAll()`).
//
// `plan()`, called on submit, says what to send: null when nothing can be
// (the field at fault says why, and has focus), else an async function that
// resolves to the body's member (`{ totp_code }`, `{ recovery_code }`,
// `{ passkey }` after the browser's ceremony, or `{}` for someone with no
// factor), or to null when the ceremony gave no answer (its row says why).
// The passkey is used when its button was pressed, or when no code was
// typed.
export function proofField(slot, prefix, form, { hint = "Your browser asks for it: this device's fingerprint, face or screen lock, or your phone." } = {}) {
  const code = codeField(slot, prefix);
  let viaPasskey = false;
  const passkey = passkeyRow(slot, prefix, {
    text: "Use your passkey",
    hint,
    onUse: () => { viaPasskey = true; form.requestSubmit(); },
  });
  let used = null;
  function layout(showCode, showPasskey) {
    code.show(showCode);
    passkey.show(showPasskey);
    passkey.between(showCode && showPasskey);
  }
  const field = {
    code,
    passkey,
    // Which factor the last plan sent: "totp", "recovery", "passkey" or null.
    get used() { return used; },
    get shown() { return code.shown || passkey.shown; },
    open() {
      field.reset();
      layout(secondFactor.offers("totp"), secondFactor.offers("passkey"));
    },
    reset() { code.reset(); passkey.clear(); viaPasskey = false; used = null; },
    // The server asked for a factor: offer every kind not known to be missing.
    showAll() {
      layout(secondFactor.has("totp") !== false, secondFactor.has("passkey") !== false);
    },
    plan() {
      const chosen = viaPasskey;
      viaPasskey = false;
      passkey.clear();
      const typed = code.shown && code.input.value.trim() !== "";
      if (passkey.shown && (chosen || !typed)) {
        return async () => {
          const answer = await webauthn.stepUp();
          if (answer.passkey) { used = "passkey"; return { passkey: answer.passkey }; }
          if (answer.none) {
            secondFactor.learn({ passkey: false });
            layout(true, false);
            code.fail(answer.error);
            return null;
          }
          passkey.fail(answer.error);
          return null;
        };
      }
      if (code.shown) {
        const member = code.take();
        if (!member) return null;
        used = code.mode;
        return async () => member;
      }
      used = null;
      return async () => ({});
    },
    // A refusal of the factor sent: said where it was given.
    fail(text) {
      if (used === "passkey") passkey.fail(text); else code.fail(text);
    },
  };
  return field;
}

// A refused step of one's own account that asked for a factor held: the
// server says the same whether none was given or the one given was wrong.
export function factorRefused(proof, needed) {
  if (proof.used === "passkey") { proof.passkey.fail("Your passkey's answer was not accepted: use it again, or a code."); return; }
  if (proof.used) { proof.code.fail("That code was not accepted: enter the code your app shows now (each code works once), or an unused recovery code."); return; }
  secondFactor.set(true);
  proof.showAll();
  if (proof.code.shown) proof.code.fail(needed); else proof.passkey.fail(needed);
}
