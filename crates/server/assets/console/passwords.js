// The pages before a session: "Forgot password?", which asks for a link by
// email, and the page that link (or an invitation's) leads to,
// #set-password?token=…, where a new password is chosen.
import { api } from "./api.js";
import { $, busy } from "./ui.js";
import { clearErrors, clearOnChange, showErrors, requireFilled } from "./errors.js";

// ---- Forgot password? ----
export function prepareForgot(email) {
  $("forgot").reset();
  $("fp-email").value = email || "";
  $("fp-email").removeAttribute("aria-invalid");
  $("fp-email-error").textContent = ""; $("forgot-error").textContent = "";
  $("forgot-ask").hidden = false; $("forgot-sent").hidden = true; $("forgot-submit").hidden = false;
  $("forgot-sent-text").textContent = "";
}
$("fp-email").addEventListener("input", () => { $("fp-email").removeAttribute("aria-invalid"); $("fp-email-error").textContent = ""; });

$("forgot").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!$("forgot-sent").hidden) return;
  const email = $("fp-email").value.trim();
  $("forgot-error").textContent = "";
  const refuse = (text) => { $("fp-email").setAttribute("aria-invalid", "true"); $("fp-email-error").textContent = text; $("fp-email").focus(); };
  if (!email) { refuse("Email is required."); return; }
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) { refuse("Enter the address you sign in with, like jo.lee@agency.example.org."); return; }
  busy($("forgot"), async () => {
    const r = await api("POST", "/admin/v1/password-resets", { email });
    if (!r.ok) {
      $("forgot-error").textContent = r.status === 0 ? r.data.detail : "Could not ask for a link just now (" + r.status + "). Try again in a moment.";
      return;
    }
    // The same answer whether or not the address has an account: the
    // server tells nobody which addresses do, and neither does this page.
    $("forgot-ask").hidden = true; $("forgot-sent").hidden = false; $("forgot-submit").hidden = true;
    $("forgot-sent-text").textContent = "If that address has an account, we sent a link. It works for one hour.";
    $("forgot-back").focus();
  });
});

// ---- #set-password?token=… ----
// The token from the address, or null when this is not the page.
export function linkToken() {
  const m = /^#\/?set-password(?:\?(.*))?$/.exec(location.hash);
  if (!m) return null;
  return new URLSearchParams(m[1] || "").get("token") || "";
}
// The link's token leaves the address bar (and the history) once it is spent.
function forgetToken() { history.replaceState(null, "", location.pathname + location.search); }

const fields = {
  password: { label: "New password", input: $("sp-password"), error: $("sp-password-error") },
  confirm: {
    label: "Type it again", input: $("sp-confirm"), error: $("sp-confirm-error"),
    say: (code) => (code === "required" ? "Type the new password again, to be sure of it." : null),
  },
};
clearOnChange(fields);
let passwordSet = () => {};
// `fn(message)` runs when the password is set: the sign-in page, saying so.
export function whenPasswordSet(fn) { passwordSet = fn; }

function deadLink(text) {
  forgetToken();
  $("setpw-ask").hidden = true; $("setpw-submit").hidden = true;
  $("setpw-dead").hidden = false;
  $("setpw-dead-text").textContent = text;
  $("setpw-dead").querySelector("a").focus();
}

export function prepareSetPassword() {
  $("setpw").reset();
  clearErrors(fields, $("setpw-summary"), $("setpw-error"));
  $("setpw-ask").hidden = false; $("setpw-submit").hidden = false; $("setpw-dead").hidden = true;
  if (!linkToken()) deadLink("This address has no link token in it. Open the link from your email again, whole, or ask for a new one.");
}

$("setpw").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if ($("setpw-ask").hidden) return;
  busy($("setpw"), async () => {
    clearErrors(fields, $("setpw-summary"), $("setpw-error"));
    if (!requireFilled(fields, ["password", "confirm"], $("setpw-summary"))) return;
    if ($("sp-password").value !== $("sp-confirm").value) {
      $("sp-confirm").value = "";
      showErrors(fields, [{ field: "confirm", code: "mismatch", message: "The two passwords differ: type the same password in both fields." }], $("setpw-summary"), $("setpw-error"));
      return;
    }
    const token = linkToken();
    const r = await api("POST", "/admin/v1/set-password", { token, password: $("sp-password").value });
    if (r.ok) {
      $("sp-password").value = ""; $("sp-confirm").value = "";
      forgetToken();
      passwordSet("Password set. Sign in with your email address and the new password.");
      return;
    }
    if (r.status === 400) {
      $("sp-password").value = ""; $("sp-confirm").value = "";
      deadLink("This link cannot be used: it is unknown, was used already, or has expired (an invitation works for 48 hours, a reset link for one hour). Ask for a new link, or ask an administrator to invite you again.");
      return;
    }
    if (r.status === 422 && r.data && Array.isArray(r.data.errors)) {
      $("sp-confirm").value = "";
      showErrors(fields, r.data.errors, $("setpw-summary"), $("setpw-error"));
      return;
    }
    $("setpw-error").textContent = r.status === 0 ? r.data.detail : "Could not set the password (" + r.status + "). Try again in a moment.";
  });
});
