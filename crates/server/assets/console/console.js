// cb Admin: sign-in (with its second step), the pages before a session,
// the header's navigation and which screen shows.
import { api, setToken, hasToken, whenSignedOut, whenEnrolmentRequired, problemText, TENANT } from "./api.js";
import { $, el, announce, showLimits, typingSomewhere, busy } from "./ui.js";
import * as limits from "./limits.js";
import { session, loadMe, loadRoles } from "./catalog.js";
import { loadApps } from "./apps.js";
import "./appform.js";
import { showUsers } from "./users.js";
import { showRoles } from "./roles.js";
import { showAudit } from "./audit.js";
import { showOverview } from "./usage.js";
import { showTenants, tenantsShown } from "./tenants.js";
import { showSettings, settingsShown } from "./settings.js";
import { showWebhooks, webhooksShown } from "./webhooks.js";
import { showAccount, learnSecondFactor, whenEnrolled } from "./account.js";
import { codeField, passkeyRow, secondFactor } from "./factor.js";
import * as webauthn from "./webauthn.js";
import { prepareForgot, prepareSetPassword, linkToken, whenPasswordSet } from "./passwords.js";

showLimits(limits);

// Which tenant this console manages, always in sight: the same admin may
// have the root's console and an agency's open side by side.
if (TENANT) {
  $("tenant-tag").replaceChildren("Tenant ", el("strong", TENANT));
  $("si-tenant").textContent = "Tenant " + TENANT + ": sign in with an account of this tenant.";
  $("si-tenant").hidden = false;
} else {
  $("tenant-tag").textContent = "Root tenant";
}
$("tenant-tag").hidden = false;
const TITLE = TENANT ? "cb Admin (" + TENANT + ")" : "cb Admin";

const SCREENS = {
  applications: { title: "External applications", crumbs: "Global → External applications", show: () => loadApps(true) },
  users: { title: "Users", crumbs: "Global → Users", show: showUsers },
  roles: { title: "Roles", crumbs: "Global → Roles", show: showRoles },
  overview: { title: "Usage", crumbs: "Global → Usage", show: showOverview },
  audit: { title: "Audit trail", crumbs: "Global → Audit trail", show: showAudit },
  tenants: { title: "Tenants", crumbs: "Global → Tenants", show: showTenants, shown: tenantsShown },
  webhooks: { title: "Webhooks", crumbs: "Global → Webhooks", show: showWebhooks, shown: webhooksShown },
  settings: { title: "Settings", crumbs: "Global → Settings", show: showSettings, shown: settingsShown },
  account: { title: "Your account", crumbs: "You → Your account", show: showAccount },
};
// An administrator who must first enrol a second factor sees Your account alone.
const available = (name) => Boolean(SCREENS[name]) && (!session.mustEnrol || name === "account")
  && (!SCREENS[name].shown || SCREENS[name].shown());

// The pages before a session, one shown at a time in place of the screens.
const PAGES = { signin: "Sign in", mfa: "2-step verification", forgot: "Forgot password", setpw: "Choose your password" };
const PAGE_FIRST = { signin: "si-email", mfa: "mfa-code", forgot: "fp-email", setpw: "sp-password" };
function showPage(name) { for (const key of Object.keys(PAGES)) $(key).hidden = key !== name; }
// Which page the address asks for, when signed out.
function pageOfHash() {
  if (linkToken() !== null) return "setpw";
  return /^#\/?forgot-password$/.test(location.hash) ? "forgot" : "signin";
}

function openPage(name, focus) {
  for (const key of Object.keys(SCREENS)) $(key).hidden = true;
  $("new").hidden = true;
  if (name !== "mfa") mfaToken = null;
  if (name !== "signin") $("si-done").textContent = "";
  if (name === "forgot") prepareForgot($("si-email").value.trim());
  if (name === "setpw") prepareSetPassword();
  showPage(name);
  // No screen is shown: the header names none.
  $("crumbs").textContent = "";
  document.title = TITLE + " · " + PAGES[name];
  const first = $(PAGE_FIRST[name]);
  if (focus && first && !first.closest("[hidden]")) first.focus();
}

function navFor() {
  $("nav-tenants").hidden = !available("tenants");
  $("nav-settings").hidden = !available("settings");
  $("nav-webhooks").hidden = !available("webhooks");
}

function signedIn(yes) {
  $("nav").hidden = !yes;
  $("docs-out").hidden = yes;
  if (yes) { showPage(null); return; }
  $("who").textContent = "";
  openPage(pageOfHash(), pageOfHash() !== "signin");
}

function forget() {
  setToken(null);
  session.me = null;
  session.mustEnrol = false;
  secondFactor.set(null);
}

function signOutLocally(message) {
  const kept = typingSomewhere();
  forget();
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
  signedIn(false);
  if (message) {
    $("si-error").textContent = message
      + (kept ? " What you were typing is kept: open New again once signed in." : "");
  }
  if (!$("signin").hidden) $("si-email").focus();
}
whenSignedOut(() => signOutLocally("Your session has ended. Sign in again."));

