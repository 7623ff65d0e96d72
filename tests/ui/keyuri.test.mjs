// A private_key_jwt application whose keys are given as a JWKS URL: refused
// beside the field for a private address (the server's 422) and for an empty
// URL (in the browser, nothing sent), registered with a public-looking URL
// (registration fetches nothing), shown in the details, then switched to a
// pasted JWK Set and back by edit. By mouse at 1366 px and by keyboard alone
// at 390 px, with axe on every dialog and the details. One sign-in serves
// both widths: the admin account's sign-in budget is shared by every suite.
import { generateKeyPairSync } from "node:crypto";
import { assert, base, WIDTHS, open, step, check, signIn, tabTo, assertFocus, closed, noHorizontalScroll, finish, call } from "./harness.mjs";

const PUBLIC_URI = "https://keys.partner.example.org/jwks.json";
const ROTATED_URI = "https://keys.partner.example.org/2026/jwks.json";
const PRIVATE_URI = "https://10.0.0.1/jwks";

await finish(async () => {
  const { page } = await open(WIDTHS[0]);
  const sent = [];
  page.on("request", (r) => {
    if (["POST", "PATCH"].includes(r.method()) && /\/admin\/v1\/external-applications(\/[^/]+)?$/.test(new URL(r.url()).pathname)) {
      sent.push({ method: r.method(), body: r.postDataJSON() });
    }
  });
  await signIn(page);
  // The console's own session reads the applications back through the API.
  const token = await page.evaluate(() => sessionStorage.getItem("cb-session"));
  assert.ok(token, "the console holds a session");

  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const byKeyboard = w < 1000;
    const appName = `Fetched Keys Partner ${w}`;
    const jwk = { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }), kid: `fetched-${w}` };
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    await page.goto(`${base}/admin`);
    await page.waitForSelector("#applications:not([hidden])");
    const said = (text) => page.waitForFunction((t) => document.querySelector("#status").textContent.includes(t), text);
    const row = page.locator("#rows tr.app-row", { hasText: appName });
    const details = async () => page.locator(`#${await row.locator("button.expand").getAttribute("aria-controls")}`);
    const viewOf = async () => call(token, "GET", `/admin/v1/external-applications/${await row.getAttribute("data-id")}`);
    // Writes `text` into the field that has focus, as a keyboard would (pasted in one go).
    const typeHere = async (text) => { await page.keyboard.press("Control+A"); await page.keyboard.insertText(text); };
    const fill = async (selector, text) => {
      if (byKeyboard) { await tabTo(page, selector); await typeHere(text); } else await page.fill(selector, text);
    };
    const submit = async () => {
      if (byKeyboard) { await tabTo(page, "#app-form button[type=submit]"); await page.keyboard.press("Enter"); }
      else await page.click("#app-form button[type=submit]");
    };
    // Picks one of the "Public keys" radios; by keyboard, with an arrow key from the other one.
    const chooseKeys = async (which) => {
      const [from, to, arrow] = which === "uri" ? ["#f-keys-set", "#f-keys-uri", "ArrowDown"] : ["#f-keys-uri", "#f-keys-set", "ArrowUp"];
      if (byKeyboard) { await tabTo(page, from); await page.keyboard.press(arrow); } else await page.click(`label[for=${to.slice(1)}]`);
      assert.ok(await page.isChecked(to), `${to} is chosen`);
    };
    const openEdit = async () => {
      const edit = `button[aria-label="Edit ${appName}"]`;
      if (byKeyboard) { await tabTo(page, edit, { max: 120 }); await page.keyboard.press("Enter"); } else await page.click(edit);
      await page.waitForSelector("#app-dialog[open]");
      await assertFocus(page, "#f-name", "the edit dialog opens on Application name");
    };

    await step(`[${w}] Private key JWT by JWKS URL: an empty URL is caught with nothing sent, a private address is refused by the server beside the field`, async () => {
      if (byKeyboard) { await tabTo(page, "#new", { max: 120 }); await page.keyboard.press("Enter"); } else await page.click("#new");
      await page.waitForSelector("#app-dialog[open]");
      await assertFocus(page, "#f-name", "New Application opens on Application name");
      if (byKeyboard) await page.keyboard.type(appName); else await page.fill("#f-name", appName);
      await fill("#f-email", `fetched-keys-${w}@partner.example.org`);
      const worker = await page.getAttribute("#f-roles-list label:has-text('Engage Worker')", "for");
      if (byKeyboard) { await tabTo(page, `#${worker}`); await page.keyboard.press("Space"); } else await page.check("#f-roles-list label:has-text('Engage Worker')");
      assert.ok(await page.isHidden("#f-keys"), "no choice of keys for a client secret");
      if (byKeyboard) { await tabTo(page, "#f-auth-secret"); await page.keyboard.press("ArrowDown"); } else await page.click("label[for=f-auth-jwt]");
      assert.ok(await page.isChecked("#f-auth-jwt"));
      assert.ok(await page.isChecked("#f-keys-set"), "a pasted JWK Set is the default");
      assert.ok(await page.isHidden("#f-jwks-uri"), "the URL field shows only when chosen");
      await chooseKeys("uri");
      assert.ok(await page.isHidden("#f-jwks"), "the JWK Set hides when a URL is chosen");
      assert.match(await page.getAttribute("#f-jwks-uri", "aria-describedby"), /f-jwks-uri-hint.*f-jwks-uri-error/);
      if (byKeyboard) {
        await page.keyboard.press("Tab");
        await assertFocus(page, "#f-jwks-uri", "Tab from the choice of keys reaches the URL");
      }
      sent.length = 0;
      await submit();
      await page.waitForFunction(() => document.querySelector("#f-jwks-uri-error").textContent.length > 0);
      assert.equal(await page.textContent("#f-jwks-uri-error"), "Give the address where the application publishes its keys, or choose JWK Set and paste them.");
      await assertFocus(page, "#f-jwks-uri", "the empty URL is focused");
      await page.waitForTimeout(200);
      assert.equal(sent.length, 0, "nothing sent without keys");

      if (byKeyboard) await typeHere(PRIVATE_URI); else await page.fill("#f-jwks-uri", PRIVATE_URI);
      assert.equal(await page.getAttribute("#f-jwks-uri", "aria-invalid"), null, "the error clears on change");
      await submit();
      await page.waitForFunction(() => /10\.0\.0\.1/.test(document.querySelector("#f-jwks-uri-error").textContent));
      assert.equal(sent.length, 1, "sent once, to the server that refuses it");
      assert.equal(sent[0].body.jwks_uri, PRIVATE_URI);
      assert.equal(sent[0].body.token_endpoint_auth_method, "private_key_jwt");
      assert.ok(!("jwks" in sent[0].body), "a URL is sent without a JWK Set");
      assert.equal(await page.textContent("#f-jwks-uri-error"),
        "JWKS URL names 10.0.0.1, an address on a loopback or private network: Casebook fetches keys from public addresses only.");
      assert.equal(await page.getAttribute("#f-jwks-uri", "aria-invalid"), "true");
      assert.match(await page.textContent("#app-summary"), /^1 problem to fix/);
      await assertFocus(page, "#f-jwks-uri", "the refused URL is focused");
      assert.ok(await page.isVisible("#app-dialog[open]"), "nothing registered: the form stays open");
      await noHorizontalScroll(page, "JWKS URL refused");
      await check(page, viewport, "keyuri-private-address");
    });

    await step(`[${w}] a public JWKS URL registers, and the details say where the keys are fetched from`, async () => {
      if (byKeyboard) { await tabTo(page, "#f-jwks-uri", { back: true }); await typeHere(PUBLIC_URI); } else await page.fill("#f-jwks-uri", PUBLIC_URI);
      await submit();
      await closed(page, "app-dialog");
      await said(`Application ${appName} registered`);
      await assertFocus(page, `button.expand[aria-label$="${appName}"]`, "after Save focus is on the new application");
      assert.equal(await row.count(), 1, "registered once");
      const text = await (await details()).textContent();
      assert.match(text, /Client authentication\s*Private key JWT/);
      assert.ok(text.includes(`Keys fetched from ${PUBLIC_URI}`), `the details name the URL: ${text}`);
      assert.doesNotMatch(text, /kid /, "no inline keys listed");
      assert.equal(await page.locator(`button[aria-label="Reveal client secret of ${appName}"]`).count(), 0, "no key icon");
      const view = await viewOf();
      assert.equal(view.jwks_uri, PUBLIC_URI);
      assert.equal(view.jwks, null);
      await noHorizontalScroll(page, "details with a JWKS URL");
      await check(page, viewport, "keyuri-details");
    });

    await step(`[${w}] edit shows the URL; switching to a pasted JWK Set replaces it`, async () => {
      await openEdit();
      assert.ok(await page.isChecked("#f-auth-jwt"));
      assert.ok(await page.isChecked("#f-keys-uri"), "the URL is the chosen kind of keys");
      assert.equal(await page.inputValue("#f-jwks-uri"), PUBLIC_URI);
      assert.ok(await page.isHidden("#f-jwks"));
      await check(page, viewport, "keyuri-edit-url");
      await chooseKeys("set");
      assert.ok(await page.isHidden("#f-jwks-uri"));
      assert.equal(await page.inputValue("#f-jwks"), "", "no keys to show for an application whose keys are fetched");
      await fill("#f-jwks", JSON.stringify({ keys: [jwk] }, null, 2));
      sent.length = 0;
      await submit();
      await closed(page, "app-dialog");
      await said(`Application ${appName} saved.`);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].method, "PATCH");
      assert.deepEqual(sent[0].body.jwks, { keys: [jwk] });
      assert.ok(!("jwks_uri" in sent[0].body), "a JWK Set is sent without a URL");
      const text = await (await details()).textContent();
      assert.match(text, new RegExp(`kid fetched-${w}, type EC P-256`));
      assert.ok(!text.includes("Keys fetched from"), "the URL is gone from the details");
      const view = await viewOf();
      assert.equal(view.jwks_uri, null);
      assert.equal(view.jwks.keys[0].kid, `fetched-${w}`);
      await check(page, viewport, "keyuri-switched-to-set");
    });

    await step(`[${w}] edit back to a JWKS URL replaces the JWK Set`, async () => {
      await openEdit();
      assert.ok(await page.isChecked("#f-keys-set"), "the pasted JWK Set is the chosen kind of keys");
      assert.equal(JSON.parse(await page.inputValue("#f-jwks")).keys[0].kid, `fetched-${w}`);
      await chooseKeys("uri");
      assert.equal(await page.inputValue("#f-jwks-uri"), "");
      await fill("#f-jwks-uri", ROTATED_URI);
      sent.length = 0;
      await submit();
      await closed(page, "app-dialog");
      await said(`Application ${appName} saved.`);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].body.jwks_uri, ROTATED_URI);
      assert.ok(!("jwks" in sent[0].body));
      const text = await (await details()).textContent();
      assert.ok(text.includes(`Keys fetched from ${ROTATED_URI}`), `the details name the new URL: ${text}`);
      assert.doesNotMatch(text, /kid fetched-/);
      const view = await viewOf();
      assert.equal(view.jwks_uri, ROTATED_URI);
      assert.equal(view.jwks, null);
      await noHorizontalScroll(page, "details with the new JWKS URL");
      await check(page, viewport, "keyuri-switched-to-url");
    });
  }
});
