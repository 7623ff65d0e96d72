/**
 * `private_key_jwt` (RFC 7523 §2.2, with draft-ietf-oauth-rfc7523bis's
 * single audience): the application holds a private key instead of a
 * secret, and every token request carries a fresh JWT signed with it.
 * WebCrypto alone, so it works in browsers and Node alike.
 */

import { ConfigError } from "./errors.js";
import { JWK_MEMBERS, SIGN_PARAMS, algorithmOf, base64url, isAlgorithm, subtle, utf8 } from "./dpop.js";
import { randomBytes } from "./http.js";

/** The JWS algorithms an assertion is signed with: those Casebook verifies. */
export type AssertionAlgorithm = "ES256" | "RS256" | "PS256" | "EdDSA";

/** How long an assertion is good for: long enough for a slow network, well within the server's five minutes. */
export const ASSERTION_LIFETIME_SECONDS = 60;

/** `client_assertion_type` of a JWT assertion (RFC 7523 §2.2). */
export const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** The WebCrypto import parameters of each algorithm. */
const IMPORT_PARAMS: Record<AssertionAlgorithm, EcKeyImportParams | RsaHashedImportParams | Algorithm> = {
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
  EdDSA: { name: "Ed25519" },
};

/** The members of a private JWK, by key type. */
const PRIVATE_MEMBERS: Record<string, readonly string[]> = {
  EC: ["crv", "kty", "x", "y", "d"],
  RSA: ["e", "kty", "n", "d", "p", "q", "dp", "dq", "qi"],
  OKP: ["crv", "kty", "x", "d"],
};

type Jwk = Record<string, unknown>;

/** The algorithms a JWK's key type and curve sign with; the first is the default. */
function algorithmsOf(jwk: Jwk): readonly AssertionAlgorithm[] {
  if (jwk.kty === "EC" && jwk.crv === "P-256") return ["ES256"];
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return ["EdDSA"];
  if (jwk.kty === "RSA") return ["RS256", "PS256"];
  throw new ConfigError(
    `the key is kty ${JSON.stringify(jwk.kty)}${jwk.crv ? ` on ${JSON.stringify(jwk.crv)}` : ""}: ` +
      "an assertion key is RSA (RS256, PS256), EC on P-256 (ES256) or OKP on Ed25519 (EdDSA)",
  );
}

function checkedKid(kid: unknown): string {
  if (typeof kid !== "string" || kid === "" || /[\u0000-\u001f\u007f-\u009f]/.test(kid)) {
    throw new ConfigError("the key's kid is missing, empty or holds control characters: it names the public key the application registered");
  }
  return kid;
}

/** The public half of a JWK, with its kid, `use` and (when named) its algorithm, as the server registers it. */
function publicOf(jwk: Jwk, kid: string, alg: AssertionAlgorithm | undefined): Record<string, string> {
  const members = JWK_MEMBERS[String(jwk.kty)];
  if (members === undefined) throw new ConfigError(`the key exports as kty ${String(jwk.kty)}`);
  const out: Record<string, string> = {};
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== "string") throw new ConfigError(`the key's JWK lacks ${member}`);
    out[member] = value;
  }
  out.kid = kid;
  out.use = "sig";
  if (alg !== undefined) out.alg = alg;
  return out;
}

/** What the options of {@link PrivateKey.fromJwk} and {@link PrivateKey.fromPem} may add. */
export interface PrivateKeyOptions {
  /**
   * The algorithm to sign with. An RSA key signs RS256 unless told PS256;
   * the others have one each. A JWK whose `alg` names one signs with that
   * one only.
   */
  algorithm?: AssertionAlgorithm;
}