// The tenant requires a second factor of administrators and this one has
// none: whatever was open closes, and Your account says why.
whenEnrolmentRequired(() => {
  if (!session.me || session.mustEnrol) return;
  session.mustEnrol = true;
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
  if ($("nav").hidden) return; // still signing in: start() routes
  navFor();
  if (location.hash === "#/account") route(true); else location.hash = "#/account";
});
whenEnrolled(async () => {
  navFor();
  await loadRoles();
  location.hash = "#/applications";
  announce("2-step verification is on. Every screen of cb Admin is open to you again.");
});

function screenName() {
  if (session.mustEnrol) return "account";
  const name = location.hash.replace(/^#\/?/, "");
  return available(name) ? name : "applications";
}

async function route(focus) {
  if (!session.me) return;
  if (linkToken() !== null) { openPage("setpw", true); return; }
  showPage(null);
  const name = screenName();
  if (session.mustEnrol && location.hash !== "#/account") history.replaceState(null, "", "#/account");
  const screen = SCREENS[name];
  for (const key of Object.keys(SCREENS)) $(key).hidden = key !== name;
  for (const link of document.querySelectorAll("#nav a[data-screen]")) {
    if (link.dataset.screen === name) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  if (name !== "applications") $("new").hidden = true;
  if (focus) $("status").textContent = "";
  $("crumbs").textContent = screen.crumbs;
  document.title = TITLE + " · " + screen.title;
  await screen.show();
  if (focus) { const h = $(name).querySelector("h1"); if (h) h.focus(); }
}
window.addEventListener("hashchange", () => {
  if (session.me) { route(true); return; }
  openPage(pageOfHash(), true);
});
// "Back to sign in": the address loses its page (and any link's token).
for (const id of ["forgot-back", "setpw-back"]) {
  $(id).addEventListener("click", (ev) => {
    ev.preventDefault();
    history.pushState(null, "", location.pathname + location.search);
    if (session.me) route(true); else openPage("signin", true);
  });
}

const siFields = [["si-email", "si-email-error", "Email is required."], ["si-password", "si-password-error", "Password is required."]];
for (const [input, error] of siFields) {
  $(input).addEventListener("input", () => { $(input).removeAttribute("aria-invalid"); $(error).textContent = ""; });
}

// The server's sentence with its full stop.
const sentence = (text) => (/[.!?]$/.test(text) ? text : text + ".");

let signingIn = false;
$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (signingIn) return;
  $("si-error").textContent = "";
  $("si-done").textContent = "";
  let first = null;
  for (const [input, error, text] of siFields) {
    const empty = !$(input).value.trim();
    $(error).textContent = empty ? text : "";
    if (empty) { $(input).setAttribute("aria-invalid", "true"); first = first || $(input); }
  }
  if (first) { first.focus(); return; }
  signingIn = true;
  const button = $("signin").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const r = await api("POST", "/admin/v1/sessions", { email: $("si-email").value.trim(), password: $("si-password").value });
    $("si-password").value = "";
    if (r.ok) {
      // The second step is asked exactly of those with an app: none was.
      secondFactor.set(false);
      setToken(r.data.token);
      await start(true);
      return;
    }
    if (r.status === 401 && r.data && r.data.mfa_required && r.data.mfa_token) { beginSecondStep(r.data.mfa_token); return; }
    const detail = (r.data && r.data.detail) || "";
    $("si-error").textContent = r.status === 401 && /disabled/.test(detail) ? sentence(problemText(r))
      : r.status === 401 || r.status === 403 ? "The email or password is not right." : problemText(r, "Sign-in failed.");
    $("si-password").focus();
  } finally { signingIn = false; button.disabled = false; }
});

// ---- the second step ----
let mfaToken = null; // 5 minutes, single use; each refused code brings a new one
const mfaCode = codeField($("mfa-factor-slot"), "mfa");
// Offered always: nothing before the second step says whether the person
// holds a passkey, and the server's 409 says when they hold none.
const mfaPasskey = passkeyRow($("mfa-factor-slot"), "mfa", {
  text: "Use a passkey",
  hint: "If you added one under Your account: your browser asks for it.",
  onUse: usePasskey,
});
const EXPIRED = "This sign-in expired: the second step must follow the password within 5 minutes. Sign in again with your password.";

function beginSecondStep(token) {
  mfaToken = token;
  mfaCode.reset();
  mfaPasskey.clear();
  $("mfa-error").textContent = "";
  openPage("mfa", true);
  mfaToken = token;
}

function backToPassword(message) {
  mfaToken = null;
  openPage("signin", false);
  $("si-error").textContent = message;
  $("si-password").focus();
}
$("mfa-back").addEventListener("click", () => { mfaToken = null; openPage("signin", false); $("si-password").focus(); });

