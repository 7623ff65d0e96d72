// Tenants in the console, at 1366 px by mouse and at 390 px by keyboard
// alone: the root's Tenants screen; New tenant with its errors beside their
// fields and the generated password shown once with Copy; the tenant's own
// console at its base URL, with its slug in the header, its own session (the
// root's token never sent to it), no Tenants tab and no `tenants` module in
// the role editor; an application registered there that the root never
// lists; then Disable, and Delete once the slug is typed. Axe on every
// screen and dialog.
import { assert, base, WIDTHS, open, step, check, signIn, tabTo, assertFocus, closed, noHorizontalScroll, finish, adminToken, call } from "./harness.mjs";

// Slugs are unique for good in a database the suites share: one run's are its own.
const run = Date.now().toString(36);

await finish(async () => {
  const rootToken = await adminToken();

  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const byKeyboard = w < 1000;
    const slug = `ui-${w}-${run}`;
    const tenantName = `Acme County ${w}`;
    const tenantAdmin = `admin-${w}@acme.example.org`;
    const appName = `Acme Partner ${w}`;
    const tenantBase = `${base}/t/${slug}`;
    const { context, page } = await open(viewport);
    const said = (text) => page.waitForFunction((t) => document.querySelector("#status").textContent.includes(t), text);
    const press = async (selector) => {
      if (byKeyboard) { await tabTo(page, selector, { max: 80 }); await page.keyboard.press("Enter"); }
      else await page.click(selector);
    };
    // The header comes before the screen: back by Shift+Tab.
    const navTo = async (screen) => {
      const selector = `#nav a[data-screen="${screen}"]`;
      if (byKeyboard) { await tabTo(page, selector, { back: true, max: 120 }); await page.keyboard.press("Enter"); }
      else await page.click(selector);
    };
    const fill = async (selector, text) => {
      if (!byKeyboard) { await page.fill(selector, text); return; }
      await tabTo(page, selector);
      await page.keyboard.press("Control+A");
      if (text) await page.keyboard.insertText(text); else await page.keyboard.press("Backspace");
    };
    const submitTenant = () => press("#tenant-submit");
    const row = page.locator("#tenant-rows tr", { has: page.locator(`code:text-is("${slug}")`) });

    // Every API call of the page, with the token it carried.
    const calls = [];
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (/\/(admin|api)\/v1\//.test(url.pathname)) calls.push({ method: r.method(), path: url.pathname, auth: r.headers().authorization || "" });
    });

    let rootSession = "";
    await step(`[${w}] the root's Tenants screen lists the root, which can be neither disabled nor deleted`, async () => {
      await signIn(page);
      rootSession = await page.evaluate(() => sessionStorage.getItem("cb-session"));
      assert.ok(rootSession, "the root console holds a session");
      assert.equal((await page.textContent("#tenant-tag")).trim(), "Root tenant");
      assert.ok(await page.isVisible('#nav a[data-screen="tenants"]'), "the Tenants tab, for an administrator holding tenants:view");
      await navTo("tenants");
      await page.waitForSelector("#tenant-rows tr");
      assert.equal(await page.getAttribute('#nav a[data-screen="tenants"]', "aria-current"), "page");
      assert.equal(await page.title(), "cb Admin · Tenants");
      const rootRow = page.locator("#tenant-rows tr", { has: page.locator('code:text-is("root")') });
      assert.match(await rootRow.textContent(), /Cannot be disabled or deleted/);
      assert.equal(await rootRow.locator("button").count(), 1, "the root's row has only its Copy button");
      assert.equal(await page.locator('#a-action option[value="tenant."]').count(), 1, "the root's audit trail can be narrowed to tenant events");
      await noHorizontalScroll(page, "tenants");
      await check(page, viewport, "tenants");
    });

    await step(`[${w}] the root's role editor offers the Tenants permissions`, async () => {
      await navTo("roles");
      await page.waitForSelector("#role-rows tr");
      await press("#role-new");
      await page.waitForSelector("#role-dialog[open]");
      assert.equal(await page.locator("#perm-tenants-view").count(), 1);
      assert.match(await page.textContent("#ro-perms-list"), /Tenants/);
      await page.keyboard.press("Escape");
      await closed(page, "role-dialog");
      await navTo("tenants");
      await page.waitForSelector("#tenant-rows tr");
    });

    await step(`[${w}] New tenant: each error beside its field, in the form's words`, async () => {
      await press("#tenant-new");
      await page.waitForSelector("#tenant-dialog[open]");
      await assertFocus(page, "#t-slug", "New tenant opens on Slug");
      await submitTenant();
      assert.match(await page.textContent("#tenant-summary"), /^3 problems to fix/);
      assert.match(await page.textContent("#t-slug-error"), /^Slug is required/);
      assert.match(await page.textContent("#t-name-error"), /^Name is required/);
      assert.match(await page.textContent("#t-email-error"), /^Administrator's email is required/);
      assert.equal(await page.textContent("#t-password-error"), "", "the password is optional");
      await assertFocus(page, "#t-slug", "the first invalid field");
      await fill("#t-slug", "Acme County");
      await fill("#t-name", tenantName);
      await fill("#t-email", "not-an-address");
      await fill("#t-password", "short");
      await submitTenant();
      await page.waitForFunction(() => document.querySelector("#t-slug-error").textContent.length > 0);
      assert.match(await page.textContent("#t-slug-error"), /^Slug may hold only lowercase letters a-z, digits 0-9 and hyphens/);
      assert.match(await page.textContent("#t-email-error"), /^Administrator's email must be a valid email address/);
      assert.match(await page.textContent("#t-password-error"), /^Administrator's password must be at least 12 characters/);
      for (const id of ["#t-slug-error", "#t-email-error", "#t-password-error"]) assert.doesNotMatch(await page.textContent(id), /admin_|\bslug\b/);
      assert.equal(await page.getAttribute("#t-slug", "aria-invalid"), "true");
      assert.match(await page.getAttribute("#t-slug", "aria-describedby"), /t-slug-error/);
      await noHorizontalScroll(page, "New tenant");
      await check(page, viewport, "new-tenant-errors");
      await fill("#t-slug", "root");
      assert.equal(await page.textContent("#t-slug-error"), "", "an error clears as its field changes");
      await fill("#t-email", tenantAdmin);
      await fill("#t-password", "");
      await submitTenant();
      await page.waitForFunction(() => document.querySelector("#t-slug-error").textContent.length > 0);
      assert.equal(await page.textContent("#t-slug-error"), "Slug root is the root tenant's: choose another.");
      assert.match(await page.textContent("#tenant-summary"), /^1 problem to fix/);
    });

    let generated = "";
    await step(`[${w}] New tenant with no password shows the generated one once, with Copy, and lists the tenant`, async () => {
      await fill("#t-slug", slug);
      await submitTenant();
      await page.waitForSelector("#tenant-result:not([hidden])");
      assert.equal(await page.textContent("#tenant-dialog-title"), `Tenant ${tenantName} created`);
      assert.ok(await page.isHidden("#tenant-submit"), "nothing more to submit");
      assert.equal((await page.textContent("#tenant-cancel")).trim(), "Close");
      generated = await page.textContent("#tenant-password");
      assert.ok(generated.length >= 12, "a generated password");
      assert.match(await page.textContent("#tenant-once"), /Shown once\..*cannot be shown again/);
      const created = await page.textContent("#tenant-created");
      assert.ok(created.includes(tenantAdmin) && created.includes(`${tenantBase}/admin`), created);
      await assertFocus(page, "#tenant-copy-slot button", "focus moves to Copy");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.querySelector("#tenant-copy-slot button").textContent === "Copied");
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), generated);
      await said(`Tenant ${tenantName} created`);
      await noHorizontalScroll(page, "generated password");
      await check(page, viewport, "new-tenant-password");
      await page.keyboard.press("Escape");
      await closed(page, "tenant-dialog");
      await assertFocus(page, "#tenant-new", "focus returns to New tenant");
      // Cleared by the dialog's close event, which comes a moment after it
      // shuts (the browser may hand focus back before it).
      await page.waitForFunction(() => document.querySelector("#tenant-password").textContent === "", null, { timeout: 2000 })
        .catch(() => assert.fail("the password leaves the page with the dialog"));
      assert.equal(await row.count(), 1, "the new tenant is listed");
      const text = await row.textContent();
      assert.ok(text.includes(tenantName) && text.includes(tenantBase) && text.includes("Enabled"), text);
      await noHorizontalScroll(page, "tenants listed");
      await check(page, viewport, "tenants-listed");
      const posts = calls.filter((c) => c.method === "POST" && c.path === "/admin/v1/tenants");
      assert.equal(posts.length, 3, "two refused, one created");
    });

    await step(`[${w}] New tenant with a chosen password closes at once and lists the tenant: nothing to show`, async () => {
      const chosen = `${slug}-b`;
      await press("#tenant-new");
      await page.waitForSelector("#tenant-dialog[open]");
      assert.equal(await page.textContent("#tenant-dialog-title"), "New tenant", "a fresh dialog, not the last one's result");
      assert.ok(await page.isVisible("#tenant-ask") && await page.isHidden("#tenant-result"));
      await fill("#t-slug", chosen);
      await fill("#t-name", `${tenantName} B`);
      await fill("#t-email", tenantAdmin);
      await fill("#t-password", "a chosen administrator password");
      await submitTenant();
      await closed(page, "tenant-dialog");
      await said(`Tenant ${tenantName} B created at ${tenantBase}-b`);
      const listed = page.locator("#tenant-rows tr", { has: page.locator(`code:text-is("${chosen}")`) });
      assert.equal(await listed.count(), 1);
      await assertFocus(page, `a[aria-label="Open console of ${chosen}"]`, "focus on the new tenant's row");
      const r = await fetch(`${tenantBase}-b/admin/v1/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: tenantAdmin, password: "a chosen administrator password" }) });
      assert.equal(r.status, 201, "its Administrator signs in with the chosen password");
      await call(rootToken, "DELETE", `/admin/v1/tenants/${chosen}`);
    });

    await step(`[${w}] the tenant's console: its slug in the header, a session of its own, no Tenants tab`, async () => {
      assert.equal(await row.locator("a").getAttribute("href"), `${tenantBase}/admin`);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${tenantBase}/admin`),
        press(`a[aria-label="Open console of ${slug}"]`),
      ]);
      const csp = response.headers()["content-security-policy"] || "";
      assert.ok(csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'") && !csp.includes("unsafe"), `the tenant's console page carries the console's policy: ${csp}`);
      assert.equal(response.headers()["x-content-type-options"], "nosniff");
      await page.waitForSelector("#signin:not([hidden])");
      assert.equal((await page.textContent("#tenant-tag")).trim(), `Tenant ${slug}`);
      assert.match(await page.textContent("#si-tenant"), new RegExp(`Tenant ${slug}: sign in`));
      assert.equal(await page.title(), `cb Admin (${slug}) · Sign in`);
      await check(page, viewport, "tenant-sign-in");
      await fill("#si-email", tenantAdmin);
      await fill("#si-password", generated);
      await press("#signin button[type=submit]");
      await page.waitForSelector("#applications:not([hidden])");
      assert.ok(await page.isHidden("#nav-tenants"), "no Tenants tab in a tenant's console");
      assert.equal(await page.locator('#a-action option[value="tenant."]').count(), 0, "no tenant events to filter in a tenant's trail");
      assert.equal(await page.locator('#nav a[data-screen="tenants"]:visible').count(), 0);
      assert.match(await page.textContent("#who"), /Signed in as Administrator/);
      await noHorizontalScroll(page, "tenant console");
      await check(page, viewport, "tenant-console");
      const tenantSession = await page.evaluate((b) => sessionStorage.getItem("cb-session:" + b), `/t/${slug}`);
      assert.ok(tenantSession && tenantSession !== rootSession, "the tenant's session is kept apart from the root's");
      const under = calls.filter((c) => c.path.startsWith(`/t/${slug}/`));
      assert.ok(under.some((c) => c.path === `/t/${slug}/admin/v1/sessions`), "signed in at the tenant's base URL");
      assert.ok(under.some((c) => c.path === `/t/${slug}/api/v1/me`), "asks the tenant who is signed in");
      assert.ok(under.every((c) => c.auth !== `Bearer ${rootSession}`), "the root's token is never sent to the tenant");
      // A Tenants address typed in by hand shows the applications instead.
      await page.goto(`${tenantBase}/admin#/tenants`);
      await page.waitForSelector("#applications:not([hidden])");
      assert.ok(await page.isHidden("#tenants"));
      const denied = calls.filter((c) => c.path.startsWith(`/t/${slug}/admin/v1/tenants`));
      assert.deepEqual(denied, [], "the tenant's console never asks for tenants");
    });

    await step(`[${w}] the tenant's role editor has no Tenants permissions`, async () => {
      await navTo("roles");
      await page.waitForSelector("#role-rows tr");
      await press("#role-new");
      await page.waitForSelector("#role-dialog[open]");
      assert.equal(await page.locator("#perm-tenants-view").count(), 0, "no tenants module in a tenant");
      assert.ok(await page.isVisible("#perm-admin-view"));
      await page.keyboard.press("Escape");
      await closed(page, "role-dialog");
    });

    await step(`[${w}] an application registered in the tenant's console has the tenant's Callback URL`, async () => {
      await navTo("applications");
      await page.waitForSelector("#applications:not([hidden])");
      await press("#new");
      await page.waitForSelector("#app-dialog[open]");
      await fill("#f-name", appName);
      await fill("#f-email", `partner-${w}@acme.example.org`);
      if (byKeyboard) { await tabTo(page, "#f-roles-list input"); await page.keyboard.press("Space"); }
      else await page.locator("#f-roles-list input").first().check();
      await press("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      await said(`Application ${appName} registered`);
      const details = page.locator("#rows tr.details:not([hidden])");
      assert.ok((await details.textContent()).includes(tenantBase), "the Callback URL is the tenant's base URL");
      await check(page, viewport, "tenant-application");
    });

    await step(`[${w}] the root's console is still signed in and does not list the tenant's application`, async () => {
      await page.goto(`${base}/admin#/applications`);
      await page.waitForSelector("#applications:not([hidden])");
      assert.equal((await page.textContent("#tenant-tag")).trim(), "Root tenant");
      assert.equal(await page.evaluate(() => sessionStorage.getItem("cb-session")), rootSession, "the root's session is untouched");
      await fill("#q-name", appName);
      await press("#search button[type=submit]");
      // The first page may still be arriving as the search starts: the search's own answer is awaited.
      await page.waitForFunction(() => !document.querySelector("#empty").hidden && /No application matches/.test(document.querySelector("#empty").textContent));
      const listed = await call(rootToken, "GET", `/admin/v1/external-applications?name=${encodeURIComponent(appName)}`);
      assert.deepEqual(listed.items, [], "the root's API does not list it either");
      await press("#search-clear");
    });

    await step(`[${w}] Disable asks first, then the tenant's people cannot sign in; Enable brings them back`, async () => {
      await page.goto(`${base}/admin#/tenants`);
      await page.waitForSelector("#tenant-rows tr");
      await page.waitForTimeout(300);
      assert.ok(await page.isHidden("#new"), "no Register button on the Tenants screen, even when the applications answer late");
      await press(`button[aria-label="Disable tenant ${slug}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-title"), `Disable tenant ${tenantName}?`);
      assert.ok(await page.isHidden("#confirm-type-row"), "disabling needs no typing");
      await assertFocus(page, "#confirm-dialog .cancel", "Cancel is the safe first focus");
      await check(page, viewport, "disable-tenant");
      await press("#confirm-ok");
      await closed(page, "confirm-dialog");
      await said(`Tenant ${tenantName} disabled`);
      assert.equal((await row.locator(".status-off").textContent()).trim(), "Disabled");
      await assertFocus(page, `button[aria-label="Enable tenant ${slug}"]`, "focus on Enable");
      const r = await fetch(`${tenantBase}/admin/v1/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: tenantAdmin, password: generated }) });
      assert.ok(r.status === 401 || r.status === 403, `a disabled tenant's Administrator cannot sign in (${r.status})`);
      await page.keyboard.press("Enter");
      await said(`Tenant ${tenantName} enabled`);
      assert.equal((await row.locator(".status-on").textContent()).trim(), "Enabled");
    });

    await step(`[${w}] Delete asks for the slug to be typed, sends nothing until it is, then removes the tenant`, async () => {
      const deletes = () => calls.filter((c) => c.method === "DELETE" && c.path.startsWith("/admin/v1/tenants/")).length;
      await press(`button[aria-label="Delete tenant ${slug}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-title"), `Delete tenant ${tenantName}?`);
      assert.equal(await page.textContent("#confirm-type-label"), `To confirm, type its slug ${slug}`);
      await assertFocus(page, "#confirm-type", "the slug field comes first");
      await check(page, viewport, "delete-tenant");
      await page.keyboard.press("Enter");
      assert.match(await page.textContent("#confirm-type-error"), new RegExp(`^Type ${slug} exactly as shown: nothing was deleted`));
      assert.equal(await page.getAttribute("#confirm-type", "aria-invalid"), "true");
      await page.keyboard.insertText(`${slug}x`);
      assert.equal(await page.textContent("#confirm-type-error"), "", "the error clears as the field changes");
      await press("#confirm-ok");
      assert.match(await page.textContent("#confirm-type-error"), /exactly as shown/);
      await page.waitForTimeout(200);
      assert.equal(deletes(), 0, "nothing sent before the slug is typed");
      await check(page, viewport, "delete-tenant-mistyped");
      await fill("#confirm-type", slug);
      await press("#confirm-ok");
      await closed(page, "confirm-dialog");
      await said(`Tenant ${tenantName} deleted`);
      assert.equal(await row.count(), 0);
      assert.equal(deletes(), 1);
      await assertFocus(page, "#tenants-title", "focus on the screen's title");
      const gone = await fetch(`${tenantBase}/admin`);
      assert.equal(gone.status, 404, "its console is gone with it");
    });
    await context.close();
  }
});
