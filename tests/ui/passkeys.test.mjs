// Passkeys in the console, with Chromium's virtual authenticator (a
// platform authenticator that verifies its user and answers at once):
// an administrator adds a passkey under Your account (a cancelled prompt,
// the server's refusal at an IP address, a second passkey from the same
// device), signs in with password and passkey (by keyboard), shows, adds
// and rotates client secrets with it, and removes it; a person with an
// authenticator app is told at sign-in that they hold no passkey, and adds
// one with a code; an administrator whose agency requires a second factor
// enrols a passkey and is let through. Every new screen and dialog is
// checked by axe and photographed at 1366 and 390 px.
//
// Passkeys need the service at a domain name: the server runs with
// CASEBOOK_PUBLIC_URL=http://localhost:PORT and CASEBOOK_URL names the same
// address (.ci/ui.sh does both). Leaves the tenant's setting off.
import { createHmac } from "node:crypto";
import { assert, base, WIDTHS, open, step, check, noHorizontalScroll, assertFocus, tabTo, closed, finish, adminToken, call, roleId } from "./harness.mjs";

const [WIDE, NARROW] = WIDTHS;
const run = Date.now().toString(36);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- RFC 6238, as an authenticator app (for the person with one) ----
function fromBase32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0; let value = 0; const out = [];
  for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
    value = ((value << 5) | alphabet.indexOf(c)) & 0xffff; bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}
