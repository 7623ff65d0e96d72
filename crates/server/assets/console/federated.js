// An application's federated credentials: the outside identities (issuer,
// subject, audience, further claims) whose tokens it takes in place of a
// secret. Listed in its details, added in a dialog, removed after a
// confirmation that names them.
import { api, path, problemText } from "./api.js";
import { $, el, announce, openDialog, busy, highlight } from "./ui.js";
import { clearErrors, clearOnChange, showErrors, reworded, jwksUriSay } from "./errors.js";
import { can } from "./catalog.js";
import { confirmAction } from "./confirm.js";
import { keyChoice } from "./keyset.js";
import { MAX_CLAIMS, MAX_CLAIMS_BYTES, MAX_KEYS, MAX_TOKEN_LIFETIME_SECS, MIN_TOKEN_LIFETIME_SECS } from "./limits.js";

const dialog = $("fed-dialog");
const form = $("fed-form");
const CLAIMS_EXAMPLE = '{"repository": "partner/exporter"}';
const credentialsPath = (app) => path.app(app.id) + "/federated-credentials";

const fields = {
  name: { label: "Name", input: $("fc-name"), error: $("fc-name-error") },
  issuer: { label: "Issuer", input: $("fc-issuer"), error: $("fc-issuer-error") },
  subject: { label: "Subject", input: $("fc-subject"), error: $("fc-subject-error") },
  audience: { label: "Audience", input: $("fc-audience"), error: $("fc-audience-error") },
  jwks: {
    label: "JWK Set", input: $("fc-jwks"), error: $("fc-jwks-error"),
    // The rest of the key set's refusals read the same as an application's.
    say: (code, message) => (code === "required" && !/\bkid\b/.test(message || "")
      ? "Paste the JWK Set of the issuer's public keys (1 to " + MAX_KEYS + " keys), or choose JWKS URL." : null),
  },
  jwks_uri: {
    label: "JWKS URL", input: $("fc-jwks-uri"), error: $("fc-jwks-uri-error"),
    say: jwksUriSay("the issuer"),
  },
  claims: {
    label: "Further claims", input: $("fc-claims"), error: $("fc-claims-error"),
    say: (code, message) => {
      if (code === "invalid_json") return "This is not valid JSON. Write the claims as one JSON object, like " + CLAIMS_EXAMPLE + ".";
      if (code === "invalid_type") return "Further claims must be a JSON object of claim names and values, like " + CLAIMS_EXAMPLE + ".";
      if (code === "too_long") return "Further claims may name at most " + MAX_CLAIMS + " claims, in at most " + MAX_CLAIMS_BYTES + " bytes of JSON.";
      return reworded(message, [[/^claims\b/, "Further claims"]]);
    },
  },
  max_token_lifetime_seconds: {
    label: "Longest token lifetime", input: $("fc-lifetime"), error: $("fc-lifetime-error"),
    say: (code) => (code === "invalid_value" || code === "invalid_type"
      ? "Give a whole number of seconds from " + MIN_TOKEN_LIFETIME_SECS + " to " + MAX_TOKEN_LIFETIME_SECS + ", or leave it empty." : null),
  },
};
clearOnChange(fields);

// The optional lifetime bound: `{}` when empty, `{ seconds }`, or `{ error }`.
function parseLifetime(text) {
  if (!text.trim()) return {};
  if (!/^\s*\d+\s*$/.test(text)) return { error: { field: "max_token_lifetime_seconds", code: "invalid_value" } };
  return { seconds: Number(text.trim()) };
}

// The optional claims textarea: `{}` when empty, `{ claims }`, or `{ error }`.
function parseClaims(text) {
  if (!text.trim()) return {};
  let value;
  try { value = JSON.parse(text); } catch (_) { return { error: { field: "claims", code: "invalid_json" } }; }
  if (!value || typeof value !== "object" || Array.isArray(value)) return { error: { field: "claims", code: "invalid_type" } };
  return { claims: value };
}

const keys = keyChoice({
  uriRadio: $("fc-keys-uri"), setRow: $("fc-jwks-row"), uriRow: $("fc-jwks-uri-row"),
  textarea: $("fc-jwks"), uriInput: $("fc-jwks-uri"),
});

// The default audience is worth seeing written out: the admin copies it into
// the outside issuer's token request.
let ourIssuer = null;
async function audienceHint() {
  if (!ourIssuer) {
    const r = await api("GET", "/.well-known/oauth-authorization-server");
    if (r.ok && r.data && typeof r.data.issuer === "string") ourIssuer = r.data.issuer;
  }
  $("fc-audience-hint").textContent = "The aud the tokens must carry. Leave it empty for the default: this server's issuer identifier"
    + (ourIssuer ? ", " + ourIssuer + "." : ".");
}

let adding = null; // the section the dialog adds to

