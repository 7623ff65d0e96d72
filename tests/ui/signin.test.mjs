// Strong sign-in in the console, by mouse at 1366 px with every new screen
// and dialog checked by axe (and photographed) at 1366 and 390 px: an
// administrator sets up an authenticator app (the QR code, the key to type,
// a code computed here from it, the recovery codes shown once with Copy and
// Download), signs in with password and code, and with a recovery code,
// and shows a client secret with a code; the tenant's setting, refused to
// someone without an app and then sending an administrator without one to
// set it up; an invitation caught by a small SMTP server here, and its
// link's set-password page; Forgot password?; a disabled user refused.
//
// Runs with CASEBOOK_SMTP_URL=smtp://127.0.0.1:$UI_SMTP_PORT given to the
// server (.ci/ui.sh does). Leaves the tenant's setting off, as it found it.
import net from "node:net";
import { createHmac } from "node:crypto";
import { readFile } from "node:fs/promises";
import { assert, base, WIDTHS, open, step, check, noHorizontalScroll, assertFocus, closed, finish, adminToken, call, roleId } from "./harness.mjs";

const [WIDE, NARROW] = WIDTHS;
const run = Date.now().toString(36);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- RFC 6238 (HMAC-SHA1, 6 digits, 30 s), as an authenticator app ----
function fromBase32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0; let value = 0; const out = [];
  for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `base32 letter ${c}`);
    value = ((value << 5) | v) & 0xffff; bits += 5;
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
const stepNow = () => Math.floor(Date.now() / 30000);
// A code the server accepts once: its step later than the last one accepted
// for this person, and within one step of now (the server's skew). Waits
// for the clock when the next usable step is still too far ahead.
async function freshCode(person) {
  for (;;) {
    const now = stepNow();
    const wanted = Math.max(now, person.lastStep + 1);
    if (wanted <= now + 1) { person.lastStep = wanted; return totpAt(person.secret, wanted); }
    await sleep((now + 1) * 30000 - Date.now() + 250);
  }
}

// ---- a tiny SMTP server that keeps what it is sent ----
function decodeBody(headers, body) {
  const undotted = body.replace(/\r\n\.\./g, "\r\n.").replace(/^\.\./, ".");
  const encoding = (headers["content-transfer-encoding"] || "").toLowerCase();
  if (encoding === "base64") return Buffer.from(undotted.replace(/\s+/g, ""), "base64").toString("utf8");
  if (encoding === "quoted-printable") {
    const soft = undotted.replace(/=\r?\n/g, "");
    const bytes = [];
    for (let i = 0; i < soft.length; i += 1) {
      if (soft[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) { bytes.push(parseInt(soft.slice(i + 1, i + 3), 16)); i += 2; }
      else bytes.push(...Buffer.from(soft[i], "utf8"));
    }
    return Buffer.from(bytes).toString("utf8");
  }
  return undotted;
}
function parseMessage(raw) {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  const headers = {};
  for (const line of head.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { to: headers.to || "", subject: headers.subject || "", body: decodeBody(headers, raw.slice(split + 4)) };
}
function smtpServer(port) {
  const messages = [];
  const server = net.createServer((socket) => {
    socket.setEncoding("utf8");
    let pending = ""; let inData = false;
    socket.write("220 ui-suite ESMTP\r\n");
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      pending += chunk;
      for (;;) {
        if (inData) {
          const end = pending.indexOf("\r\n.\r\n");
          if (end < 0) return;
          messages.push(parseMessage(pending.slice(0, end + 2)));
          pending = pending.slice(end + 5); inData = false;
          socket.write("250 2.0.0 kept\r\n");
          continue;
        }
        const eol = pending.indexOf("\r\n");
        if (eol < 0) return;
        const line = pending.slice(0, eol); pending = pending.slice(eol + 2);
        const verb = line.split(" ")[0].toUpperCase();
        if (verb === "EHLO") socket.write("250-ui-suite\r\n250 8BITMIME\r\n");
        else if (verb === "DATA") { inData = true; socket.write("354 end with <CRLF>.<CRLF>\r\n"); }
        else if (verb === "QUIT") { socket.end("221 bye\r\n"); return; }
        else socket.write("250 OK\r\n");
      }
    });
  });
  server.listen(port, "127.0.0.1");
  return {
    messages,
    close: () => server.close(),
    // The first message to `to` whose subject matches, after `since` of them.
    async waitFor(to, subject, since = 0, timeout = 30000) {
      const until = Date.now() + timeout;
      while (Date.now() < until) {
        const found = messages.slice(since).find((m) => m.to.includes(to) && subject.test(m.subject));
        if (found) return found;
        await sleep(250);
      }
      assert.fail(`no message to ${to} with a subject like ${subject} within ${timeout} ms (got ${messages.length}: ${messages.map((m) => m.subject).join("; ")})`);
    },
  };
}
const linkIn = (message) => {
  const m = /https?:\/\/\S*\/admin#set-password\?token=[^\s"<>]+/.exec(message.body);
  assert.ok(m, `a set-password link in:\n${message.body}`);
  // Wherever the install says it lives, the page is this server's.
  return base + "/admin" + m[0].slice(m[0].indexOf("#"));
};