function totpAt(secret, stepNumber) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(stepNumber));
  const h = createHmac("sha1", fromBase32(secret)).update(counter).digest();
  const o = h[19] & 0xf;
  const n = (((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1_000_000;
  return String(n).padStart(6, "0");
}
async function freshCode(person) {
  for (;;) {
    const now = Math.floor(Date.now() / 30000);
    const wanted = Math.max(now, person.lastStep + 1);
    if (wanted <= now + 1) { person.lastStep = wanted; return totpAt(person.secret, wanted); }
    await sleep((now + 1) * 30000 - Date.now() + 250);
  }
}

// Axe and a photo at both widths, on one page; at 390 px nothing may
// scroll sideways.
async function both(page, name, at) {
  const show = async () => { if (at) await page.locator(at).first().scrollIntoViewIfNeeded(); };
  await show();
  await check(page, WIDE, name);
  await page.setViewportSize({ width: NARROW.width, height: NARROW.height });
  await show();
  await noHorizontalScroll(page, `${name} at ${NARROW.width}px`);
  await check(page, NARROW, name);
  await page.setViewportSize({ width: WIDE.width, height: WIDE.height });
  await show();
}
const said = (page, text) => page.waitForFunction((t) => document.querySelector("#status").textContent.includes(t), text);
const textOf = (page, id) => page.waitForFunction((i) => document.getElementById(i).textContent.length > 0, id).then(() => page.textContent("#" + id));

// The server's own sentence when it is at an IP address (second_factor.rs).
const AT_AN_IP = "passkeys need the service at a domain name (CASEBOOK_PUBLIC_URL): browsers refuse them at an IP address";

await finish(async () => {
  assert.ok(/^http:\/\/localhost:\d+$/.test(base), `CASEBOOK_URL must be http://localhost:PORT (browsers refuse passkeys at an IP address); it is ${base}`);
  const token = await adminToken();
  const administrator = await roleId(token, "Administrator");
  const worker = await roleId(token, "Engage Worker");
  const person = (who, name) => ({ name, email: `${who}-${run}@agency.example.org`, password: `${who} keeps a long passphrase ${run}`, secret: null, lastStep: -1, codes: [] });
  const pia = person("pia", `Pia Passkey ${run}`);
  const quinn = person("quinn", `Quinn Both ${run}`);
  const rae = person("rae", `Rae Required ${run}`);
  for (const p of [pia, quinn, rae]) {
    p.id = (await call(token, "POST", "/admin/v1/users", { name: p.name, email: p.email, password: p.password, roles: [administrator] })).id;
  }
  // Quinn's authenticator app, through the API (the sign-in suite sets one up in the console).
  const quinnToken = await adminToken(quinn.email, quinn.password);
  quinn.secret = (await call(quinnToken, "POST", "/admin/v1/users/me/totp", { password: quinn.password })).secret;
  quinn.codes = (await call(quinnToken, "POST", "/admin/v1/users/me/totp/confirm", { code: await freshCode(quinn) })).recovery_codes;
  const appName = `Passkey Partner ${run}`;
  const app = await call(token, "POST", "/admin/v1/external-applications", { name: appName, email: `passkey-${run}@partner.example.org`, roles: [worker] });

  const { context, page } = await open(WIDE);
  // Chromium's virtual authenticator, on this page's target: a platform
  // authenticator with resident keys that verifies its user.
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  const credentials = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
  const userVerified = (yes) => cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: yes });

  const signInAs = async (p, { expectSecondStep = false } = {}) => {
    if (!(await page.isVisible("#signin"))) await page.goto(`${base}/admin`);
    await page.waitForSelector("#signin:not([hidden])");
    await page.fill("#si-email", p.email);
    await page.fill("#si-password", p.password);
    await page.click("#signin button[type=submit]");
    await page.waitForSelector(expectSecondStep ? "#mfa:not([hidden])" : "#nav:not([hidden])");
  };
  const signOut = async () => {
    await page.click("#signout");
    await page.waitForSelector("#signin:not([hidden])");
  };
  const toAccount = async () => {
    await page.click('#nav a[data-screen="account"]');
    await page.waitForSelector("#account:not([hidden])");
    await page.waitForSelector("#pk-loading", { state: "hidden" });
  };
  const factorsOf = async (p) => (await call(token, "GET", `/admin/v1/users/${p.id}`)).second_factors.slice().sort();
  const findApp = async () => {
    await page.click('#nav a[data-screen="applications"]');
    await page.fill("#q-name", appName);
    await page.click("#search button[type=submit]");
    await page.waitForSelector(`button[aria-label="Reveal client secret of ${appName}"]`);
  };
  let settingOn = false;

  try {
    await step("Your account: 2-step verification is off, with no passkeys yet and Add passkey", async () => {
      await signInAs(pia);
      await toAccount();
      assert.match(await page.textContent("#tfa-state"), /Off/);
      assert.match(await page.textContent("#tfa-state"), /authenticator app or a passkey/);
      assert.ok(await page.isVisible("#pk-empty"));
      assert.equal((await page.textContent("#pk-empty")).trim(), "No passkeys yet.");
      assert.ok(await page.isHidden("#pk-table"));
      assert.ok(await page.isVisible("#pk-add"));
      assert.ok(await page.isVisible("#tfa-start"), "the app can still be set up");
      await both(page, "account-no-passkeys", "#pk-add");
    });

    await step("Add passkey: a name and the password, each refusal on its field", async () => {
      await page.click("#pk-add");
      await page.waitForSelector("#pk-add-dialog[open]");
      await assertFocus(page, "#pk-name", "the dialog opens on the name");
      assert.ok(await page.isHidden("#pka-code"), "no code is asked of someone without a factor");
      assert.ok(await page.isHidden("#pka-passkey"), "nor a passkey");
      await both(page, "add-passkey");
      await page.click("#pk-add-submit");
      assert.match(await page.textContent("#pk-name-error"), /Name the passkey, like Work laptop/);
      await assertFocus(page, "#pk-name", "the name's error");
      await page.fill("#pk-name", "Work laptop");
      await page.click("#pk-add-submit");
      assert.match(await page.textContent("#pk-password-error"), /Enter your password: nothing was sent/);
      await page.fill("#pk-password", "not my password at all");
      await page.click("#pk-add-submit");
      assert.equal(await textOf(page, "pk-password-error"), "The password is not right.");
      assert.equal(await page.getAttribute("#pk-password", "aria-invalid"), "true");
      await assertFocus(page, "#pk-password", "the password's error");
      await both(page, "add-passkey-refused");
      assert.equal((await credentials()).length, 0, "nothing was made");
    });

    await step("Add passkey at an IP address: the server's 409 is said in the dialog", async () => {
      // This suite's server is at localhost; the answer of one at an IP
      // address (second_factor.rs) stands in for it.
      const options = "**/admin/v1/users/me/passkeys/options";
      await page.route(options, (route) => route.fulfill({
        status: 409, contentType: "application/problem+json",
        body: JSON.stringify({ type: "about:blank", title: "Conflict", status: 409, detail: AT_AN_IP }),
      }));
      try {
        await page.fill("#pk-password", pia.password);
        await page.click("#pk-add-submit");
        assert.equal(await textOf(page, "pk-add-error"),
          "Passkeys need the service at a domain name (CASEBOOK_PUBLIC_URL): browsers refuse them at an IP address.");
        await check(page, WIDE, "add-passkey-ip-address");
      } finally {
        await page.unroute(options);
      }
      assert.ok(await page.isHidden("#pk-ready"), "no ceremony began");
    });

    await step("a prompt that gives no answer says so; Add passkey asks the browser again without the password", async () => {
      await userVerified(false);
      await page.fill("#pk-password", pia.password);
      await page.click("#pk-add-submit");
      assert.match(await textOf(page, "pk-add-error"), /^No passkey was made: the browser's request was cancelled or timed out\./);
      assert.ok(await page.isVisible("#pk-ready"), "the password stands for the ceremony");
      assert.ok(await page.isHidden("#pk-password"), "and is not asked again");
      await assertFocus(page, "#pk-add-submit", "Add passkey, to try again");
      await both(page, "add-passkey-no-answer");
      await userVerified(true);
      await page.click("#pk-add-submit");
      await closed(page, "pk-add-dialog");
      await said(page, "Passkey Work laptop added: signing in now asks for a passkey after your password.");
      await assertFocus(page, "#pk-title", "focus on the Passkeys heading");
      const row = page.locator("#pk-rows tr");
      assert.equal(await row.count(), 1);
      assert.equal(await row.locator('td[data-label="Name"]').textContent(), "Work laptop");
      assert.match(await row.locator('td[data-label="Added"]').textContent(), /\d{4}/);
      assert.equal(await row.locator('td[data-label="Last used"]').textContent(), "Never");
      assert.ok(await page.isHidden("#pk-empty"));
      const keys = await credentials();
      assert.equal(keys.length, 1, "the authenticator holds one passkey");
      assert.equal(keys[0].rpId, "localhost");
      assert.deepEqual(await factorsOf(pia), ["passkey"]);
    });

    await step("the 2-step status counts the passkey: On, with the app still to set up", async () => {
      await page.waitForFunction(() => /On/.test(document.querySelector("#tfa-state").textContent));
      assert.match(await page.textContent("#tfa-state"), /Signing in asks for your passkey after your password\./);
      assert.match(await page.textContent("#app-state"), /^Not set up/);
      assert.ok(await page.isVisible("#tfa-start"));
      assert.ok(await page.isHidden("#tfa-off"), "no app to turn off");
      // A fresh load learns the same from the record.
      await page.reload();
      await page.waitForSelector("#account:not([hidden])");
      await page.waitForSelector("#pk-rows tr");
      assert.match(await page.textContent("#tfa-state"), /On/);
      await page.click('#nav a[data-screen="users"]');
      const mine = page.locator(`#user-rows tr[data-id="${pia.id}"]`);
      await mine.waitFor();
      assert.match(await mine.locator('td[data-label="2-step"]').textContent(), /On/);
      await toAccount();
      await both(page, "account-passkey", "#pk-add");
    });

    await step("setting up an app beside the passkey asks for the passkey after the password", async () => {
      await page.click("#tfa-start");
      await page.waitForSelector("#enrol-password:not([hidden])");
      assert.ok(await page.isVisible("#enf-passkey"), "the factor held is asked for");
      assert.ok(await page.isHidden("#enf-code"));
      await check(page, WIDE, "enrol-app-with-passkey");
      await page.fill("#en-password", pia.password);
      await page.click("#enf-passkey");
      await page.waitForSelector("#enrol-scan:not([hidden])");
      await page.click("#enrol-scan .en-cancel");
      await page.waitForSelector("#enrol-scan", { state: "hidden" });
      await said(page, "Setup cancelled: no authenticator app was added.");
      assert.deepEqual(await factorsOf(pia), ["passkey"], "nothing was added");
    });

    await step("a second passkey from the same device: the passkey held answers first, then the browser's refusal in words", async () => {
      await page.click("#pk-add");
      await page.waitForSelector("#pk-add-dialog[open]");
      assert.ok(await page.isVisible("#pka-passkey"), "someone with a passkey confirms with it");
      assert.ok(await page.isHidden("#pka-code"), "no app: no code field");
      assert.equal((await page.textContent("#pka-passkey")).trim(), "Use your passkey");
      await both(page, "add-passkey-step-up");
      await page.fill("#pk-name", "Same laptop");
      await page.click("#pka-passkey");
      assert.match(await page.textContent("#pk-password-error"), /Enter your password/, "the password first");
      await page.fill("#pk-password", pia.password);
      await page.click("#pka-passkey");
      assert.match(await textOf(page, "pk-add-error"), /holds a passkey for your account already/);
      assert.equal((await credentials()).length, 1, "no second one was made");
      await page.click("#pk-add-dialog .cancel");
      await closed(page, "pk-add-dialog");
      await assertFocus(page, "#pk-add", "focus back on Add passkey");
    });

    await step("sign in with password and passkey: the second step offers it, by keyboard too", async () => {
      await signOut();
      await signInAs(pia, { expectSecondStep: true });
      await assertFocus(page, "#mfa-code", "the second step opens on the code");
      assert.equal((await page.textContent("#mfa-passkey")).trim(), "Use a passkey");
      assert.match(await page.textContent("#mfa-why"), /or your passkey/);
      await both(page, "signin-passkey-step");
      const before = (await credentials())[0].signCount;
      await tabTo(page, "#mfa-passkey");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#nav:not([hidden])");
      await page.waitForSelector("#account:not([hidden])"); // the screen the address names
      assert.ok((await credentials())[0].signCount > before, "the authenticator answered");
      await page.waitForSelector("#pk-rows tr");
      assert.match(await page.locator('#pk-rows td[data-label="Last used"]').textContent(), /\d{4}/);
    });

    await step("show a client secret: the dialog offers the passkey in place of a code", async () => {
      await findApp();
      await page.click(`button[aria-label="Reveal client secret of ${appName}"]`);
      await page.waitForSelector("#verify-dialog[open]");
      assert.ok(await page.isVisible("#v-passkey"), "Use your passkey is offered");
      assert.ok(await page.isHidden("#v-code"), "no code field for someone without an app");
      await both(page, "reveal-with-passkey");
      await page.click("#v-passkey");
      assert.match(await page.textContent("#v-password-error"), /Enter your password/);
      await assertFocus(page, "#v-password", "the password first");
      await page.fill("#v-password", "not my password at all");
      await page.click("#v-passkey");
      assert.match(await textOf(page, "v-password-error"), /not right/);
      await page.fill("#v-password", pia.password);
      await page.click("#v-passkey");
      await page.waitForSelector("#verify-result:not([hidden])");
      assert.match(await page.textContent("#secret"), /\S{20,}/);
      await page.click("#verify-cancel");
      await closed(page, "verify-dialog");
      // One listed secret, with Enter in the password: Verify uses the passkey.
      await page.click(`button[aria-label="Show details of ${appName}"]`);
      await page.locator(`#details-${app.id} button`, { hasText: "Show" }).first().click();
      await page.waitForSelector("#verify-dialog[open]");
      await page.fill("#v-password", pia.password);
      await page.press("#v-password", "Enter");
      await page.waitForSelector("#verify-result:not([hidden])");
      await page.click("#verify-cancel");
      await closed(page, "verify-dialog");
    });

    await step("add a client secret with the passkey", async () => {
      await page.click(`button[aria-label="Add client secret to ${appName}"]`);
      await page.waitForSelector("#cs-dialog[open]");
      assert.ok(await page.isVisible("#cs-passkey"));
      await page.fill("#cs-password", pia.password);
      await page.fill("#cs-label", "added with a passkey");
      await check(page, WIDE, "add-secret-with-passkey");
      await page.click("#cs-passkey");
      await page.waitForSelector("#cs-result:not([hidden])");
      assert.match(await page.textContent("#cs-value"), /\S{20,}/);
      await page.click("#cs-cancel");
      await closed(page, "cs-dialog");
    });

    await step("the server's ask for a factor the console did not know of offers the passkey and the code", async () => {
      await page.evaluate(() => { for (const k of Object.keys(sessionStorage)) if (k.startsWith("cb-second-factor")) sessionStorage.setItem(k, "off"); });
      await page.click(`button[aria-label="Rotate client secret of ${appName}"]`);
      await page.waitForSelector("#rotate-dialog[open]");
      assert.ok(await page.isHidden("#r-passkey"), "not known to have one: not offered yet");
      assert.ok(await page.isHidden("#r-code"));
      await page.fill("#r-password", pia.password);
      await page.click("#rotate-submit");
      assert.match(await textOf(page, "r-code-error"), /2-step verification: enter the code from your authenticator app as well, or use your passkey/);
      assert.ok(await page.isVisible("#r-passkey"));
      assert.equal(await page.inputValue("#r-password"), pia.password, "the right password is kept");
      await both(page, "rotate-factor-asked");
      await page.click("#r-passkey");
      await page.waitForSelector("#rotate-result:not([hidden])");
      await page.click("#rotate-dialog .cancel");
      await closed(page, "rotate-dialog");
    });

    await step("a person with an app and no passkey: Use a passkey says there is none; a recovery code signs in", async () => {
      await signOut();
      await signInAs(quinn, { expectSecondStep: true });
      await page.click("#mfa-passkey");
      assert.equal(await textOf(page, "mfa-passkey-error"), "Your account has no passkey: enter the code from your authenticator app, or one of your recovery codes.");
      await assertFocus(page, "#mfa-code", "focus on the code");
      await both(page, "signin-no-passkey");
      await page.click("#mfa-code-switch");
      await page.fill("#mfa-code", quinn.codes[0]);
      await page.click("#mfa button[type=submit]");
      await page.waitForSelector("#nav:not([hidden])");
    });

    await step("adding a passkey beside an app asks for a code; then both count", async () => {
      await toAccount();
      assert.match(await page.textContent("#tfa-state"), /code from your authenticator app/);
      assert.equal((await page.textContent("#tfa-off")).trim(), "Turn off 2-step verification");
      await page.click("#pk-add");
      await page.waitForSelector("#pk-add-dialog[open]");
      assert.ok(await page.isVisible("#pka-code"), "the app's code is asked");
      assert.ok(await page.isHidden("#pka-passkey"), "no passkey yet");
      assert.match(await page.textContent("#pk-add-why"), /asks for your second factor as well/);
      await page.fill("#pk-name", "Phone");
      await page.fill("#pk-password", quinn.password);
      await page.click("#pk-add-submit");
      assert.match(await page.textContent("#pka-code-error"), /Enter the 6-digit code/);
      await assertFocus(page, "#pka-code", "the code's field");
      await both(page, "add-passkey-with-code");
      await page.click("#pka-code-switch");
      await page.fill("#pka-code", quinn.codes[1]);
      await page.click("#pk-add-submit");
      await closed(page, "pk-add-dialog");
      await said(page, "Passkey Phone added: signing in now asks for a passkey or a code after your password.");
      await page.waitForFunction(() => /passkey or a code/.test(document.querySelector("#tfa-state").textContent));
      assert.equal((await page.textContent("#tfa-off")).trim(), "Remove authenticator app", "with a passkey left, removing the app leaves 2-step on");
      assert.deepEqual(await factorsOf(quinn), ["passkey", "totp"]);
      await both(page, "account-app-and-passkey", "#tfa-title");
      // Removing the app now offers the passkey beside the code.
      await page.click("#tfa-off");
      await page.waitForSelector("#tfa-off-dialog[open]");
      assert.equal(await page.textContent("#tfa-off-title"), "Remove the authenticator app?");
      assert.ok(await page.isVisible("#off-code"));
      assert.ok(await page.isVisible("#off-passkey"));
      await check(page, WIDE, "remove-app-with-passkey");
      await page.click("#tfa-off-dialog .cancel");
      await closed(page, "tfa-off-dialog");
    });

    await step("the person with both signs in with the passkey", async () => {
      await signOut();
      await signInAs(quinn, { expectSecondStep: true });
      await page.click("#mfa-passkey");
      await page.waitForSelector("#nav:not([hidden])");
      assert.equal((await credentials()).length, 2, "Pia's and Quinn's");
    });

    await step("an administrator the agency requires a factor of adds a passkey, and is let through", async () => {
      await page.click('#nav a[data-screen="settings"]');
      await page.waitForSelector("#settings-form:not([hidden])");
      assert.match(await page.textContent("#st-mfa-hint"), /an authenticator app or a passkey/);
      await page.check("#st-mfa");
      await page.click("#settings-save");
      settingOn = true;
      await said(page, "administrators must now sign in with 2-step verification");
      await signOut();
      await signInAs(rae);
      await page.waitForSelector("#account:not([hidden])");
      assert.ok(await page.isVisible("#account-must"));
      assert.match(await page.textContent("#account-must"), /a code from an authenticator app, or a passkey/);
      await page.waitForSelector("#pk-loading", { state: "hidden" });
      assert.ok(await page.isVisible("#pk-add"));
      await both(page, "account-must-enrol-passkey", "#pk-add");
      await page.click("#pk-add");
      await page.waitForSelector("#pk-add-dialog[open]");
      assert.ok(await page.isHidden("#pka-code") && await page.isHidden("#pka-passkey"), "no factor held: the password alone");
      await page.fill("#pk-name", "Rae's laptop");
      await page.fill("#pk-password", rae.password);
      await page.click("#pk-add-submit");
      await closed(page, "pk-add-dialog");
      // Let through: the console leaves Your account for the applications,
      // and the notice that kept Rae there is gone. (Its one-line status
      // can be cleared by that very navigation, so it is not waited for.)
      await page.waitForSelector("#applications:not([hidden])");
      await page.waitForSelector("#account-must", { state: "hidden" });
      // And off again, by Rae, whose passkey counts.
      await page.click('#nav a[data-screen="settings"]');
      await page.waitForSelector("#settings-form:not([hidden])");
      await page.uncheck("#st-mfa");
      await page.click("#settings-save");
      await said(page, "no longer required");
      settingOn = false;
      assert.deepEqual(await factorsOf(rae), ["passkey"]);
    });

    await step("Remove asks for the password and a passkey; the last one gone, 2-step verification is off", async () => {
      await signOut();
      await signInAs(pia, { expectSecondStep: true });
      await page.click("#mfa-passkey");
      await page.waitForSelector("#nav:not([hidden])");
      await toAccount();
      await page.click('button[aria-label="Remove passkey Work laptop"]');
      await page.waitForSelector("#pk-remove-dialog[open]");
      assert.equal(await page.textContent("#pk-remove-title"), "Remove passkey Work laptop?");
      assert.match(await page.textContent("#pk-remove-why"), /It is your last second factor: signing in will ask for your password only\./);
      await assertFocus(page, "#pk-rm-password", "the dialog opens on the password");
      assert.ok(await page.isVisible("#pkr-passkey"));
      await both(page, "remove-passkey");
      await page.click("#pk-remove-submit");
      assert.match(await page.textContent("#pk-rm-password-error"), /Enter your password/);
      await page.fill("#pk-rm-password", pia.password);
      await page.click("#pkr-passkey");
      await closed(page, "pk-remove-dialog");
      await said(page, "Passkey Work laptop removed. 2-step verification is off");
      await assertFocus(page, "#pk-add", "focus on Add passkey");
      assert.ok(await page.isVisible("#pk-empty"));
      await page.waitForFunction(() => /Off/.test(document.querySelector("#tfa-state").textContent));
      assert.deepEqual(await factorsOf(pia), []);
      await both(page, "account-passkey-removed", "#pk-add");
      await signOut();
      await signInAs(pia); // the password alone again
    });
  } finally {
    if (settingOn) {
      // Put the setting back through the API, as Quinn, with a recovery code.
      const r = await fetch(`${base}/admin/v1/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: quinn.email, password: quinn.password, recovery_code: quinn.codes[9] }) });
      if (r.status === 201) await call((await r.json()).token, "PATCH", "/admin/v1/settings", { require_mfa_for_admins: false });
    }
    await context.close();
  }
});
