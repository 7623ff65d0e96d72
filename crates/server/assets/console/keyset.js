// Public keys given in a form, read in the browser before anything is sent:
// a pasted JWK Set or the JWKS URL that serves it, for a private_key_jwt
// application and for a federated credential's issuer alike.

// JWK members that only a private or symmetric key has (RFC 7518 §6).
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

// `{ jwks }` or `{ error: { field: "jwks", code } }`, in the server's codes.
export function parseKeySet(text) {
  if (!text.trim()) return { error: { field: "jwks", code: "required" } };
  let value;
  try { value = JSON.parse(text); } catch (_) { return { error: { field: "jwks", code: "invalid_json" } }; }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    if (Array.isArray(value.keys)) {
      // Refused here as the server would refuse it, so that a private key
      // pasted by mistake never leaves the admin's browser.
      const leaks = value.keys.some((k) => k && typeof k === "object" && PRIVATE_MEMBERS.some((m) => m in k));
      return leaks ? { error: { field: "jwks", code: "private_key_material" } } : { jwks: value };
    }
    if (typeof value.kty === "string") return { error: { field: "jwks", code: "single_key" } };
  }
  return { error: { field: "jwks", code: "not_a_key_set" } };
}

// The "JWK Set, pasted here" / "JWKS URL" radio pair of a form, given its
// URL radio, the two rows it switches between, the textarea and the URL input.
// Whether the URL is usable (https, a public address) is the server's to say:
// it alone knows whether private addresses are allowed.
export function keyChoice({ uriRadio, setRow, uriRow, textarea, uriInput }) {
  const byUri = () => uriRadio.checked;
  const choice = {
    byUri,
    // Both rows hide while the keys are not asked for at all.
    show(asked = true) {
      setRow.hidden = !asked || byUri();
      uriRow.hidden = !asked || !byUri();
    },
    // `{ jwks }`, `{ jwks_uri }` or `{ error }`, as the body wants them.
    read() {
      if (!byUri()) return parseKeySet(textarea.value);
      const uri = uriInput.value.trim();
      return uri ? { jwks_uri: uri } : { error: { field: "jwks_uri", code: "required" } };
    },
  };
  for (const radio of uriRadio.form.querySelectorAll(`input[type=radio][name="${CSS.escape(uriRadio.name)}"]`)) {
    radio.addEventListener("change", () => choice.show());
  }
  return choice;
}
