/**
 * `@casebook/sdk/node`: credentials read from files, for Node. The main
 * entry imports nothing from Node, so that it runs in browsers too; what
 * needs the file system is here.
 *
 * ```js
 * import { Client } from "@casebook/sdk";
 * import { federatedTokenFile, clientSecretFile } from "@casebook/sdk/node";
 *
 * // A secret a Kubernetes Secret mounts: read again after an invalid_client,
 * // so a rotated secret is picked up without a restart.
 * const casebook = new Client({ baseUrl, clientId, clientSecret: clientSecretFile("/var/run/secrets/casebook/client-secret") });
 * // A workload's projected service-account token, read for every token request.
 * const workload = new Client({ baseUrl, clientId, federatedToken: federatedTokenFile("/var/run/secrets/tokens/casebook") });
 * ```
 */

import { open, readFile } from "node:fs/promises";
import { ClientSecret, CredentialError, PrivateKey } from "../index.js";
import type { CredentialReader, PrivateKeyOptions } from "../index.js";

/** A projected service-account token is a few kilobytes; anything far larger is the wrong file. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;
/** A client secret is 54 characters; a file far larger is not one. */
const MAX_SECRET_FILE_BYTES = 4 * 1024;

/** The file's text, at most `limit` bytes, or a {@link CredentialError} that names the file and never its contents. */
async function readBounded(path: string, what: string, limit: number): Promise<string> {
  let raw: Buffer;
  try {
    const file = await open(path, "r");
    try {
      const buffer = Buffer.alloc(limit + 1);
      const { bytesRead } = await file.read(buffer, 0, limit + 1, 0);
      raw = buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    throw new CredentialError(`the ${what} file ${path} cannot be read${typeof code === "string" ? ` (${code})` : ""}`, { cause: error });
  }
  if (raw.length > limit) throw new CredentialError(`the ${what} file ${path} is larger than ${limit / 1024} KiB, too large for a ${what}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new CredentialError(`the ${what} file ${path} is not UTF-8 text`);
  }
  const trimmed = text.trim();
  if (trimmed === "") throw new CredentialError(`the ${what} file ${path} is empty`);
  return trimmed;
}

/** A reader whose `String()` names what it reads, never its contents. */
function named<T>(read: () => Promise<T>, description: string): CredentialReader<T> {
  return Object.assign(read, { toString: () => description });
}

/**
 * The client secret in the file at `path` (a Kubernetes Secret's key, a
 * vault agent's file), as the `clientSecret` option: read when the first
 * token is needed, and again after the token endpoint answers
 * `invalid_client`, once, so that a secret rotated under a running
 * process is used from the next token request on. Surrounding whitespace
 * (the file's last newline) is dropped.
 */
export function clientSecretFile(path: string): CredentialReader<ClientSecret> {
  return named(async () => new ClientSecret(await readBounded(path, "client secret", MAX_SECRET_FILE_BYTES)), `clientSecretFile(${path})`);
}

/**
 * The token in the file at `path`, as the `federatedToken` option: a
 * Kubernetes projected service-account token, a CI job's OIDC token. Read
 * afresh for every token request, since the platform rotates it; at most
 * 64 KiB, one token, surrounding whitespace dropped. A missing or empty
 * file is a transient {@link CredentialError}, retried as a refused
 * connection is.
 */
export function federatedTokenFile(path: string): CredentialReader<string> {
  return named(async () => {
    const token = await readBounded(path, "federated token", MAX_TOKEN_FILE_BYTES);
    if (/\s/.test(token)) throw new CredentialError(`the federated token file ${path} holds more than one token`);
    return token;
  }, `federatedTokenFile(${path})`);
}

/**
 * A `private_key_jwt` key from a file: a private JWK (its `kid` inside),
 * or a PKCS#8 PEM, which takes `kid`.
 */
export async function privateKeyFile(path: string, kid?: string, options: PrivateKeyOptions = {}): Promise<PrivateKey> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    throw new CredentialError(`the private key file ${path} cannot be read${typeof code === "string" ? ` (${code})` : ""}`, { cause: error });
  }
  if (text.trimStart().startsWith("{")) {
    let jwk: Record<string, unknown>;
    try {
      jwk = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // The parser's message may quote the key: say only where.
      throw new CredentialError(`the private key file ${path} is not JSON`);
    }
    return PrivateKey.fromJwk(kid === undefined ? jwk : { ...jwk, kid }, options);
  }
  if (kid === undefined) throw new CredentialError(`the PEM key in ${path} needs a kid: privateKeyFile(path, kid)`);
  return PrivateKey.fromPem(text, kid, options);
}
