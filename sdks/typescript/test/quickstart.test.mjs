// examples/quickstart.mjs, run as a partner would, against the real server.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { adminSession, registerApplication, startServer } from "./harness.mjs";

const QUICKSTART = join(dirname(fileURLToPath(import.meta.url)), "..", "examples", "quickstart.mjs");
const run = promisify(execFile);

let server;
let app;
before(async () => {
  server = await startServer();
  app = await registerApplication(server.url, await adminSession(server.url), ["engage-supervisor"]);
});
after(() => server?.stop());

function quickstart(env) {
  const { CASEBOOK_URL, CASEBOOK_CLIENT_ID, CASEBOOK_CLIENT_SECRET, ...rest } = process.env;
  void CASEBOOK_URL, CASEBOOK_CLIENT_ID, CASEBOOK_CLIENT_SECRET;
  return run(process.execPath, [QUICKSTART], { env: { ...rest, ...env }, timeout: 30_000 });
}

test("the quickstart prints who the application is and its permissions", async () => {
  const { stdout } = await quickstart({
    CASEBOOK_URL: server.url,
    CASEBOOK_CLIENT_ID: app.clientId,
    CASEBOOK_CLIENT_SECRET: app.clientSecret,
  });
  const json = JSON.parse(stdout.slice(0, stdout.indexOf("\n}\n") + 2));
  assert.equal(json.client_id, app.clientId);
  assert.equal(json.kind, "application");
  assert.match(stdout, new RegExp(`\\(application\\) may:\\n  engage:view\\n  engage:create\\n  engage:edit\\n$`));
});

test("the quickstart explains a refused secret and a missing variable, and never prints the secret", async () => {
  // A well-formed but wrong secret needs a valid checksum: take another application's.
  const stranger = await registerApplication(server.url, await adminSession(server.url), ["engage-worker"]);
  await assert.rejects(
    quickstart({ CASEBOOK_URL: server.url, CASEBOOK_CLIENT_ID: app.clientId, CASEBOOK_CLIENT_SECRET: stranger.clientSecret }),
    (e) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr, /the Client ID or secret was refused/);
      assert.ok(!`${e.stdout}${e.stderr}`.includes(stranger.clientSecret));
      return true;
    },
  );
  await assert.rejects(quickstart({ CASEBOOK_URL: server.url, CASEBOOK_CLIENT_ID: app.clientId }), (e) => {
    assert.match(e.stderr, /set CASEBOOK_CLIENT_SECRET/);
    return true;
  });
  const typo = app.clientSecret.slice(0, -1) + (app.clientSecret.endsWith("a") ? "b" : "a");
  await assert.rejects(
    quickstart({ CASEBOOK_URL: server.url, CASEBOOK_CLIENT_ID: app.clientId, CASEBOOK_CLIENT_SECRET: typo }),
    (e) => {
      assert.match(e.stderr, /not one Casebook issued/);
      assert.ok(!e.stderr.includes(typo));
      return true;
    },
  );
});