$("mfa").addEventListener("submit", (ev) => {
  ev.preventDefault();
  $("mfa-error").textContent = "";
  if (!mfaToken) { backToPassword("Sign in again with your password."); return; }
  const code = mfaCode.take();
  if (!code) return;
  busy($("mfa"), async () => {
    const recovery = mfaCode.mode === "recovery";
    const r = await api("POST", "/admin/v1/sessions/mfa", { mfa_token: mfaToken, ...code });
    if (r.ok) {
      await secondStepDone(r, { totp: true });
      if (recovery) announce("Signed in with a recovery code: it cannot be used again. Running short? Set up the app again under Your account for new codes.");
      return;
    }
    if (r.status === 401 && r.data && r.data.mfa_required && r.data.mfa_token) {
      mfaToken = r.data.mfa_token;
      mfaCode.fail(recovery
        ? "That recovery code was not accepted: it may have been used already. Try another one, or the app's code."
        : "That code was not accepted. Enter the code the app shows now (each code works once), or use a recovery code.");
      return;
    }
    if (r.status === 401) {
      backToPassword(EXPIRED);
      return;
    }
    // Throttled, or anything else: the attempt spent the step's token.
    backToPassword(sentence(problemText(r, "Sign-in failed.")));
  });
});

// Signed in by the second step; `held` is what it showed the person holds
// (a code or a recovery code: an authenticator app; else a passkey).
async function secondStepDone(r, held) {
  mfaToken = null;
  secondFactor.set(null);
  secondFactor.learn(held);
  setToken(r.data.token);
  mfaCode.reset();
  mfaPasskey.clear();
  await start(true);
}

// "Use a passkey": options for this sign-in (the token stays usable for a
// code), the browser's ceremony, then the second step with its answer.
function usePasskey() {
  $("mfa-error").textContent = "";
  if (!mfaToken) { backToPassword("Sign in again with your password."); return; }
  if (!webauthn.supported()) { mfaPasskey.fail(webauthn.UNSUPPORTED); return; }
  busy($("mfa"), async () => {
    const token = mfaToken;
    const o = await api("POST", "/admin/v1/sessions/mfa/passkey", { mfa_token: token });
    if (!o.ok) {
      if (o.status === 401) { backToPassword(EXPIRED); return; }
      if (o.status === 409 && webauthn.conflict(o) === "none") {
        mfaPasskey.fail("Your account has no passkey: enter the code from your authenticator app, or one of your recovery codes.", { focus: false });
        mfaCode.input.focus();
        return;
      }
      mfaPasskey.fail(o.status === 409 ? webauthn.sentence(o.data.detail) : sentence(problemText(o, "Could not ask for your passkey.")));
      return;
    }
    let credential;
    try {
      credential = await webauthn.get(o.data.options);
    } catch (error) {
      mfaPasskey.fail(webauthn.refusal(error, false) + " Try again, or enter a code.");
      return;
    }
    if (mfaToken !== token) return; // back to the password meanwhile
    const r = await api("POST", "/admin/v1/sessions/mfa", { mfa_token: token, passkey: { ceremony_id: o.data.ceremony_id, credential } });
    if (r.ok) { await secondStepDone(r, { passkey: true }); return; }
    if (r.status === 401 && r.data && r.data.mfa_required && r.data.mfa_token) {
      mfaToken = r.data.mfa_token;
      mfaPasskey.fail("That passkey was not accepted: it may belong to another account, or the request took too long. Try again, or enter a code.");
      return;
    }
    if (r.status === 401) { backToPassword(EXPIRED); return; }
    backToPassword(sentence(problemText(r, "Sign-in failed.")));
  });
}

$("signout").addEventListener("click", async () => {
  await api("DELETE", "/admin/v1/sessions/current");
  signOutLocally();
  announce("Signed out.");
});

// After sign-in, or on a reload with a session: who, what they may do,
// whether they have an app, and the screen the address names.
async function start(fresh) {
  const me = await loadMe();
  if (!me.ok) { forget(); signedIn(false); return; }
  session.mustEnrol = false;
  $("who").textContent = "Signed in as " + session.me.name;
  // Either may answer that a second factor must be enrolled first (the hook).
  await loadRoles();
  await learnSecondFactor();
  navFor();
  signedIn(true);
  await route(false);
  if (fresh) {
    announce(session.mustEnrol
      ? "Signed in as " + session.me.name + ". Your agency requires 2-step verification: set up an authenticator app or add a passkey to continue."
      : "Signed in as " + session.me.name + ".");
    const page = $(screenName());
    if (!page.hidden) page.querySelector("h1").focus();
  }
}

whenPasswordSet((message) => {
  // Whoever was signed in here, the page is now about the link's account.
  if (hasToken()) forget();
  signedIn(false);
  openPage("signin", false);
  $("si-done").textContent = message;
  $("si-email").focus();
});

if (hasToken()) start(false); else signedIn(false);