function openAdd(section, opener) {
  adding = section;
  form.reset();
  clearErrors(fields, $("fed-summary"), $("fed-error"));
  $("fed-dialog-title").textContent = "Add federated credential to " + section.app.name;
  keys.show();
  openDialog(dialog, opener, $("fc-name"), section.title);
  audienceHint();
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  busy(form, async () => {
    clearErrors(fields, $("fed-summary"), $("fed-error"));
    const section = adding;
    const body = { name: $("fc-name").value, issuer: $("fc-issuer").value, subject: $("fc-subject").value };
    if ($("fc-audience").value.trim()) body.audience = $("fc-audience").value;
    const refused = [];
    const given = keys.read();
    if (given.error) refused.push(given.error); else Object.assign(body, given);
    const claims = parseClaims($("fc-claims").value);
    if (claims.error) refused.push(claims.error); else if (claims.claims) body.claims = claims.claims;
    const lifetime = parseLifetime($("fc-lifetime").value);
    if (lifetime.error) refused.push(lifetime.error); else if (lifetime.seconds !== undefined) body.max_token_lifetime_seconds = lifetime.seconds;
    if ($("fc-single-use").checked) body.single_use = true;
    if (refused.length) { showErrors(fields, refused, $("fed-summary"), $("fed-error")); return; }

    const r = await api("POST", credentialsPath(section.app), body);
    if (r.ok) {
      dialog._opener = null;
      dialog.close();
      await section.load(r.data.id);
      announce("Federated credential " + r.data.name + " added to " + section.app.name
        + ": a token of " + r.data.issuer + " for " + r.data.subject + " now gets its tokens.");
      return;
    }
    if (r.status === 422 && r.data && Array.isArray(r.data.errors)) {
      showErrors(fields, r.data.errors, $("fed-summary"), $("fed-error"));
    } else if (r.status === 403 && r.data && Array.isArray(r.data.missing_permissions)) {
      $("fed-error").textContent = "Your account cannot change " + section.app.name + ": it holds permissions you lack ("
        + r.data.missing_permissions.join(", ") + ").";
    } else {
      $("fed-error").textContent = problemText(r, "Could not add the federated credential.");
    }
  });
});

function term(dl, name, value) {
  const dd = el("dd");
  dd.append(value);
  dl.append(el("dt", name), dd);
}

function claimsList(claims) {
  const names = Object.keys(claims || {});
  if (!names.length) return "None";
  const list = el("ul", undefined, "key-list");
  for (const name of names) list.append(el("li", name + " = " + JSON.stringify(claims[name]), "mono-line"));
  return list;
}

function keysOf(c) {
  if (c.jwks_uri) { const span = el("span", "Fetched from "); span.append(el("code", c.jwks_uri)); return span; }
  const keys = (c.jwks && Array.isArray(c.jwks.keys)) ? c.jwks.keys : [];
  return keys.map((k) => "kid " + (k.kid || "—") + " (" + (k.kty || "?") + (k.crv ? " " + k.crv : "") + ")").join(", ") || "None";
}

function confirmRemove(section, c, opener) {
  const app = section.app;
  confirmAction({
    title: "Remove federated credential " + c.name + "?",
    text: "Tokens of " + c.issuer + " for " + c.subject + " will no longer get tokens of " + app.name
      + ". Tokens it already got keep working until they expire, within the hour.",
    ok: "Remove credential",
    opener,
    fallback: section.title,
    run: () => api("DELETE", credentialsPath(app) + "/" + encodeURIComponent(c.id)),
    done: async () => {
      await section.load();
      announce("Federated credential " + c.name + " removed from " + app.name + ".");
      (section.addButton || section.title).focus();
    },
  });
}

function item(section, c) {
  const li = el("li", undefined, "fed-item");
  li.dataset.id = c.id;
  const heading = el("h3", c.name);
  heading.tabIndex = -1;
  const dl = el("dl");
  term(dl, "Issuer", el("code", c.issuer));
  term(dl, "Subject", el("code", c.subject));
  term(dl, "Audience", el("code", c.audience));
  term(dl, "Required claims", claimsList(c.claims));
  term(dl, "Issuer's keys", keysOf(c));
  term(dl, "Longest token lifetime", c.max_token_lifetime_seconds ? c.max_token_lifetime_seconds + " s (exp − iat)" : "No bound beyond exp");
  term(dl, "Each token", c.single_use ? "Accepted once (by its jti)" : "Accepted until it expires");
  li.append(heading, dl);
  if (can("admin:edit")) {
    const remove = el("button", "Remove", "danger");
    remove.type = "button";
    remove.setAttribute("aria-label", "Remove federated credential " + c.name + " of " + section.app.name);
    remove.addEventListener("click", () => confirmRemove(section, c, remove));
    const actions = el("div", undefined, "row-actions");
    actions.append(remove);
    li.append(actions);
  }
  return li;
}

// The section in an application's details. `load(focusId)` fetches the list
// afresh and, given the id of a credential just added, shows and focuses it.
export function federatedSection(app) {
  const node = el("section", undefined, "fed");
  const title = el("h2", "Federated credentials", "fed-title");
  title.id = "fed-title-" + app.id;
  title.tabIndex = -1;
  node.setAttribute("aria-labelledby", title.id);
  const list = el("ul", undefined, "fed-list");
  list.setAttribute("aria-labelledby", title.id);
  const empty = el("p", "Loading…", "muted");
  const failure = el("p", undefined, "err");
  failure.setAttribute("role", "alert");
  node.append(title, el("p", "Workloads holding a token of one of these outside identities get this application's tokens with no secret.", "muted"),
    list, empty, failure);
  const section = { app, node, title, addButton: null };
  if (can("admin:edit")) {
    const add = el("button", "Add federated credential");
    add.type = "button";
    add.setAttribute("aria-label", "Add federated credential to " + app.name);
    add.addEventListener("click", () => openAdd(section, add));
    const actions = el("div", undefined, "row-actions");
    actions.append(add);
    node.append(actions);
    section.addButton = add;
  }
  let latest = 0;
  section.load = async (focusId) => {
    const mine = ++latest;
    const r = await api("GET", credentialsPath(app));
    if (mine !== latest) return; // a newer load answers instead
    if (!r.ok) { failure.textContent = "Could not load the federated credentials: " + problemText(r); return; }
    failure.textContent = "";
    list.replaceChildren(...r.data.items.map((c) => item(section, c)));
    empty.textContent = "None: this application trusts no outside identity.";
    empty.hidden = r.data.items.length > 0;
    const added = focusId && list.querySelector(`li[data-id="${CSS.escape(focusId)}"]`);
    if (added) { highlight(added); added.querySelector("h3").focus(); }
  };
  return section;
}
