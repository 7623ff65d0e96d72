/**
 * Sender-constrained tokens (DPoP, RFC 9449): a key pair whose public half
 * the server binds each token to, the proofs signed with its private half,
 * and the nonces servers hand out.
 *
 * Proofs are compact JWS signed with WebCrypto alone: ECDSA signatures come
 * out of `subtle.sign` as the raw `r || s` JWS wants (RFC 7518 §3.4), and
 * RSA and Ed25519 signatures are JWS signatures as they are.
 */

import { ConfigError } from "./errors.js";

/** The JWS algorithms a DPoP key signs with: those Casebook accepts. */
export type DPoPAlgorithm = "ES256" | "RS256" | "PS256" | "EdDSA";

/** The WebCrypto parameters of each algorithm's signature. @internal */
export const SIGN_PARAMS: Record<DPoPAlgorithm, AlgorithmIdentifier | RsaPssParams | EcdsaParams> = {
  ES256: { name: "ECDSA", hash: "SHA-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  // RFC 7518 §3.5: the salt is as long as the hash.
  PS256: { name: "RSA-PSS", saltLength: 32 },
  EdDSA: { name: "Ed25519" },
};

/** The public JWK members of each key type, in RFC 7638's (lexicographic) order. @internal */
export const JWK_MEMBERS: Record<string, readonly string[]> = {
  EC: ["crv", "kty", "x", "y"],
  RSA: ["e", "kty", "n"],
  OKP: ["crv", "kty", "x"],
};

/** How many origins' nonces are kept; the oldest is forgotten first. */
const NONCE_ORIGINS = 100;

const REDACTED = "[redacted]";

type PublicJwk = Record<string, string>;

interface Material {
  alg: DPoPAlgorithm;
  privateKey: CryptoKey;
  /** The protected header, the same for every proof. */
  header: string;
  thumbprint: string;
}

/** @internal */
export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) throw new ConfigError("DPoP needs WebCrypto (globalThis.crypto.subtle), which this platform lacks");
  return s;
}

/** The JWS algorithm of a WebCrypto key, or why it cannot sign DPoP proofs. @internal */
export function algorithmOf(key: CryptoKey): DPoPAlgorithm | string {
  const algorithm = key.algorithm as KeyAlgorithm & { namedCurve?: string; hash?: { name?: string }; modulusLength?: number };
  const hash = algorithm.hash?.name;
  switch (algorithm.name) {
    case "ECDSA":
      return algorithm.namedCurve === "P-256" ? "ES256" : `ECDSA on ${algorithm.namedCurve ?? "an unknown curve"} is not ES256 (P-256)`;
    case "Ed25519":
      return "EdDSA";
    case "RSASSA-PKCS1-v1_5":
    case "RSA-PSS": {
      if (hash !== "SHA-256") return `${algorithm.name} with ${hash ?? "no hash"} is not RS256 or PS256 (SHA-256)`;
      if ((algorithm.modulusLength ?? 0) < 2048) return `an RSA key of ${algorithm.modulusLength ?? "unknown"} bits is too short (2048 at least)`;
      return algorithm.name === "RSA-PSS" ? "PS256" : "RS256";
    }
    default:
      return `${algorithm.name} keys do not sign ES256, RS256, PS256 or EdDSA`;
  }
}

/** @internal */
export const isAlgorithm = (a: string): a is DPoPAlgorithm => a in SIGN_PARAMS;

/** The caller's key pair checked before anything is sent; its algorithm. */
function checkedPair(pair: CryptoKeyPair): DPoPAlgorithm {
  const { privateKey, publicKey } = (pair ?? {}) as Partial<CryptoKeyPair>;
  if (privateKey?.type !== "private" || publicKey?.type !== "public") {
    throw new ConfigError("a DPoP key pair is a CryptoKeyPair: { privateKey, publicKey } made by WebCrypto");
  }
  if (!privateKey.usages.includes("sign")) throw new ConfigError("the DPoP private key must allow \"sign\"");
  if (!publicKey.extractable) {
    throw new ConfigError("the DPoP public key must be extractable: every proof carries it as a JWK");
  }
  const alg = algorithmOf(privateKey);
  if (!isAlgorithm(alg)) throw new ConfigError(`the DPoP key pair: ${alg}`);
  if (algorithmOf(publicKey) !== alg) throw new ConfigError("the DPoP public key is not of the private key's algorithm");
  return alg;
}

/** Unpadded base64url of bytes (RFC 7515 §2), with `btoa` so that browsers have it too. @internal */
export function base64url(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (let i = 0; i < view.length; i++) binary += String.fromCharCode(view[i] as number);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @internal */
export const utf8 = (text: string) => new TextEncoder().encode(text);

/** The `ath` of a proof: the access token's SHA-256, base64url (RFC 9449 §4.2). @internal */
export async function accessTokenHash(accessToken: string): Promise<string> {
  return base64url(await subtle().digest("SHA-256", utf8(accessToken)));
}

/** The URL a proof names (`htu`): without its query and fragment (RFC 9449 §4.2). @internal */
export function htu(url: string | URL): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * A DPoP key: the key pair every token is bound to, and the nonces servers
 * asked its proofs to carry (the latest `DPoP-Nonce` of each origin, from
 * any answer).
 *
 * Made by the SDK when a client is given `dpop: true`, an ES256 key pair
 * generated with WebCrypto on the first proof, its private key
 * non-extractable: it lives as long as the process and never leaves it.
 * Or from a `CryptoKeyPair` of the caller's (ES256 on P-256, RS256 or PS256
 * with SHA-256 and 2048 bits or more, EdDSA on Ed25519), whose public key
 * must be extractable. Share one between clients by passing it to a
 * {@link TokenSource} they share.
 *
 * The private key never shows: `String()`, `JSON.stringify` and
 * `util.inspect` (hence `console.log`) name the algorithm alone.
 */