// Axe and a photo at both widths, on one page (its session stays): the
// 390 px one also checks that nothing scrolls sideways.
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

const smtpPort = Number(process.env.UI_SMTP_PORT);
const mail = smtpPort ? smtpServer(smtpPort) : null;

await finish(async () => {
  assert.equal(totpAt("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", Math.floor(59 / 30)), "287082", "RFC 6238's first SHA-1 vector");
  assert.ok(mail, "UI_SMTP_PORT names the port of the relay the server was given (CASEBOOK_SMTP_URL)");
  const token = await adminToken();
  const administrator = await roleId(token, "Administrator");
  const worker = await roleId(token, "Engage Worker");
  const person = (who, name, roles) => ({ name, email: `${who}-${run}@agency.example.org`, password: `${who} keeps a long passphrase ${run}`, roles, secret: null, lastStep: -1, codes: [] });
  const ada = person("ada", `Ada Strong ${run}`, [administrator]);
  const ben = person("ben", `Ben Later ${run}`, [administrator]);
  const cleo = person("cleo", `Cleo Invited ${run}`, [worker]);
  const dan = person("dan", `Dan Leaving ${run}`, [worker]);
  for (const p of [ada, ben, dan]) p.id = (await call(token, "POST", "/admin/v1/users", { name: p.name, email: p.email, password: p.password, roles: p.roles })).id;
  const appName = `Strong Partner ${run}`;
  const app = await call(token, "POST", "/admin/v1/external-applications", { name: appName, email: `strong-${run}@partner.example.org`, roles: [worker] });

  const { context, page } = await open(WIDE);
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
  // The setting is put back off whatever happens (the suites share a database).
  let settingOn = false;

  try {
    await step("sign-in page: Forgot password? is offered beside Sign in", async () => {
      await page.goto(`${base}/admin`);
      await page.waitForSelector("#signin:not([hidden])");
      assert.ok(await page.isVisible("#si-forgot"));
      assert.equal(await page.getAttribute("#si-forgot", "href"), "#forgot-password");
      await both(page, "signin-page");
    });

    await step("Your account: 2-step verification is off, reachable from the header", async () => {
      await signInAs(ada);
      await page.click('#nav a[data-screen="account"]');
      await page.waitForSelector("#account:not([hidden])");
      await assertFocus(page, "#account-title", "the screen's heading");
      assert.equal(await page.getAttribute('#nav a[data-screen="account"]', "aria-current"), "page");
      const facts = await page.textContent("#account-facts");
      assert.ok(facts.includes(ada.name) && facts.includes(ada.email), facts);
      assert.match(await page.textContent("#tfa-state"), /Off/);
      assert.ok(await page.isVisible("#tfa-start"));
      assert.ok(await page.isHidden("#tfa-off"));
      await both(page, "account-off");
    });

    await step("set up: the password first, then the QR code as an image and the key in groups of four", async () => {
      await page.click("#tfa-start");
      await page.waitForSelector("#enrol-password:not([hidden])");
      await assertFocus(page, "#en-password", "step 1 opens on the password");
      await page.click("#enrol-password button[type=submit]");
      assert.match(await page.textContent("#en-password-error"), /Enter your password/);
      await page.fill("#en-password", "not my password at all");
      await page.click("#enrol-password button[type=submit]");
      await page.waitForFunction(() => /not right/.test(document.querySelector("#en-password-error").textContent));
      await both(page, "enrol-step1", "#enrol-password");
      await page.fill("#en-password", ada.password);
      await page.click("#enrol-password button[type=submit]");
      await page.waitForSelector("#enrol-scan:not([hidden])");
      await assertFocus(page, "#en2-title", "step 2 starts at its heading");
      const src = await page.getAttribute("#en-qr", "src");
      assert.match(src, /^data:image\/svg\+xml;base64,/, "the QR code is an image from a data: URL");
      assert.match(Buffer.from(src.split(",")[1], "base64").toString("utf8"), /<svg/);
      assert.ok(await page.evaluate(() => document.querySelector("#en-qr").naturalWidth > 0), "the image was drawn");
      assert.equal(await page.locator("#enrol-scan svg").count(), 0, "no server markup in the page");
      const shown = await page.textContent("#en-secret");
      assert.match(shown, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, `the key in groups of four: ${shown}`);
      ada.secret = shown.replace(/\s+/g, "");
      await page.click('#en-secret-copy-slot button');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), ada.secret, "Copy copies the key without its spaces");
      await both(page, "enrol-step2", "#enrol-scan");
    });

    await step("set up: a wrong code is refused on its field; the app's code turns it on and shows 10 recovery codes once", async () => {
      await page.fill("#en-code", "12345");
      await page.click("#enrol-scan button[type=submit]");
      assert.match(await page.textContent("#en-code-error"), /6 digits/);
      const wrong = totpAt(ada.secret, stepNow() + 10);
      await page.fill("#en-code", wrong);
      await page.click("#enrol-scan button[type=submit]");
      await page.waitForFunction(() => /not the code the app shows now/.test(document.querySelector("#en-code-error").textContent));
      assert.equal(await page.getAttribute("#en-code", "aria-invalid"), "true");
      await page.fill("#en-code", await freshCode(ada));
      await page.click("#enrol-scan button[type=submit]");
      await page.waitForSelector("#enrol-codes:not([hidden])");
      await assertFocus(page, "#en3-title", "step 3 starts at its heading");
      ada.codes = await page.locator("#en-codes li code").allTextContents();
      assert.equal(ada.codes.length, 10);
      for (const c of ada.codes) assert.match(c, /^[a-z2-7]{5}-[a-z2-7]{5}$/);
      await page.click("#en-codes-copy-slot button");
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), ada.codes.join("\n"));
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#en-download")]);
      assert.match(download.suggestedFilename(), /^cb-admin-recovery-codes.*\.txt$/);
      const text = await readFile(await download.path(), "utf8");
      for (const c of ada.codes) assert.ok(text.includes(c), `the download holds ${c}`);
      await both(page, "enrol-step3", "#enrol-codes");
      await page.click("#en-done");
      assert.match(await page.textContent("#en-saved-error"), /I have saved these codes/);
      await assertFocus(page, "#en-saved", "Done waits for the checkbox");
      assert.ok(await page.isVisible("#enrol-codes"), "the codes stay until saved");
      await page.check("#en-saved");
      await page.click("#en-done");
      await page.waitForSelector("#enrol-codes", { state: "hidden" });
      assert.equal(await page.locator("#en-codes li").count(), 0, "the codes leave the page");
      assert.match(await page.textContent("#tfa-state"), /On/);
      assert.ok(await page.isVisible("#tfa-off"));
      await said(page, "2-step verification is on");
      const record = await call(token, "GET", `/admin/v1/users/${ada.id}`);
      assert.deepEqual(record.second_factors, ["totp"]);
      await both(page, "account-on");
    });

    await step("sign in with password and code: a wrong code asks again with the step kept", async () => {
      await signOut();
      await signInAs(ada, { expectSecondStep: true });
      await assertFocus(page, "#mfa-code", "the second step opens on the code");
      assert.equal(await page.textContent("#mfa-code-label"), "Authenticator code *");
      await both(page, "signin-second-step");
      await page.fill("#mfa-code", totpAt(ada.secret, stepNow() + 10));
      await page.click("#mfa button[type=submit]");
      await page.waitForFunction(() => /not accepted/.test(document.querySelector("#mfa-code-error").textContent));
      await assertFocus(page, "#mfa-code", "the refused code's field");
      assert.equal(await page.inputValue("#mfa-code"), "");
      await both(page, "signin-second-step-refused");
      await page.fill("#mfa-code", await freshCode(ada));
      await page.click("#mfa button[type=submit]");
      await page.waitForSelector("#nav:not([hidden])");
      await page.waitForSelector("#account:not([hidden])"); // the screen the address names
      assert.match(await page.textContent("#who"), new RegExp(ada.name));
      assert.match(await page.textContent("#tfa-state"), /On/);
    });

    await step("sign in with a recovery code instead; it works once", async () => {
      await signOut();
      await signInAs(ada, { expectSecondStep: true });
      await page.click("#mfa-code-switch");
      assert.equal(await page.textContent("#mfa-code-label"), "Recovery code *");
      await assertFocus(page, "#mfa-code", "the switch puts focus on the field");
      assert.equal(await page.textContent("#mfa-code-switch"), "Use the authenticator app instead");
      await both(page, "signin-recovery-code");
      await page.fill("#mfa-code", ada.codes[0].toUpperCase());
      await page.click("#mfa button[type=submit]");
      await page.waitForSelector("#nav:not([hidden])");
      await said(page, "Signed in with a recovery code");
      const r = await fetch(`${base}/admin/v1/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: ada.email, password: ada.password, recovery_code: ada.codes[0] }) });
      assert.equal(r.status, 401, "a spent recovery code is refused");
    });

    await step("show a client secret: the dialog asks for the app's code, or a recovery code", async () => {
      await page.click('#nav a[data-screen="applications"]');
      // The suites before this one leave many applications: find it by name.
      await page.fill("#q-name", appName);
      await page.click("#search button[type=submit]");
      await page.waitForSelector(`button[aria-label="Reveal client secret of ${appName}"]`);
      await page.click(`button[aria-label="Reveal client secret of ${appName}"]`);
      await page.waitForSelector("#verify-dialog[open]");
      assert.ok(await page.isVisible("#v-code"), "the code field is there for someone with an app");
      await page.fill("#v-password", ada.password);
      await page.click("#verify-submit");
      assert.match(await page.textContent("#v-code-error"), /Enter the 6-digit code/);
      assert.equal(await page.inputValue("#v-password"), ada.password, "nothing was sent: the password stays");
      await both(page, "reveal-with-code");
      await page.fill("#v-code", await freshCode(ada));
      await page.click("#verify-submit");
      await page.waitForSelector("#verify-result:not([hidden])");
      assert.match(await page.textContent("#secret"), /\S{20,}/);
      await page.click("#verify-cancel");
      await closed(page, "verify-dialog");
      // Show one listed secret, with a recovery code this time.
      await page.click(`button[aria-label="Show details of ${appName}"]`);
      const show = page.locator(`#details-${app.id} button`, { hasText: "Show" }).first();
      await show.click();
      await page.waitForSelector("#verify-dialog[open]");
      await page.fill("#v-password", ada.password);
      await page.click("#v-code-switch");
      assert.equal(await page.textContent("#v-code-label"), "Recovery code *");
      await page.fill("#v-code", ada.codes[1]);
      await page.click("#verify-submit");
      await page.waitForSelector("#verify-result:not([hidden])");
      await page.click("#verify-cancel");
      await closed(page, "verify-dialog");
    });

    await step("the server's ask for a code shows the field to someone the console did not know had one", async () => {
      await page.evaluate(() => { for (const k of Object.keys(sessionStorage)) if (k.startsWith("cb-second-factor")) sessionStorage.setItem(k, "off"); });
      await page.click(`button[aria-label="Rotate client secret of ${appName}"]`);
      await page.waitForSelector("#rotate-dialog[open]");
      assert.ok(await page.isHidden("#r-code"), "not known to have an app: no field yet");
      await page.fill("#r-password", ada.password);
      await page.click("#rotate-submit");
      await page.waitForFunction(() => document.querySelector("#r-code-error").textContent.length > 0);
      assert.match(await page.textContent("#r-code-error"), /2-step verification/);
      await assertFocus(page, "#r-code", "the code's field");
      assert.equal(await page.inputValue("#r-password"), ada.password, "the right password is kept for the next try");
      await check(page, WIDE, "rotate-code-asked");
      await page.click("#rotate-dialog .cancel");
      await closed(page, "rotate-dialog");
    });

    await step("Settings: someone without an app cannot require one of others, and is told where to set it up", async () => {
      await signOut();
      await signInAs(ben);
      await page.click('#nav a[data-screen="settings"]');
      await page.waitForSelector("#settings-form:not([hidden])");
      assert.equal(await page.isChecked("#st-mfa"), false);
      await both(page, "settings");
      await page.check("#st-mfa");
      await page.click("#settings-save");
      await page.waitForFunction(() => document.querySelector("#settings-form-error").textContent.length > 0);
      const text = await page.textContent("#settings-form-error");
      assert.match(text, /^Enrol a second factor yourself under Your account before requiring one of others\./, text);
      assert.doesNotMatch(text, /\/admin\/v1/);
      assert.equal(await page.getAttribute("#settings-form-error a", "href"), "#/account");
      await both(page, "settings-refused");
      assert.equal((await call(token, "GET", "/admin/v1/settings")).require_mfa_for_admins, false);
      await signOut();
    });

    await step("Settings: an administrator with an app requires it of every administrator", async () => {
      await signInAs(ada, { expectSecondStep: true });
      await page.click("#mfa-code-switch");
      await page.fill("#mfa-code", ada.codes[2]);
      await page.click("#mfa button[type=submit]");
      await page.waitForSelector("#nav:not([hidden])");
      await page.click('#nav a[data-screen="settings"]');
      await page.waitForSelector("#settings-form:not([hidden])");
      await page.check("#st-mfa");
      await page.click("#settings-save");
      settingOn = true;
      await said(page, "administrators must now sign in with 2-step verification");
      assert.equal(await page.isChecked("#st-mfa"), true);
      await signOut();
    });

    await step("an administrator without an app is taken to set one up, with the reason, and nowhere else until it is on", async () => {
      await signInAs(ben);
      await page.waitForSelector("#account:not([hidden])");
      assert.ok(await page.isVisible("#account-must"));
      assert.match(await page.textContent("#account-must"), /requires everyone who manages cb Admin/);
      assert.equal(await page.evaluate(() => location.hash), "#/account");
      assert.equal(await page.locator("#users-error:not([hidden]), #apps-error:not([hidden])").count(), 0, "no errors shown");
      await assertFocus(page, "#account-title", "the screen's heading");
      await both(page, "account-must-enrol");
      await page.click('#nav a[data-screen="users"]');
      await page.waitForFunction(() => location.hash === "#/account");
      assert.ok(await page.isVisible("#account"));
      assert.ok(await page.isHidden("#users"));
      await page.click("#tfa-start");
      await page.fill("#en-password", ben.password);
      await page.click("#enrol-password button[type=submit]");
      await page.waitForSelector("#enrol-scan:not([hidden])");
      ben.secret = (await page.textContent("#en-secret")).replace(/\s+/g, "");
      await page.fill("#en-code", await freshCode(ben));
      await page.click("#enrol-scan button[type=submit]");
      await page.waitForSelector("#enrol-codes:not([hidden])");
      await page.check("#en-saved");
      await page.click("#en-done");
      await page.waitForSelector("#applications:not([hidden])");
      await page.waitForSelector("#rows tr.app-row");
      await said(page, "Every screen of cb Admin is open to you again");
    });

    await step("Users: invite by email (the default), with Status, Last sign-in and 2-step", async () => {
      await page.click('#nav a[data-screen="users"]');
      await page.waitForSelector("#user-rows tr");
      await page.click("#user-new");
      await page.waitForSelector("#user-dialog[open]");
      assert.ok(await page.isChecked("#u-invite"), "an invitation is the default");
      assert.ok(await page.isHidden("#u-password"), "no password to type for an invitation");
      await check(page, WIDE, "invite-user");
      await page.check("#u-set-now");
      assert.ok(await page.isVisible("#u-password"));
      await page.fill("#u-name", cleo.name);
      await page.fill("#u-email", cleo.email);
      await page.fill("#u-password", "password1234");
      await page.click("#user-form button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#u-password-error").textContent.length > 0);
      const weak = await page.textContent("#u-password-error");
      assert.match(weak, /^Password (is|must|repeats)/, weak);
      assert.doesNotMatch(weak, /weak_password/);
      await check(page, WIDE, "new-user-weak-password");
      await page.check("#u-invite");
      assert.ok(await page.isHidden("#u-password"));
      await page.check("#u-roles-list label:has-text('Engage Worker')");
      await page.click("#user-form button[type=submit]");
      await closed(page, "user-dialog");
      await said(page, `User ${cleo.name} invited`);
      const row = page.locator("#user-rows tr", { hasText: cleo.email });
      assert.match(await row.locator('td[data-label="Status"]').textContent(), /Invited/);
      assert.match(await row.locator('td[data-label="Last sign-in"]').textContent(), /Not yet/);
      assert.match(await row.locator('td[data-label="2-step"]').textContent(), /Off/);
      const mine = page.locator("#user-rows tr", { hasText: ben.email });
      assert.match(await mine.locator('td[data-label="2-step"]').textContent(), /On/);
      assert.match(await mine.locator('td[data-label="Last sign-in"]').textContent(), /\d{4}/);
      assert.equal(await mine.locator("button", { hasText: "Disable" }).count(), 0, "no Disable for one's own account");
      await both(page, "users-status", `#user-rows tr[data-id="${ben.id}"]`);
      await signOut();
    });

    await step("the invitation's link: set-password page, its refusals, then signing in with the new password", async () => {
      const message = await mail.waitFor(cleo.email, /invited/);
      const link = linkIn(message);
      const page2ctx = await open(WIDE);
      const p2 = page2ctx.page;
      await p2.goto(link);
      await p2.waitForSelector("#setpw:not([hidden])");
      await assertFocus(p2, "#sp-password", "the page opens on the new password");
      assert.ok(await p2.isHidden("#signin"));
      await both(p2, "set-password");
      await p2.click("#setpw-submit");
      assert.match(await p2.textContent("#setpw-summary"), /^2 problems to fix/);
      await p2.fill("#sp-password", "a good long passphrase here");
      await p2.fill("#sp-confirm", "a good long passphrase HERE");
      await p2.click("#setpw-submit");
      assert.match(await p2.textContent("#sp-confirm-error"), /differ/);
      await p2.fill("#sp-password", "password1234");
      await p2.fill("#sp-confirm", "password1234");
      await p2.click("#setpw-submit");
      await p2.waitForFunction(() => document.querySelector("#sp-password-error").textContent.length > 0);
      assert.match(await p2.textContent("#sp-password-error"), /^New password (is|must|repeats)/);
      assert.equal(await p2.getAttribute("#sp-password", "aria-invalid"), "true");
      await both(p2, "set-password-weak");
      cleo.password = `cleo chose this herself ${run}`;
      await p2.fill("#sp-password", cleo.password);
      await p2.fill("#sp-confirm", cleo.password);
      await p2.click("#setpw-submit");
      await p2.waitForSelector("#signin:not([hidden])");
      assert.match(await p2.textContent("#si-done"), /^Password set/);
      assert.equal(await p2.evaluate(() => location.hash), "", "the token left the address");
      await both(p2, "set-password-done");
      await p2.fill("#si-email", cleo.email);
      await p2.fill("#si-password", cleo.password);
      await p2.click("#signin button[type=submit]");
      await p2.waitForSelector("#nav:not([hidden])");
      // Without admin:view: what /api/v1/me says, and the setup still there.
      await p2.click('#nav a[data-screen="account"]');
      await p2.waitForSelector("#account:not([hidden])");
      assert.match(await p2.textContent("#account-facts"), new RegExp(cleo.name));
      assert.ok(await p2.isVisible("#account-limited"));
      assert.match(await p2.textContent("#tfa-state"), /Off/);
      assert.ok(await p2.isVisible("#tfa-start"));
      assert.ok(await p2.isHidden("#nav-settings"), "no Settings without admin:view");
      await both(p2, "account-limited");
      await p2.click("#signout");
      await p2.waitForSelector("#signin:not([hidden])");
      // The link works once.
      await p2.goto("about:blank");
      await p2.goto(link);
      await p2.waitForSelector("#setpw:not([hidden])");
      await p2.fill("#sp-password", `another long passphrase ${run}`);
      await p2.fill("#sp-confirm", `another long passphrase ${run}`);
      await p2.click("#setpw-submit");
      await p2.waitForSelector("#setpw-dead:not([hidden])");
      assert.match(await p2.textContent("#setpw-dead-text"), /unknown, was used already, or has expired/);
      assert.ok(await p2.isHidden("#setpw-submit"));
      await both(p2, "set-password-dead");
      await p2.click("#setpw-dead a");
      await p2.waitForSelector("#forgot:not([hidden])");
      await page2ctx.context.close();
    });

    await step("Forgot password?: the same answer for any address, and the link sets a new password", async () => {
      const before = mail.messages.length;
      await page.goto(`${base}/admin`);
      await page.waitForSelector("#signin:not([hidden])");
      await page.click("#si-forgot");
      await page.waitForSelector("#forgot:not([hidden])");
      await assertFocus(page, "#fp-email", "the page opens on the address");
      await page.click("#forgot-submit");
      assert.match(await page.textContent("#fp-email-error"), /Email is required/);
      await both(page, "forgot-password");
      await page.fill("#fp-email", cleo.email);
      await page.click("#forgot-submit");
      await page.waitForSelector("#forgot-sent:not([hidden])");
      assert.equal(await page.textContent("#forgot-sent-text"), "If that address has an account, we sent a link. It works for one hour.");
      await assertFocus(page, "#forgot-back", "focus moves to Back to sign in");
      await both(page, "forgot-password-sent");
      const message = await mail.waitFor(cleo.email, /reset/i, before);
      assert.match(message.body, /one hour/);
      await page.goto(linkIn(message));
      await page.waitForSelector("#setpw:not([hidden])");
      cleo.password = `cleo remembered a new one ${run}`;
      await page.fill("#sp-password", cleo.password);
      await page.fill("#sp-confirm", cleo.password);
      await page.click("#setpw-submit");
      await page.waitForSelector("#signin:not([hidden])");
      await signInAs(cleo);
      await signOut();
      // An address with no account: the same sentence, and no mail.
      await page.click("#si-forgot");
      await page.waitForSelector("#forgot:not([hidden])");
      await page.fill("#fp-email", `nobody-${run}@agency.example.org`);
      await page.click("#forgot-submit");
      await page.waitForSelector("#forgot-sent:not([hidden])");
      assert.equal(await page.textContent("#forgot-sent-text"), "If that address has an account, we sent a link. It works for one hour.");
      await page.click("#forgot-back");
      await page.waitForSelector("#signin:not([hidden])");
      await assertFocus(page, "#si-email", "back on the sign-in page");
    });

    await step("Disable asks first and says that sessions end; the disabled user cannot sign in; Enable lets them back", async () => {
      const danToken = await adminToken(dan.email, dan.password);
      await signInAs(ben, { expectSecondStep: true });
      await page.fill("#mfa-code", await freshCode(ben));
      await page.click("#mfa button[type=submit]");
      await page.waitForSelector("#nav:not([hidden])");
      await page.click('#nav a[data-screen="users"]');
      await page.waitForSelector(`button[aria-label="Disable ${dan.name}"]`);
      await page.click(`button[aria-label="Disable ${dan.name}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-title"), `Disable ${dan.name}?`);
      assert.match(await page.textContent("#confirm-text"), /every session they have open ends now/);
      await both(page, "disable-user-confirm");
      await page.click("#confirm-ok");
      await closed(page, "confirm-dialog");
      await said(page, `User ${dan.name} disabled`);
      const row = page.locator(`#user-rows tr[data-id="${dan.id}"]`);
      assert.match(await row.locator('td[data-label="Status"]').textContent(), /Disabled/);
      await assertFocus(page, `button[aria-label="Enable ${dan.name}"]`, "focus on the row's Enable");
      const r = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${danToken}` } });
      assert.equal(r.status, 401, "the disabled user's session ended");
      await signOut();
      await page.fill("#si-email", dan.email);
      await page.fill("#si-password", dan.password);
      await page.click("#signin button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#si-error").textContent.length > 0);
      assert.match(await page.textContent("#si-error"), /^This account is disabled; ask an administrator to enable it/);
      await check(page, WIDE, "signin-disabled");
    });

    await step("Turn off 2-step verification asks for the password and a code; the agency's rule refuses it", async () => {
      await signInAs(ada, { expectSecondStep: true });
      await page.fill("#mfa-code", await freshCode(ada));
      await page.click("#mfa button[type=submit]");
      await page.waitForSelector("#nav:not([hidden])");
      await page.click('#nav a[data-screen="users"]');
      await page.click(`button[aria-label="Enable ${dan.name}"]`);
      await said(page, `User ${dan.name} enabled`);
      await page.click('#nav a[data-screen="account"]');
      await page.waitForSelector("#tfa-off:not([hidden])");
      await page.click("#tfa-off");
      await page.waitForSelector("#tfa-off-dialog[open]");
      await assertFocus(page, "#off-password", "the dialog opens on the password");
      await both(page, "turn-off-dialog");
      await page.fill("#off-password", ada.password);
      await page.click("#off-code-switch");
      await page.fill("#off-code", ada.codes[3]);
      await page.click("#tfa-off-form button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#tfa-off-error").textContent.length > 0);
      assert.match(await page.textContent("#tfa-off-error"), /requires a second factor/);
      await page.click("#tfa-off-dialog .cancel");
      await closed(page, "tfa-off-dialog");
      // Off again: the agency's rule lifted, as the other suites expect it.
      await page.click('#nav a[data-screen="settings"]');
      await page.waitForSelector("#settings-form:not([hidden])");
      await page.uncheck("#st-mfa");
      await page.click("#settings-save");
      await said(page, "no longer required");
      settingOn = false;
      await page.click('#nav a[data-screen="account"]');
      await page.click("#tfa-off");
      await page.waitForSelector("#tfa-off-dialog[open]");
      await page.fill("#off-password", ada.password);
      await page.fill("#off-code", await freshCode(ada));
      await page.click("#tfa-off-form button[type=submit]");
      await closed(page, "tfa-off-dialog");
      await said(page, "2-step verification is off");
      assert.match(await page.textContent("#tfa-state"), /Off/);
      assert.deepEqual((await call(token, "GET", `/admin/v1/users/${ada.id}`)).second_factors, []);
    });
  } finally {
    if (settingOn) {
      // Put the setting back through the API, as Ada, with a recovery code.
      const r = await fetch(`${base}/admin/v1/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: ada.email, password: ada.password, recovery_code: ada.codes[9] }) });
      if (r.status === 201) await call((await r.json()).token, "PATCH", "/admin/v1/settings", { require_mfa_for_admins: false });
    }
    await context.close();
    if (mail) mail.close();
  }
});
