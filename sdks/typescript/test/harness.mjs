// Starts the real casebook server for a test file: a free port, a temporary
// SQLite database, a known administrator; signs in and registers
// applications the way README.md's "The whole flow with curl" does.

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPO = resolve(PACKAGE, "../..");

export const ADMIN_EMAIL = "sdk-admin@agency.example.org";
export const ADMIN_PASSWORD = `typescript sdk test password ${process.pid}`;

export function serverBinary() {
  if (process.env.CASEBOOK_BIN) return resolve(process.env.CASEBOOK_BIN);
  const target = process.env.CARGO_TARGET_DIR ? resolve(REPO, process.env.CARGO_TARGET_DIR) : join(REPO, "target");
  return join(target, "debug", "casebook");
}

function freePort() {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => ok(port));
    });
  });
}

/** Starts a server and waits until `/readyz` answers; `stop()` ends it and removes its files. */
export async function startServer({ env = {} } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "casebook-sdk-ts-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(serverBinary(), ["serve"], {
    env: {
      ...process.env,
      CASEBOOK_ADDR: `127.0.0.1:${port}`,
      CASEBOOK_PUBLIC_URL: url,
      CASEBOOK_DATABASE_URL: `sqlite://${dir}/casebook.db`,
      CASEBOOK_ADMIN_EMAIL: ADMIN_EMAIL,
      CASEBOOK_ADMIN_PASSWORD: ADMIN_PASSWORD,
      CASEBOOK_LOG: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 12_000);
    await exited;
    clearTimeout(killer);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`the server exited before it was ready:\n${log}`);
    }
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the server was not ready within 30 s:\n${log}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return { url, stop, log: () => log };
}

/** A JSON call with plain fetch, as a session or application `token`; throws on an error status. */
export async function call(url, method, path, { token, body } = {}) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Signs the administrator in with plain fetch; the session token. */
export async function adminSession(url) {
  const session = await call(url, "POST", "/admin/v1/sessions", {
    body: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
  });
  return session.token;
}

let registered = 0;

/**
 * Registers an application with `roles` (and the registration's `fields`,
 * e.g. `{ dpop_bound_access_tokens: true }`) and reveals its secret:
 * `{ id, clientId, clientSecret }`.
 */
export async function registerApplication(url, session, roles, fields = {}) {
  registered += 1;
  const name = `SDK test ${process.pid}-${registered}`;
  const app = await call(url, "POST", "/admin/v1/external-applications", {
    token: session,
    body: { name, email: `sdk-${process.pid}-${registered}@partner.example.org`, roles, ...fields },
  });
  const revealed = await call(url, "POST", `/admin/v1/external-applications/${app.id}/client-secret/reveal`, {
    token: session,
    body: { password: ADMIN_PASSWORD },
  });
  return { id: app.id, clientId: app.client_id, clientSecret: revealed.client_secret };
}

/** The role ids of the catalog. */
export async function roleIds(url, session) {
  const roles = await call(url, "GET", "/admin/v1/roles?limit=100", { token: session });
  return roles.items.map((r) => r.id);
}

/** One sample of the server's `/metrics`, by exact metric name and labels (0 when absent). */
export async function metric(url, name, labels = {}) {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const sample = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => sample[k] === v)) total += Number(match[3]);
  }
  return total;
}

/** The number of access tokens the server has issued so far. */
export function tokensIssued(url) {
  return metric(url, "casebook_access_tokens_issued_total");
}

/** Revokes an access token at the server (RFC 7009), as the application itself. */
export async function revoke(url, app, token) {
  const r = await fetch(`${url}/oauth2/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, client_id: app.clientId, client_secret: app.clientSecret }),
  });
  if (!r.ok) throw new Error(`revoke: HTTP ${r.status} ${await r.text()}`);
}

/** Polls `probe` until it returns something truthy, which it returns; fails after `ms`. */
export async function eventually(probe, ms = 3_000, what = "the condition") {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((ok) => setTimeout(ok, 10));
  }
}

/** `promise`'s value, or `onTimeout` when it takes longer than `ms`. */
export async function within(promise, ms, onTimeout = "timed out") {
  let timer;
  const late = new Promise((ok) => (timer = setTimeout(() => ok(onTimeout), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