/**
 * The private key of an application registered for `private_key_jwt`, with
 * the `kid` of its public half in the application's JWK Set. Read it from a
 * private JWK ({@link fromJwk}) or a PKCS#8 PEM ({@link fromPem}), take a
 * WebCrypto key ({@link fromCryptoKey}), or make a new one
 * ({@link generate}); {@link publicJwk} is what to register.
 *
 * The private key is imported non-extractable: nothing, this SDK
 * included, can read it back. `String()`, `JSON.stringify` and
 * `util.inspect` show its kid and algorithm only.
 */
export class PrivateKey {
  /** The `kid` assertions are signed under: its public key's in the application's JWK Set. */
  readonly kid: string;
  /** The algorithm its assertions are signed with. */
  readonly algorithm: AssertionAlgorithm;
  readonly #key: CryptoKey;
  readonly #public: Record<string, string> | undefined;

  /** @internal */
  constructor(key: CryptoKey, kid: string, algorithm: AssertionAlgorithm, publicJwk: Record<string, string> | undefined) {
    this.#key = key;
    this.kid = kid;
    this.algorithm = algorithm;
    this.#public = publicJwk;
  }

  /**
   * A private JWK (RFC 7517, RFC 7518 §6, RFC 8037), as an object or JSON:
   * `RSA` with every CRT member, `EC` on `P-256`, or `OKP` on `Ed25519`.
   * Its `kid` is required; its `alg`, when present, is the only algorithm
   * it signs with.
   */
  static async fromJwk(jwk: JsonWebKey | Jwk | string, options: PrivateKeyOptions = {}): Promise<PrivateKey> {
    let parsed: unknown = jwk;
    if (typeof jwk === "string") {
      try {
        parsed = JSON.parse(jwk);
      } catch {
        throw new ConfigError("the JWK is not JSON");
      }
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ConfigError("the JWK is not a JSON object");
    const given = parsed as Jwk;
    const kid = checkedKid(given.kid);
    if (given.d === undefined) throw new ConfigError(`the JWK ${JSON.stringify(kid)} is a public key: a private one signs`);
    const possible = algorithmsOf(given);
    let named: AssertionAlgorithm | undefined;
    if (given.alg !== undefined) {
      if (typeof given.alg !== "string" || !isAlgorithm(given.alg) || !possible.includes(given.alg)) {
        throw new ConfigError(`the JWK's alg ${JSON.stringify(given.alg)} is not one its key signs with`);
      }
      named = given.alg;
    }
    if (named !== undefined && options.algorithm !== undefined && options.algorithm !== named) {
      throw new ConfigError(`the key ${JSON.stringify(kid)} is for ${named} only, not ${options.algorithm}`);
    }
    const algorithm = options.algorithm ?? named ?? (possible[0] as AssertionAlgorithm);
    if (!possible.includes(algorithm)) throw new ConfigError(`a ${String(given.kty)} key does not sign ${algorithm}`);
    // Only the key's own members: `alg`, `use` or `key_ops` would bind the
    // import to what WebCrypto makes of them.
    const members = PRIVATE_MEMBERS[String(given.kty)] ?? [];
    const material: Jwk = {};
    for (const member of members) {
      if (typeof given[member] !== "string") throw new ConfigError(`the JWK ${JSON.stringify(kid)} lacks ${member}`);
      material[member] = given[member];
    }
    let key: CryptoKey;
    try {
      key = await subtle().importKey("jwk", material as JsonWebKey, IMPORT_PARAMS[algorithm], false, ["sign"]);
    } catch (cause) {
      throw new ConfigError(`the JWK ${JSON.stringify(kid)} is not a usable ${algorithm} private key (${(cause as Error)?.message ?? cause})`);
    }
    checkRsaSize(key);
    return new PrivateKey(key, kid, algorithm, publicOf(given, kid, named));
  }

  /**
   * An unencrypted PKCS#8 PEM private key (`BEGIN PRIVATE KEY`, as
   * `openssl genpkey` writes for RSA, P-256 and Ed25519); `kid` names its
   * public half in the application's JWK Set. Older PEM forms are refused
   * with the command that converts them.
   */
  static async fromPem(pem: string, kid: string, options: PrivateKeyOptions = {}): Promise<PrivateKey> {
    checkedKid(kid);
    const block = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
    if (block === null) throw new ConfigError("no PEM block found: a private key starts with -----BEGIN PRIVATE KEY-----");
    const label = block[1];
    if (label === "ENCRYPTED PRIVATE KEY") {
      throw new ConfigError("the PEM key is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt)");
    }
    if (label === "RSA PRIVATE KEY" || label === "EC PRIVATE KEY") {
      throw new ConfigError(`a ${label} PEM is an older form WebCrypto does not read: convert it with openssl pkcs8 -topk8 -nocrypt`);
    }
    if (label !== "PRIVATE KEY") throw new ConfigError(`the PEM block is ${label}, not a PRIVATE KEY`);
    let der: Uint8Array<ArrayBuffer>;
    try {
      der = Uint8Array.from(atob((block[2] ?? "").replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    } catch {
      throw new ConfigError("the PEM block is not base64");
    }
    const tried: readonly AssertionAlgorithm[] =
      options.algorithm !== undefined ? [options.algorithm] : ["EdDSA", "ES256", "RS256"];
    for (const algorithm of tried) {
      let extractable: CryptoKey;
      try {
        extractable = await subtle().importKey("pkcs8", der, IMPORT_PARAMS[algorithm], true, ["sign"]);
      } catch {
        continue;
      }
      // Exported once, for the public half and a non-extractable import.
      const jwk = (await subtle().exportKey("jwk", extractable)) as Jwk;
      return PrivateKey.fromJwk({ ...jwk, kid, alg: undefined, key_ops: undefined, ext: undefined }, { algorithm });
    }
    throw new ConfigError(
      options.algorithm !== undefined
        ? `the PEM key is not a ${options.algorithm} key`
        : "the PEM key is not an Ed25519, P-256 or RSA private key",
    );
  }

  /**
   * A WebCrypto key: a `CryptoKeyPair`, whose public key gives
   * {@link publicJwk}, or a private `CryptoKey` alone (then `publicJwk`
   * works only if it is extractable). Its algorithm is the key's: ECDSA on
   * P-256 (ES256), Ed25519 (EdDSA), RSASSA-PKCS1-v1_5 (RS256) or RSA-PSS
   * (PS256), with SHA-256.
   */
  static async fromCryptoKey(key: CryptoKey | CryptoKeyPair, kid: string): Promise<PrivateKey> {
    checkedKid(kid);
    const pair = (key as Partial<CryptoKeyPair>).privateKey !== undefined ? (key as CryptoKeyPair) : undefined;
    const privateKey = pair?.privateKey ?? (key as CryptoKey);
    if (privateKey?.type !== "private") throw new ConfigError("an assertion key is a private CryptoKey or a CryptoKeyPair");
    if (!privateKey.usages.includes("sign")) throw new ConfigError('the private key must allow "sign"');
    const algorithm = algorithmOf(privateKey);
    if (!isAlgorithm(algorithm)) throw new ConfigError(`the assertion key: ${algorithm}`);
    checkRsaSize(privateKey);
    let publicJwk: Record<string, string> | undefined;
    const exportable = pair?.publicKey?.extractable ? pair.publicKey : privateKey.extractable ? privateKey : undefined;
    if (exportable !== undefined) {
      publicJwk = publicOf((await subtle().exportKey("jwk", exportable)) as Jwk, kid, undefined);
    }
    return new PrivateKey(privateKey, kid, algorithm, publicJwk);
  }

  /**
   * A new key pair, its private key non-extractable: for a new
   * application, or for tests. Register {@link publicJwk}. The `kid` is the
   * public key's RFC 7638 thumbprint unless given.
   */
  static async generate(algorithm: AssertionAlgorithm = "ES256", kid?: string): Promise<PrivateKey> {
    const params =
      algorithm === "RS256" || algorithm === "PS256"
        ? { ...(IMPORT_PARAMS[algorithm] as RsaHashedImportParams), modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }
        : IMPORT_PARAMS[algorithm];
    const pair = (await subtle().generateKey(params, false, ["sign", "verify"])) as CryptoKeyPair;
    const exported = (await subtle().exportKey("jwk", pair.publicKey)) as Jwk;
    const members = JWK_MEMBERS[String(exported.kty)] ?? [];
    const canonical: Record<string, unknown> = {};
    for (const member of members) canonical[member] = exported[member];
    const name = kid ?? base64url(await subtle().digest("SHA-256", utf8(JSON.stringify(canonical))));
    return new PrivateKey(pair.privateKey, checkedKid(name), algorithm, publicOf(exported, name, algorithm));
  }

  /**
   * The public half as a JWK with its `kid` and `"use": "sig"` (and `alg`
   * when the key names one), to register in the application's `jwks`. A
   * {@link ConfigError} for a private `CryptoKey` given alone and not
   * extractable: give the key pair.
   */
  publicJwk(): Record<string, string> {
    if (this.#public === undefined) {
      throw new ConfigError("the public key is unknown: give fromCryptoKey the CryptoKeyPair, or an extractable key");
    }
    return { ...this.#public };
  }

  /**
   * A client assertion for `clientId` (RFC 7523 §3): `iss` and `sub` the
   * Client ID, `aud` the server's issuer identifier alone, `iat` now,
   * `exp` a minute on, a random `jti` (the server accepts each once).
   * Signed under {@link kid}. A {@link TokenSource} makes one for every
   * token request; this is for requests of your own.
   */
  async assertion(clientId: string, audience: string, nowSeconds: number = Math.floor(Date.now() / 1000)): Promise<string> {
    const header = { alg: this.algorithm, kid: this.kid, typ: "JWT" };
    const claims = {
      iss: clientId,
      sub: clientId,
      aud: audience,
      iat: nowSeconds,
      exp: nowSeconds + ASSERTION_LIFETIME_SECONDS,
      jti: base64url(randomBytes(16)),
    };
    const input = `${base64url(utf8(JSON.stringify(header)))}.${base64url(utf8(JSON.stringify(claims)))}`;
    const signature = await subtle().sign(SIGN_PARAMS[this.algorithm], this.#key, utf8(input));
    return `${input}.${base64url(signature)}`;
  }

  toString(): string {
    return `PrivateKey { kid: ${JSON.stringify(this.kid)}, algorithm: ${this.algorithm}, key: [redacted] }`;
  }

  toJSON(): { kid: string; algorithm: AssertionAlgorithm; key: string } {
    return { kid: this.kid, algorithm: this.algorithm, key: "[redacted]" };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** RSA keys under 2048 bits are refused by the server (weak_key): refused here before anything is sent. */
function checkRsaSize(key: CryptoKey): void {
  const bits = (key.algorithm as { modulusLength?: number }).modulusLength;
  if (bits !== undefined && bits < 2048) throw new ConfigError(`an RSA key of ${bits} bits is too short (2048 at least)`);
}

/**
 * The issuer identifier assertions are addressed to: a Casebook's is its
 * token URL less `/oauth2/token`, as its metadata's `issuer` says. For a
 * token URL shaped otherwise, the `audience` option names it. @internal
 */
export function issuerOf(tokenUrl: string): string {
  const path = "/oauth2/token";
  if (tokenUrl.endsWith(path) && !tokenUrl.slice(0, -path.length).endsWith("/")) return tokenUrl.slice(0, -path.length);
  throw new ConfigError(
    `${tokenUrl} does not end in ${path}, so the issuer identifier that assertions are addressed to ` +
      "cannot be told from it: set audience to the server's metadata `issuer`",
  );
}
