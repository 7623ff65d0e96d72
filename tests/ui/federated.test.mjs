// Federated credentials in an application's details: add one with a pasted
// public JWK, see it listed, see field errors (a private key and bad JSON
// refused in the browser with nothing sent, a blank subject refused by the
// server), and remove it after a confirmation that names it. By mouse at
// 1366 px and by keyboard alone at 390 px, with axe on the section and the
// dialogs.
import { generateKeyPairSync } from "node:crypto";
import { assert, base, WIDTHS, open, step, check, signIn, tabTo, assertFocus, closed, noHorizontalScroll, finish, adminToken, call, roleId } from "./harness.mjs";

const ISSUER = "https://token.actions.githubusercontent.com";

function keyPair(kid) {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const privateJwk = { ...privateKey.export({ format: "jwk" }), kid };
  const { d: _, ...publicJwk } = privateJwk;
  return { publicJwk, privateJwk };
}

await finish(async () => {
  const token = await adminToken();
  const worker = await roleId(token, "Engage Worker");
  const ourIssuer = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()).issuer;

  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const byKeyboard = w < 1000;
    const appName = `Federated Partner ${w}`;
    const credName = `exporter workflow ${w}`;
    const subject = `repo:partner/exporter:ref:refs/heads/main:${w}`;
    const { publicJwk, privateJwk } = keyPair(`gha-${w}`);
    const app = await call(token, "POST", "/admin/v1/external-applications", { name: appName, email: `federated-${w}@partner.example.org`, roles: [worker] });
    const { page } = await open(viewport);
    const posts = [];
    page.on("request", (r) => { if (r.method() === "POST" && r.url().endsWith("/federated-credentials")) posts.push(r.postDataJSON()); });
    const said = (text) => page.waitForFunction((t) => document.querySelector("#status").textContent.includes(t), text);
    const section = page.locator(`#details-${app.id} section.fed`);
    const item = section.locator("li.fed-item", { hasText: credName });
    const addLabel = `Add federated credential to ${appName}`;
    const removeLabel = `Remove federated credential ${credName} of ${appName}`;
    // Writes `text` into the field that has focus, as a keyboard would (pasted in one go).
    const typeHere = async (text) => { await page.keyboard.press("Control+A"); await page.keyboard.insertText(text); };
    const submit = async () => {
      if (byKeyboard) { await tabTo(page, "#fed-form button[type=submit]"); await page.keyboard.press("Enter"); }
      else await page.click("#fed-form button[type=submit]");
    };
    const fill = async (selector, text, back = false) => {
      if (byKeyboard) { await tabTo(page, selector, { back }); await typeHere(text); }
      else await page.fill(selector, text);
    };

    await step(`[${w}] the expanded application shows an empty Federated credentials section`, async () => {
      await signIn(page);
      if (byKeyboard) {
        await tabTo(page, "#q-name");
        await page.keyboard.type(appName);
        await page.keyboard.press("Enter");
        await page.waitForSelector(`button.expand[aria-label="Show details of ${appName}"]`);
        await tabTo(page, `button.expand[aria-label="Show details of ${appName}"]`);
        await page.keyboard.press("Enter");
      } else {
        await page.fill("#q-name", appName);
        await page.click("#search button[type=submit]");
        await page.click(`button.expand[aria-label="Show details of ${appName}"]`);
      }
      await section.getByText("None: this application trusts no outside identity.").waitFor();
      assert.equal(await section.locator("h2").textContent(), "Federated credentials");
      await noHorizontalScroll(page, "federated section");
      await check(page, viewport, "federated-empty");
    });

    await step(`[${w}] Add federated credential: a private JWK and bad claims JSON are refused beside their fields, with nothing sent`, async () => {
      if (byKeyboard) { await tabTo(page, `button[aria-label="${addLabel}"]`); await page.keyboard.press("Enter"); }
      else await page.click(`button[aria-label="${addLabel}"]`);
      await page.waitForSelector("#fed-dialog[open]");
      await assertFocus(page, "#fc-name", "the dialog opens on Name");
      assert.equal(await page.textContent("#fed-dialog-title"), addLabel);
      await page.waitForFunction((i) => document.querySelector("#fc-audience-hint").textContent.includes(i), ourIssuer);
      assert.ok(await page.isChecked("#fc-keys-set"), "a pasted JWK Set is the default");
      assert.ok(await page.isHidden("#fc-jwks-uri"), "the URL field shows only when chosen");
      await check(page, viewport, "federated-dialog");
      if (byKeyboard) {
        await page.keyboard.type(credName);
        await page.keyboard.press("Tab");
        await assertFocus(page, "#fc-issuer", "Tab from Name");
        await page.keyboard.type(ISSUER);
        await page.keyboard.press("Tab");
        await assertFocus(page, "#fc-subject", "Tab from Issuer");
        await page.keyboard.type(subject);
        await page.keyboard.press("Tab"); // Audience, left empty
        await page.keyboard.press("Tab");
        await assertFocus(page, "#fc-keys-set", "Tab from Audience reaches the choice of keys");
        await page.keyboard.press("Tab");
        await assertFocus(page, "#fc-jwks", "Tab from the choice reaches the JWK Set");
        await typeHere(JSON.stringify({ keys: [privateJwk] }));
        await page.keyboard.press("Tab");
        await assertFocus(page, "#fc-claims", "Tab from the JWK Set reaches Further claims");
        await page.keyboard.type('{"repository": ');
      } else {
        await page.fill("#fc-name", credName);
        await page.fill("#fc-issuer", ISSUER);
        await page.fill("#fc-subject", subject);
        await page.fill("#fc-jwks", JSON.stringify({ keys: [privateJwk] }, null, 2));
        await page.fill("#fc-claims", '{"repository": ');
      }
      await submit();
      await page.waitForFunction(() => document.querySelector("#fc-jwks-error").textContent.length > 0);
      assert.equal(await page.textContent("#fc-jwks-error"), "This key set contains private key material. Paste only the public keys.");
      assert.match(await page.textContent("#fc-claims-error"), /^This is not valid JSON/);
      assert.equal(await page.getAttribute("#fc-jwks", "aria-invalid"), "true");
      assert.equal(await page.getAttribute("#fc-claims", "aria-invalid"), "true");
      assert.match(await page.getAttribute("#fc-jwks", "aria-describedby"), /fc-jwks-error/);
      assert.match(await page.textContent("#fed-summary"), /^2 problems to fix/);
      await assertFocus(page, "#fc-jwks", "the first refused field is focused");
      await page.waitForTimeout(200);
      assert.equal(posts.length, 0, "a private key never leaves the browser");
      await noHorizontalScroll(page, "federated dialog with errors");
      await check(page, viewport, "federated-browser-errors");
    });

    await step(`[${w}] a JWKS URL left empty is caught in the browser; a blank subject is refused by the server beside its field`, async () => {
      if (byKeyboard) {
        await tabTo(page, "#fc-keys-set", { back: true });
        await page.keyboard.press("ArrowDown");
      } else await page.click("label[for=fc-keys-uri]");
      assert.ok(await page.isChecked("#fc-keys-uri"));
      assert.ok(await page.isHidden("#fc-jwks"), "the JWK Set hides when a URL is chosen");
      await submit();
      await page.waitForFunction(() => document.querySelector("#fc-jwks-uri-error").textContent.length > 0);
      assert.match(await page.textContent("#fc-jwks-uri-error"), /^Give the address where the issuer publishes its keys/);
      await assertFocus(page, "#fc-jwks-uri", "the empty URL is focused");
      assert.equal(posts.length, 0, "nothing sent without keys");
      if (byKeyboard) {
        await tabTo(page, "#fc-keys-uri", { back: true });
        await page.keyboard.press("ArrowUp");
      } else await page.click("label[for=fc-keys-set]");
      assert.ok(await page.isChecked("#fc-keys-set"));
      await fill("#fc-jwks", JSON.stringify({ keys: [publicJwk] }, null, 2));
      assert.equal(await page.getAttribute("#fc-jwks", "aria-invalid"), null, "the error clears on change");
      await fill("#fc-claims", JSON.stringify({ repository: "partner/exporter" }));
      await fill("#fc-subject", "   ", true);
      await submit();
      await page.waitForFunction(() => document.querySelector("#fc-subject-error").textContent.length > 0);
      assert.equal(posts.length, 1, "sent once, to the server that refuses it");
      assert.equal(posts[0].jwks.keys[0].d, undefined);
      assert.equal(await page.textContent("#fc-subject-error"), "Subject is required.");
      assert.equal(await page.getAttribute("#fc-subject", "aria-invalid"), "true");
      assert.match(await page.textContent("#fed-summary"), /^1 problem to fix/);
      await assertFocus(page, "#fc-subject", "the field the server refused is focused");
      await check(page, viewport, "federated-server-error");
    });

    await step(`[${w}] the credential is added and listed with its issuer, subject, default audience, claims and key`, async () => {
      if (byKeyboard) await typeHere(subject); else await page.fill("#fc-subject", subject);
      assert.equal(await page.getAttribute("#fc-subject", "aria-invalid"), null);
      await fill("#fc-lifetime", "3600");
      if (byKeyboard) { await tabTo(page, "#fc-single-use"); await page.keyboard.press("Space"); }
      else await page.click("label[for=fc-single-use]");
      assert.ok(await page.isChecked("#fc-single-use"));
      await submit();
      await closed(page, "fed-dialog");
      await said(`Federated credential ${credName} added to ${appName}`);
      assert.equal(posts.length, 2);
      await item.waitFor();
      await assertFocus(page, `#details-${app.id} li.fed-item h3`, "the new credential is focused");
      const text = await item.textContent();
      assert.equal(posts[1].max_token_lifetime_seconds, 3600);
      assert.equal(posts[1].single_use, true);
      for (const part of [ISSUER, subject, ourIssuer, 'repository = "partner/exporter"', `kid gha-${w} (EC P-256)`,
        "3600 s (exp − iat)", "Accepted once (by its jti)"]) {
        assert.ok(text.includes(part), `the listed credential shows ${part}: ${text}`);
      }
      assert.ok(await section.getByText("None: this application trusts no outside identity.").isHidden());
      const listed = await call(token, "GET", `/admin/v1/external-applications/${app.id}/federated-credentials`);
      assert.deepEqual(listed.items.map((c) => [c.name, c.subject, c.audience]), [[credName, subject, ourIssuer]]);
      await noHorizontalScroll(page, "federated credential listed");
      await check(page, viewport, "federated-listed");
    });

    await step(`[${w}] Remove asks first, naming the credential, then removes it`, async () => {
      if (byKeyboard) {
        await tabTo(page, `button[aria-label="${removeLabel}"]`);
        await page.keyboard.press("Enter");
      } else await page.click(`button[aria-label="${removeLabel}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-title"), `Remove federated credential ${credName}?`);
      assert.match(await page.textContent("#confirm-text"), new RegExp(`${ISSUER}.*${appName}`));
      await assertFocus(page, "#confirm-dialog .cancel", "Cancel is the safe first focus");
      await check(page, viewport, "federated-remove-confirm");
      if (byKeyboard) {
        await page.keyboard.press("Escape");
        await closed(page, "confirm-dialog");
        await assertFocus(page, `button[aria-label="${removeLabel}"]`, "Escape keeps the credential and returns to Remove");
        await page.keyboard.press("Enter");
        await page.waitForSelector("#confirm-dialog[open]");
        await page.keyboard.press("Tab");
        await assertFocus(page, "#confirm-ok", "Tab from Cancel");
        await page.keyboard.press("Enter");
      } else await page.click("#confirm-ok");
      await closed(page, "confirm-dialog");
      await said(`Federated credential ${credName} removed from ${appName}.`);
      await section.getByText("None: this application trusts no outside identity.").waitFor();
      assert.equal(await item.count(), 0);
      await assertFocus(page, `button[aria-label="${addLabel}"]`, "after removal focus is on Add federated credential");
      const listed = await call(token, "GET", `/admin/v1/external-applications/${app.id}/federated-credentials`);
      assert.deepEqual(listed.items, []);
      await check(page, viewport, "federated-removed");
    });
  }

  await step("an admin lacking the application's permissions reads which ones, beside the form, and nothing is added", async () => {
    const appName = "Federated Guarded";
    const app = await call(token, "POST", "/admin/v1/external-applications", { name: appName, email: "federated-guarded@partner.example.org", roles: [worker] });
    const editor = await call(token, "POST", "/admin/v1/roles", { name: "Integrations editor", permissions: ["admin:view", "admin:edit"] });
    const email = "integrations-editor@agency.example.org";
    const password = "integrations editor password";
    await call(token, "POST", "/admin/v1/users", { name: "Integrations Editor", email, password, roles: [editor.id] });
    const viewport = WIDTHS[0];
    const { page } = await open(viewport);
    await signIn(page, email, password);
    await page.fill("#q-name", appName);
    await page.click("#search button[type=submit]");
    await page.click(`button.expand[aria-label="Show details of ${appName}"]`);
    await page.click(`button[aria-label="Add federated credential to ${appName}"]`);
    await page.waitForSelector("#fed-dialog[open]");
    await page.fill("#fc-name", "guarded workflow");
    await page.fill("#fc-issuer", ISSUER);
    await page.fill("#fc-subject", "repo:partner/guarded:ref:refs/heads/main");
    await page.fill("#fc-jwks", JSON.stringify({ keys: [keyPair("guarded").publicJwk] }));
    await page.click("#fed-form button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#fed-error").textContent.length > 0);
    assert.match(await page.textContent("#fed-error"), new RegExp(`^Your account cannot change ${appName}: it holds permissions you lack \\(.*engage:view`));
    assert.ok(await page.isVisible("#fed-dialog[open]"), "the form stays open");
    await check(page, viewport, "federated-missing-permissions");
    const listed = await call(token, "GET", `/admin/v1/external-applications/${app.id}/federated-credentials`);
    assert.deepEqual(listed.items, []);
  });
});
