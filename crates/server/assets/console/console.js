// cb Admin: sign-in, the header's navigation and which screen shows.
import { api, setToken, hasToken, whenSignedOut, problemText, TENANT } from "./api.js";
import { $, el, announce, showLimits, typingSomewhere } from "./ui.js";
import * as limits from "./limits.js";
import { session, loadMe, loadRoles } from "./catalog.js";
import { loadApps } from "./apps.js";
import "./appform.js";
import { showUsers } from "./users.js";
import { showRoles } from "./roles.js";
import { showAudit } from "./audit.js";
import { showTenants, tenantsShown } from "./tenants.js";

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
  audit: { title: "Audit trail", crumbs: "Global → Audit trail", show: showAudit },
  tenants: { title: "Tenants", crumbs: "Global → Tenants", show: showTenants, shown: tenantsShown },
};
const available = (name) => Boolean(SCREENS[name]) && (!SCREENS[name].shown || SCREENS[name].shown());

function signedIn(yes) {
  $("signin").hidden = yes;
  $("nav").hidden = !yes;
  $("docs-out").hidden = yes;
  if (!yes) {
    for (const name of Object.keys(SCREENS)) $(name).hidden = true;
    $("new").hidden = true;
    $("who").textContent = "";
    document.title = TITLE + " · Sign in";
  }
}

function signOutLocally(message) {
  setToken(null);
  session.me = null;
  const kept = typingSomewhere();
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
  signedIn(false);
  if (message) {
    $("si-error").textContent = message
      + (kept ? " What you were typing is kept: open New again once signed in." : "");
  }
  $("si-email").focus();
}
whenSignedOut(() => signOutLocally("Your session has ended. Sign in again."));

function screenName() {
  const name = location.hash.replace(/^#\/?/, "");
  return available(name) ? name : "applications";
}

async function route(focus) {
  if (!session.me) return;
  const name = screenName();
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
window.addEventListener("hashchange", () => route(true));

const siFields = [["si-email", "si-email-error", "Email is required."], ["si-password", "si-password-error", "Password is required."]];
for (const [input, error] of siFields) {
  $(input).addEventListener("input", () => { $(input).removeAttribute("aria-invalid"); $(error).textContent = ""; });
}

let signingIn = false;
$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (signingIn) return;
  $("si-error").textContent = "";
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
    if (!r.ok) {
      $("si-error").textContent = r.status === 401 || r.status === 403
        ? "The email or password is not right." : problemText(r, "Sign-in failed.");
      $("si-password").focus();
      return;
    }
    setToken(r.data.token);
    await start(true);
  } finally { signingIn = false; button.disabled = false; }
});

$("signout").addEventListener("click", async () => {
  await api("DELETE", "/admin/v1/sessions/current");
  signOutLocally();
  announce("Signed out.");
});

async function start(fresh) {
  const me = await loadMe();
  if (!me.ok) { setToken(null); signedIn(false); return; }
  $("who").textContent = "Signed in as " + session.me.name;
  $("nav-tenants").hidden = !available("tenants");
  signedIn(true);
  await loadRoles();
  await route(false);
  if (fresh) { announce("Signed in as " + session.me.name + "."); $(screenName()).querySelector("h1").focus(); }
}

if (hasToken()) start(false); else { signedIn(false); }