export class DPoPKey {
  readonly #given: CryptoKeyPair | undefined;
  readonly #givenAlg: DPoPAlgorithm | undefined;
  #material: Promise<Material> | undefined;
  readonly #nonces = new Map<string, string>();

  /** A key of `keyPair`, or of an ES256 key pair generated on first use when none is given. */
  constructor(keyPair?: CryptoKeyPair) {
    subtle();
    if (keyPair !== undefined) {
      this.#givenAlg = checkedPair(keyPair);
      this.#given = keyPair;
    }
  }

  /** The algorithm its proofs are signed with. */
  get algorithm(): DPoPAlgorithm {
    return this.#givenAlg ?? "ES256";
  }

  /** The public key's RFC 7638 thumbprint (SHA-256), which a bound token carries as `cnf.jkt`. */
  async thumbprint(): Promise<string> {
    return (await this.#key()).thumbprint;
  }

  /**
   * A proof for one request (RFC 9449 §4.2): `htm` the method, `htu` the
   * URL without its query and fragment, a fresh `jti`, `iat` now, the
   * origin's latest nonce if it gave one, and `ath` when `accessToken` is
   * sent with it. Sent as the `DPoP` header.
   */
  async proof(method: string, url: string | URL, accessToken?: string): Promise<string> {
    const key = await this.#key();
    const target = new URL(url);
    const claims: Record<string, string | number> = {
      jti: base64url(globalThis.crypto.getRandomValues(new Uint8Array(32))),
      htm: method.toUpperCase(),
      htu: htu(target),
      iat: Math.floor(Date.now() / 1000),
    };
    const nonce = this.#nonces.get(target.origin);
    if (nonce !== undefined) claims.nonce = nonce;
    if (accessToken !== undefined) claims.ath = await accessTokenHash(accessToken);
    const input = `${key.header}.${base64url(utf8(JSON.stringify(claims)))}`;
    const signature = await subtle().sign(SIGN_PARAMS[key.alg], key.privateKey, utf8(input));
    return `${input}.${base64url(signature)}`;
  }

  /** The nonce the next proof to `url`'s origin carries, if that origin gave one. */
  nonce(url: string | URL): string | undefined {
    return this.#nonces.get(new URL(url).origin);
  }

  /**
   * Keeps the `DPoP-Nonce` of an answer from `url`, if it has one, for the
   * next proofs to that origin. Whether it had one. @internal
   */
  rememberNonce(url: string | URL, headers: Headers): boolean {
    const nonce = headers.get("dpop-nonce");
    if (nonce === null || nonce === "") return false;
    const origin = new URL(url).origin;
    this.#nonces.delete(origin);
    if (this.#nonces.size >= NONCE_ORIGINS) {
      const oldest = this.#nonces.keys().next().value;
      if (oldest !== undefined) this.#nonces.delete(oldest);
    }
    this.#nonces.set(origin, nonce);
    return true;
  }

  /** The key material, made once (concurrent first proofs share one generation). */
  #key(): Promise<Material> {
    this.#material ??= this.#prepare().catch((error: unknown) => {
      this.#material = undefined;
      throw error;
    });
    return this.#material;
  }

  async #prepare(): Promise<Material> {
    let pair = this.#given;
    if (pair === undefined) {
      // Non-extractable: the private key can sign, and nothing can read it.
      pair = (await subtle().generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair;
    }
    const alg = this.algorithm;
    const exported = (await subtle().exportKey("jwk", pair.publicKey)) as Record<string, unknown>;
    const members = JWK_MEMBERS[String(exported.kty)];
    if (members === undefined) throw new ConfigError(`the DPoP public key exports as kty ${String(exported.kty)}`);
    // Only the public members: a JWK export also carries key_ops and ext.
    const jwk: PublicJwk = {};
    for (const member of members) {
      const value = exported[member];
      if (typeof value !== "string") throw new ConfigError(`the DPoP public key's JWK lacks ${member}`);
      jwk[member] = value;
    }
    const thumbprint = base64url(await subtle().digest("SHA-256", utf8(JSON.stringify(jwk))));
    const header = base64url(utf8(JSON.stringify({ typ: "dpop+jwt", alg, jwk })));
    return { alg, privateKey: pair.privateKey, header, thumbprint };
  }

  toString(): string {
    return `DPoPKey { algorithm: ${this.algorithm}, privateKey: ${REDACTED} }`;
  }

  toJSON(): { algorithm: DPoPAlgorithm; privateKey: string } {
    return { algorithm: this.algorithm, privateKey: REDACTED };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** The `dpop` option: `true` for a key made by the SDK, a key pair of the caller's, or a {@link DPoPKey}. */
export type DPoPOption = boolean | CryptoKeyPair | DPoPKey;

/** The key an option asks for, if any. @internal */
export function dpopKeyOf(option: DPoPOption | undefined): DPoPKey | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return new DPoPKey();
  if (option instanceof DPoPKey) return option;
  return new DPoPKey(option);
}
