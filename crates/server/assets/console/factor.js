// A person's second factor as the console knows it, and the one field that
// asks for it: a code from the authenticator app, or, on request, one of
// the recovery codes. Used by the second step of signing in, turning the
// app off, and the dialogs that show or replace a client secret.
import { BASE } from "./api.js";
import { el } from "./ui.js";

// Whether the signed-in person has enrolled an authenticator app: true,
// false, or null when not known. Learnt from their user record where they
// may read it, else from the sign-in itself (the second step is asked
// exactly of those enrolled); kept for this tab's session only.
const KEY = "cb-second-factor:" + (BASE || "/");
export const secondFactor = {
  get() {
    const v = sessionStorage.getItem(KEY);
    return v === null ? null : v === "on";
  },
  set(on) {
    if (on === null || on === undefined) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, on ? "on" : "off");
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
