// The TypeScript SDK in a real browser: its built ES modules (sdks/typescript/
// dist) loaded by a page of the server's own origin, so the calls are the
// same-origin ones a console or intranet page would make. The test serves
// the page and the modules by intercepting their paths; everything else
// reaches the live server. Nothing of Node is there: only the browser's
// fetch, URL and Web Crypto, so a Node-only API in the SDK fails here.
import { readFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, base, WIDTHS, open, step, finish, adminToken, adminPassword, call } from "./harness.mjs";

const DIST = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "sdks", "typescript", "dist");
const PREFIX = "/sdk-under-test/";

await finish(async () => {
  const token = await adminToken();
  const roles = await call(token, "GET", "/admin/v1/roles?limit=100");
  const worker = roles.items.find((r) => r.permissions.includes("engage:create") && !r.permissions.includes("engage:delete"));
  assert.ok(worker, "a role that opens cases and cannot remove them");
  const app = await call(token, "POST", "/admin/v1/external-applications", {
    name: "Browser Partner",
    email: "browser-partner@partner.example.org",
    roles: [worker.id],
  });
  const revealed = await call(token, "POST", `/admin/v1/external-applications/${app.id}/client-secret/reveal`, { password: adminPassword });

  const { page } = await open(WIDTHS[0]);
  await page.route(`${base}${PREFIX}**`, async (route) => {
    const path = normalize(new URL(route.request().url()).pathname.slice(PREFIX.length));
    if (path === "index.html") {
      return route.fulfill({ contentType: "text/html", body: "<!doctype html><html lang=en><title>SDK</title></html>" });
    }
    if (path.startsWith("..")) return route.fulfill({ status: 404, body: "" });
    try {
      return route.fulfill({ contentType: "text/javascript", body: await readFile(join(DIST, path)) });
    } catch {
      return route.fulfill({ status: 404, body: "" });
    }
  });
  await page.goto(`${base}${PREFIX}index.html`);

  await step("in a browser the SDK gets a token, calls the API, pages with an async iterator and keeps the secret out of strings", async () => {
    const seen = await page.evaluate(async ({ clientId, clientSecret }) => {
      const sdk = await import("/sdk-under-test/index.js");
      const client = new sdk.Client({ baseUrl: location.origin, clientId, clientSecret });
      const me = await client.me();
      const opened = [];
      for (const title of ["First from a browser", "Second from a browser"]) {
        opened.push((await client.cases.create({ title })).id);
      }
      const listed = [];
      for await (const c of client.cases.list({ limit: 1 })) listed.push(c.id);
      let refused = null;
      try {
        await client.cases.remove(opened[0]);
      } catch (e) {
        refused = { api: e instanceof sdk.ApiError, status: e.status };
      }
      let mistyped = null;
      try {
        const typo = clientSecret.slice(0, -1) + (clientSecret.endsWith("x") ? "y" : "x");
        await new sdk.Client({ baseUrl: location.origin, clientId, clientSecret: typo }).me();
      } catch (e) {
        mistyped = e.constructor.name;
      }
      return {
        me: { kind: me.kind, name: me.name, clientId: me.client_id, permissions: me.permissions },
        opened,
        listed,
        refused,
        mistyped,
        shown: `${client} ${JSON.stringify(client)} ${String(client.tokenSource)}`,
      };
    }, { clientId: revealed.client_id, clientSecret: revealed.client_secret });
    assert.deepEqual(seen.me, { kind: "application", name: "Browser Partner", clientId: revealed.client_id, permissions: worker.permissions });
    assert.deepEqual(seen.listed.filter((id) => seen.opened.includes(id)), seen.opened, "both cases, one page at a time");
    assert.deepEqual(seen.refused, { api: true, status: 403 }, "engage:delete is not granted");
    assert.equal(seen.mistyped, "MistypedSecretError", "a mistyped secret is caught before it is sent");
    assert.ok(!seen.shown.includes(revealed.client_secret), "the secret is in no string");
  });
});
