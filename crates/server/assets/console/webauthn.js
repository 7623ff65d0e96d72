// Passkeys (WebAuthn) in the browser: the server's options as the browser
// takes them, the authenticator's answer as the server reads it, and what
// went wrong in people's words.
//
// The server sends `{ publicKey: {...} }` with its binary members (the
// challenge, the user's handle, credential ids) in base64url; the browser
// wants ArrayBuffers there, and answers with ArrayBuffers that go back as
// base64url.
import { api } from "./api.js";

export function toBuffer(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

export function toText(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const credentialList = (list) => (list || []).map((c) => ({ ...c, id: toBuffer(c.id) }));

// Whether this browser can use passkeys at all.
export function supported() {
  return Boolean(window.PublicKeyCredential && navigator.credentials && navigator.credentials.create);
}

// `navigator.credentials.create` with the server's options; the answer as
// the server reads it.
export async function create(options) {
  const o = options.publicKey;
  const publicKey = {
    ...o,
    challenge: toBuffer(o.challenge),
    user: { ...o.user, id: toBuffer(o.user.id) },
    excludeCredentials: credentialList(o.excludeCredentials),
  };
  const credential = await navigator.credentials.create({ publicKey });
  const r = credential.response;
  const response = { attestationObject: toText(r.attestationObject), clientDataJSON: toText(r.clientDataJSON) };
  if (typeof r.getTransports === "function") response.transports = r.getTransports();
  return {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response,
    extensions: credential.getClientExtensionResults(),
  };
}

// `navigator.credentials.get` with the server's options; the answer as the
// server reads it.
export async function get(options) {
  const o = options.publicKey;
  const publicKey = { ...o, challenge: toBuffer(o.challenge), allowCredentials: credentialList(o.allowCredentials) };
  const credential = await navigator.credentials.get({ publicKey });
  const r = credential.response;
  return {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: toText(r.authenticatorData),
      clientDataJSON: toText(r.clientDataJSON),
      signature: toText(r.signature),
      userHandle: r.userHandle ? toText(r.userHandle) : null,
    },
    extensions: credential.getClientExtensionResults(),
  };
}

// Why the browser gave no answer, as a sentence. `making` for a new
// passkey (create), else using one (get).
export function refusal(error, making) {
  const name = error && error.name;
  if (name === "NotAllowedError") {
    return making
      ? "No passkey was made: the browser's request was cancelled or timed out."
      : "The passkey was not used: the browser's request was cancelled or timed out, or this device holds none of your passkeys.";
  }
  if (name === "InvalidStateError" && making) {
    return "This device or password manager holds a passkey for your account already (it is in your list). Use another one, or remove that passkey first.";
  }
  if (name === "SecurityError") {
    return "The browser refuses passkeys at this address: open cb Admin at its domain name (not an IP address).";
  }
  if (name === "NotSupportedError") {
    return "This browser or device cannot " + (making ? "make" : "use") + " a passkey of the kind cb Admin asks for.";
  }
  if (name === "AbortError") return making ? "No passkey was made: the request was stopped." : "The passkey was not used: the request was stopped.";
  return (making ? "No passkey was made" : "The passkey was not used") + ": the browser said " + (error && error.message ? "“" + error.message + "”" : "no more") + ".";
}

export const UNSUPPORTED = "This browser cannot use passkeys. Use a current version of Chrome, Edge, Firefox or Safari, or a code.";

// The server's 409 for passkeys: none held, or a service at an IP address.
export function conflict(r) {
  const detail = (r && r.data && r.data.detail) || "";
  return /domain name/i.test(detail) ? "address" : "none";
}

// A step-up with one of the signed-in person's passkeys: options from
// `/users/me/passkeys/challenge`, the browser's answer. Resolves to
// `{ passkey: { ceremony_id, credential } }`, or `{ error, none }` with the
// sentence to show (`none` when the server says the person holds none).
export async function stepUp() {
  if (!supported()) return { error: UNSUPPORTED };
  const r = await api("POST", "/admin/v1/users/me/passkeys/challenge", {});
  if (!r.ok) {
    if (r.status === 409 && conflict(r) === "none") {
      return { none: true, error: "Your account has no passkey: use a code from your authenticator app, or a recovery code." };
    }
    if (r.status === 409) return { error: sentence(r.data.detail) };
    return { error: r.status === 0 ? r.data.detail : "Could not ask for your passkey (" + r.status + "). Try again in a moment." };
  }
  try {
    const credential = await get(r.data.options);
    return { passkey: { ceremony_id: r.data.ceremony_id, credential } };
  } catch (error) {
    return { error: refusal(error, false) };
  }
}

// The server's sentence, with a capital and a full stop.
export function sentence(text) {
  if (!text) return "";
  const t = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(t) ? t : t + ".";
}
