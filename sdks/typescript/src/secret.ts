/**
 * Client secrets: a wrapper that never shows its value, and the offline
 * format check that catches a mistyped secret before it is sent.
 *
 * The scannable format is `cbs_`, 44 random characters of `0-9A-Za-z`, then 6
 * more that write the CRC32 (IEEE) of everything before them in base 62. The
 * format issued before it, `cbs_` and 32 bytes in unpadded base64url, keeps
 * working.
 */

import { ConfigError } from "./errors.js";

const PREFIX = "cbs_";
const RANDOM_CHARS = 44;
const CHECKSUM_CHARS = 6;
const LEN = PREFIX.length + RANDOM_CHARS + CHECKSUM_CHARS;
const LEGACY_LEN = PREFIX.length + 43;
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** What a presented secret looks like, read offline. */
export type SecretShape =
  /** The scannable format with a checksum that holds. */
  | "scannable"
  /** The format issued before: only the server can tell whether it is right. */
  | "legacy"
  /** Neither: mistyped, truncated, or a checksum that fails. */
  | "mistyped";

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32 (IEEE 802.3, as zlib computes it) of ASCII text. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc = (CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The six base-62 digits that end a scannable secret whose first 48 characters are `body`. @internal */
export function checksum(body: string): string {
  let value = crc32(body);
  const digits: string[] = [];
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    digits.unshift(ALPHABET[value % 62] as string);
    value = Math.floor(value / 62);
  }
  return digits.join("");
}

/** Reads `raw` offline: whether it can be a secret Casebook issued. */
export function secretShape(raw: string): SecretShape {
  if (!raw.startsWith(PREFIX)) return "mistyped";
  const rest = raw.slice(PREFIX.length);
  if (raw.length === LEN && /^[0-9A-Za-z]+$/.test(rest)) {
    const body = raw.slice(0, LEN - CHECKSUM_CHARS);
    return checksum(body) === raw.slice(LEN - CHECKSUM_CHARS) ? "scannable" : "mistyped";
  }
  // 43 base64url characters carry 258 bits; only the encodings of exactly
  // 32 bytes leave the last character's two unused bits at zero.
  if (raw.length === LEGACY_LEN && /^[A-Za-z0-9_-]+$/.test(rest)) {
    return (BASE64URL.indexOf(rest[rest.length - 1] as string) & 3) === 0 ? "legacy" : "mistyped";
  }
  return "mistyped";
}

const REDACTED = "[redacted]";

/**
 * A client secret. Its value comes out only through {@link expose}: string
 * conversion, `JSON.stringify` and Node's `util.inspect` (hence
 * `console.log`) all show `[redacted]`.
 *
 * Whitespace around the value is dropped: a secret read from a file, an
 * environment variable or a Kubernetes Secret often ends in a newline,
 * which is no part of it (no secret Casebook issues holds whitespace).
 */
export class ClientSecret {
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== "string") throw new ConfigError("a client secret is a string");
    this.#value = value.trim();
  }

  /** The secret itself, to send to the token endpoint. Handle with care. */
  expose(): string {
    return this.#value;
  }

  /** Whether the secret has the shape of one Casebook issued. */
  get shape(): SecretShape {
    return secretShape(this.#value);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `ClientSecret ${REDACTED}`;
  }
}
