// A pasted JWK Set, read in the browser before anything is sent: the keys of
// a private_key_jwt application and of a federated credential's issuer.

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
