// Field errors in people's words: the field's label, never its API name;
// beside the field, tied to it with aria-describedby and aria-invalid; the
// first invalid field focused; "N problems to fix" in the form's live region.
import { APPLICATION_NAME_CHARS, DESCRIPTION_CHARS, MAX_EMAIL_CHARS, MAX_KEYS, MAX_URL_CHARS, MIN_PASSWORD_CHARS, MIN_RSA_BITS } from "./limits.js";

const LIMITS = { name: APPLICATION_NAME_CHARS, email: MAX_EMAIL_CHARS, application_url: MAX_URL_CHARS, description: DESCRIPTION_CHARS };

// The public keys of a private_key_jwt application: each refusal as a sentence.
function keySetSentence(code, message) {
  const m = /\bkey (\d+)\b/.exec(message || "");
  const which = m ? "Key " + m[1] : "A key";
  switch (code) {
    case "invalid_json": return "This is not valid JSON. Paste the whole JWK Set, from its opening { to its closing }.";
    case "not_a_key_set": return "This is not a JWK Set: paste an object with a \"keys\" list, like {\"keys\": [ … ]}.";
    case "single_key": return "This is a single key, not a JWK Set: put it inside {\"keys\": [ … ]}.";
    case "private_key_material": return "This key set contains private key material. Paste only the public keys.";
    case "duplicate_kid": return which + " has the same kid as another key: give each key its own kid.";
    case "weak_key": return which + " is too weak: RSA keys need at least " + MIN_RSA_BITS + " bits.";
    case "unsupported_key": return which + " is of a kind Casebook does not accept: use RSA (" + MIN_RSA_BITS + " bits or more), EC P-256 or Ed25519.";
    case "too_long": return "A key set holds at most " + MAX_KEYS + " keys: remove some.";
    case "required":
      if (/\bkid\b/.test(message || "")) return which + " has no kid: give each key a kid (key ID).";
      return "Paste the JWK Set of the application's public keys (1 to " + MAX_KEYS + " keys), or choose JWKS URL.";
    case "invalid_type": return "Paste the JWK Set as a JSON object, like {\"keys\": [ … ]}.";
    case "invalid_value":
      // A key that is not what it claims to be (a point off its curve): the server's sentence names it.
      if (m) return message.charAt(0).toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? "" : ".");
      return "Public keys are only for Private key JWT: choose it above, or clear the keys.";
    default: return null;
  }
}

// The server's own sentence, with its API names put in the form's words.
export function reworded(message, replacements) {
  if (!message) return null;
  let text = message;
  for (const [from, to] of replacements) text = text.replace(from, to);
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : text + ".";
}

// A JWKS URL's refusals, for a form whose keys are `whose` ("the issuer"):
// a field's `say`.
export function jwksUriSay(whose) {
  return (code, message) => {
    if (code === "required") return "Give the address where " + whose + " publishes its keys, or choose JWK Set and paste them.";
    if (code === "invalid_url") return "JWKS URL must be a full address beginning with https.";
    if (code === "private_address") {
      const host = /\bnames (\S+?),/.exec(message || "");
      return "JWKS URL names " + (host ? host[1] + ", " : "") + "an address on a loopback or private network: "
        + "Casebook fetches keys from public addresses only.";
    }
    return reworded(message, [[/\bjwks_uri\b/g, "a JWKS URL"], [/\bjwks\b/g, "a JWK Set"]]);
  };
}

function sentence(label, field, code, message) {
  const L = label;
  if (field === "jwks") { const text = keySetSentence(code, message); if (text) return text; }
  switch (code) {
    case "required":
      if (field === "roles") return "Choose at least one role.";
      if (field === "permissions") return "Choose at least one permission.";
      return L + " is required.";
    case "too_short": return field === "password" ? L + " must be at least " + MIN_PASSWORD_CHARS + " characters." : L + " is too short.";
    // The server says which rule the password breaks ("password is one of
    // the most commonly used passwords"): its sentence, under the label.
    case "weak_password":
      return (reworded(message, [[/^password\b/, L]]) || L + " is too easy to guess.")
        + " Try a phrase of several unrelated words.";
    case "too_long": return L + " is too long" + (LIMITS[field] ? " (at most " + LIMITS[field] + " characters)." : ".");
    case "invalid_characters": return L + " contains characters that are not allowed, such as control characters.";
    case "invalid_email": return L + " must be a valid email address, like team@example.org.";
    case "email_in_use": return L + " already belongs to a Casebook account: use another address (a group mailbox or a +tag address works).";
    case "invalid_url": return L + " must be a full web address beginning with http or https.";
    case "unknown_role": return "One of the chosen roles no longer exists: reload the page and choose again.";
    case "duplicate_role": return "A role is chosen twice.";
    case "invalid_permission": return "One of the chosen permissions is not known.";
    case "duplicate_permission": return "A permission is chosen twice.";
    case "name_in_use": return L + " is already used: choose another.";
    default: {
      // The server's sentence, with the API's field name replaced by the label.
      let text = message || (L + " is not valid.");
      if (field) text = text.split(field).join(L);
      return text.charAt(0).toUpperCase() + text.slice(1);
    }
  }
}

// `fields`: { apiField: { label, error: element, input: element or [checkboxes],
// say?: (code, message) => sentence or null, for a form whose field means
// something of its own there } }
export function clearErrors(fields, summary, general) {
  for (const f of Object.values(fields)) clearField(f);
  if (summary) summary.textContent = "";
  if (general) general.textContent = "";
}
function inputsOf(f) { return typeof f.input === "function" ? f.input() : [f.input]; }
function clearField(f) {
  f.error.textContent = "";
  for (const i of inputsOf(f)) i.removeAttribute("aria-invalid");
}

// Clears a field's error as soon as the field changes.
export function clearOnChange(fields) {
  for (const f of Object.values(fields)) {
    const target = f.group || f.input;
    for (const type of ["input", "change"]) target.addEventListener(type, () => { if (f.error.textContent) clearField(f); });
  }
}

// Shows a 422's errors; returns how many fields are refused.
export function showErrors(fields, errors, summary, general) {
  let first = null;
  let count = 0;
  for (const e of errors) {
    const f = fields[e.field];
    const text = (f && f.say && f.say(e.code, e.message)) || sentence(f ? f.label : "This form", e.field, e.code, e.message);
    if (!f) { general.textContent = (general.textContent ? general.textContent + " " : "") + text; count += 1; continue; }
    if (!f.error.textContent) count += 1;
    f.error.textContent = f.error.textContent ? f.error.textContent + " " + text : text;
    const inputs = inputsOf(f);
    for (const i of inputs) i.setAttribute("aria-invalid", "true");
    if (!first && inputs[0]) first = inputs[0];
  }
  if (summary) summary.textContent = count === 1 ? "1 problem to fix." : count + " problems to fix.";
  if (first) first.focus();
  return count;
}

// A required field left empty, caught before anything is sent.
export function requireFilled(fields, names, summary) {
  const errors = [];
  for (const n of names) {
    const f = fields[n];
    const inputs = inputsOf(f);
    const empty = inputs.every((i) => (i.type === "checkbox" ? !i.checked : !i.value.trim()));
    if (empty) errors.push({ field: n, code: "required" });
  }
  if (errors.length) showErrors(fields, errors, summary, null);
  return errors.length === 0;
}
