// The audit trail screen: names beside IDs, actions in words, what changed,
// where a request came from, filters by who, what and when, the exports,
// the loading and error states, and every time with its zone. At 1366 and
// 390 px, by mouse and by keyboard, with axe on every state.
import { readFile } from "node:fs/promises";
import { assert, base, WIDTHS, open, step, check, signIn, tabTo, assertFocus, noHorizontalScroll, finish, adminToken, call, roleId } from "./harness.mjs";

const tag = Date.now().toString(36);

// The admin API's answer as text (an export is not JSON).
async function exportText(token, params) {
  const r = await fetch(`${base}/admin/v1/audit-events/export?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, "export through the API");
  return r.text();
}

// A time zone's name at the end of a printed time: "UTC", "GMT+2", "CET", "PST".
const ZONE = /\b(UTC|GMT(?:[+-]\d{1,2}(?::\d{2})?)?|[A-Z]{2,5}[+-]?\d*)$/;

await finish(async () => {
  const token = await adminToken();
  const me = await call(token, "GET", "/api/v1/me");
  const data = {};

  await step("events made through the admin API: an application, a role, an account named like the root one", async () => {
    const worker = await roleId(token, "Engage Worker");
    const auditor = await roleId(token, "Auditor");
    const app = await call(token, "POST", "/admin/v1/external-applications", { name: `Harbor Referral Bridge ${tag}`, email: `bridge-${tag}@harbor.example.org`, roles: [worker] });
    await call(token, "PATCH", `/admin/v1/external-applications/${app.id}`, { roles: [worker, auditor] });
    await call(token, "PATCH", `/admin/v1/external-applications/${app.id}`, { enabled: false });
    const role = await call(token, "POST", "/admin/v1/roles", { name: `Intake reviewers ${tag}`, permissions: ["intake:view"] });
    await call(token, "PATCH", `/admin/v1/roles/${role.id}`, { permissions: ["intake:edit"] });
    const password = `lookalike password ${tag}`;
    const email = `lookalike-${tag}@agency.example.org`;
    const user = await call(token, "POST", "/admin/v1/users", { name: me.name, email, password, roles: [auditor] });
    const theirs = await adminToken(email, password);
    await call(theirs, "DELETE", "/admin/v1/sessions/current");
    await call(token, "PATCH", `/admin/v1/users/${user.id}`, { password: `${password} renewed` });
    const events = (await call(token, "GET", "/admin/v1/audit-events?limit=100")).items;
    const find = (action, target) => {
      const e = events.find((x) => x.action === action && x.target_id === target);
      assert.ok(e, `the trail holds ${action} of ${target}`);
      return e;
    };
    Object.assign(data, {
      app, role, user, email,
      disabled: find("application.disabled", app.id),
      changed: find("application.changed", app.id),
      roleChanged: find("role.changed", role.id),
      signedIn: events.find((x) => x.action === "session.created" && x.actor.id === user.id),
    });
    assert.ok(data.signedIn, "the look-alike's sign-in is in the trail");
    assert.equal(data.signedIn.actor.name, me.name, "two accounts share a name");
    assert.notEqual(data.signedIn.actor.id, me.id);
  });

  // Waits until the list is loaded and every row is of `action`.
  const rowsAre = (page, action) => page.waitForFunction((a) => {
    const rows = [...document.querySelectorAll("#audit-rows tr")];
    return document.querySelector("#audit-loading").hidden && rows.length > 0 && rows.every((r) => r.dataset.action === a);
  }, action);
  // What a row's changes say on screen (without the words only a screen reader hears).
  const seen = (locator) => locator.evaluate((e) => { const c = e.cloneNode(true); c.querySelectorAll(".sr-only").forEach((n) => n.remove()); return c.innerText || c.textContent; });
  const rowOf = (page, action, target) => page.locator(`#audit-rows tr[data-action="${action}"]`, { has: page.locator(`.target-cell code:text-is("${target}")`) });

  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const { context, page } = await open(viewport);
    const openAudit = async () => {
      await page.click('#nav a[data-screen="audit"]');
      await page.waitForSelector("#audit-rows tr");
    };

    await step(`[${w}] names beside IDs, actions in words, every time with its zone`, async () => {
      await signIn(page);
      await openAudit();
      const row = rowOf(page, "application.disabled", data.app.id);
      assert.equal(await row.count(), 1, "the disabling is listed once");
      assert.equal((await row.locator("td.action-cell").textContent()).trim(), "Application disabled");
      const target = await row.locator("td.target-cell").innerText();
      assert.match(target, new RegExp(`Harbor Referral Bridge ${tag}`), "the target's name");
      assert.match(target, /Application/, "the target's kind");
      assert.ok(await row.locator(`.target-cell code:text-is("${data.app.id}")`).isVisible(), "the target's ID beside its name");
      assert.match(await row.locator("td.who-cell").innerText(), new RegExp(`${me.name}\\s+User`), "the actor's name and kind");
      assert.equal((await rowOf(page, "role.changed", data.role.id).locator("td.action-cell").textContent()).trim(), "Role changed");
      const time = row.locator("td.when-cell time");
      assert.equal(await time.getAttribute("datetime"), data.disabled.at);
      assert.match((await time.textContent()).trim(), ZONE, "the time says its zone");
      const times = await page.$$eval("#audit-rows td.when-cell", (cells) => cells.map((c) => c.textContent.trim()));
      assert.ok(times.length > 0 && times.every((t) => /\b(UTC|GMT|[A-Z]{2,5})[+-]?[\d:]*$/.test(t)), `every time has a zone: ${times.slice(0, 3)}`);
      await noHorizontalScroll(page, "audit trail");
      await check(page, viewport, "audit-names");
    });

    await step(`[${w}] two accounts with one name: each row says whose it is`, async () => {
      const theirs = page.locator(`#audit-rows tr[data-action="session.created"]`, { has: page.locator(`.who-cell code:text-is("${data.user.id}")`) });
      assert.equal(await theirs.count(), 1, "the look-alike's sign-in");
      assert.ok(await theirs.locator(`.who-cell code:text-is("${data.user.id}")`).isVisible(), "the look-alike's ID is shown");
      assert.equal((await theirs.locator("td.action-cell").textContent()).trim(), "Signed in");
      const mine = rowOf(page, "application.disabled", data.app.id);
      assert.ok(await mine.locator(`.who-cell code:text-is("${me.id}")`).isVisible(), "the root administrator's ID is shown too");
      // An ID is shown exactly where the name alone is ambiguous: a name no
      // other account on the page carries needs none.
      const cells = await page.$$eval("#audit-rows .who-cell", (tds) => tds.map((c) => ({ name: c.querySelector(".who-name").textContent, kind: c.querySelector(".kind").textContent, id: c.querySelector("code").textContent, shown: !c.querySelector("code").hidden })));
      const accounts = new Map();
      for (const c of cells) accounts.set(c.name, (accounts.get(c.name) || new Set()).add(c.kind + c.id));
      for (const c of cells) assert.equal(c.shown, accounts.get(c.name).size > 1, `${c.name} (${c.id}): ID shown only when the name is shared`);
      assert.ok(cells.some((c) => !c.shown) || [...accounts.values()].every((a) => a.size > 1), "some name on the page stands alone, or every name is shared");
    });

    await step(`[${w}] what changed, and the request's source and ID`, async () => {
      const changed = rowOf(page, "application.changed", data.app.id);
      assert.match(await seen(changed.locator(".changes")), /Roles: Engage Worker\s*→\s*Auditor, Engage Worker/);
      assert.match(await seen(rowOf(page, "application.disabled", data.app.id).locator(".changes")), /Enabled: yes\s*→\s*no/);
      const role = rowOf(page, "role.changed", data.role.id);
      const roleChanges = await role.locator(".changes").innerText();
      assert.match(roleChanges, /Permissions added: intake:edit/);
      assert.match(roleChanges, /Permissions removed: intake:view/);
      const password = page.locator(`#audit-rows tr[data-action="user.changed"]`, { has: page.locator(`.target-cell code:text-is("${data.user.id}")`) });
      assert.match(await password.locator(".changes").innerText(), /^Password changed$/);
      // Source and request ID: behind the row's "Request" disclosure.
      const request = role.locator("details.request");
      assert.ok(!(await request.locator("dl").isVisible()), "closed at first");
      await request.locator("summary").click();
      const text = await request.locator("dl").innerText();
      assert.match(text, new RegExp(`Source address\\s+${data.roleChanged.source.replace(/\./g, "\\.")}`));
      assert.ok(data.roleChanged.request_id, "the API gives a request ID");
      assert.match(text, new RegExp(`Request ID\\s+${data.roleChanged.request_id}`));
      await request.scrollIntoViewIfNeeded();
      await noHorizontalScroll(page, "audit trail, a request's details open");
      await check(page, viewport, "audit-changes");
      await request.locator("summary").click();
    });

    await step(`[${w}] filter by action, by a Client ID, by days`, async () => {
      await page.selectOption("#a-action", "application.disabled");
      await page.click('#audit-filter button[type="submit"]');
      await rowsAre(page, "application.disabled");
      const actions = await page.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.dataset.action));
      assert.ok(actions.length > 0 && actions.every((a) => a === "application.disabled"), `only disablings: ${actions}`);
      assert.equal(await rowOf(page, "application.disabled", data.app.id).count(), 1);

      await page.selectOption("#a-action", "");
      await page.fill("#a-search", data.app.client_id);
      await page.click('#audit-filter button[type="submit"]');
      await page.waitForFunction((n) => document.querySelector("#audit-loading").hidden && document.querySelectorAll("#audit-rows tr").length > 0 && [...document.querySelectorAll("#audit-rows tr")].every((r) => r.querySelector(".target-cell code").textContent === n), data.app.id);
      const listed = await page.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.dataset.action));
      const api = (await call(token, "GET", `/admin/v1/audit-events?limit=100&search=${data.app.client_id}`)).items.map((e) => e.action);
      assert.deepEqual(listed, api, "the screen lists what the API finds for the Client ID");
      assert.ok(listed.includes("application.registered") && listed.includes("application.changed"));

      // Days: from tomorrow, nothing; today alone, our events. Each day
      // is sent as the instant it starts in the reader's zone.
      const days = await page.evaluate(() => {
        const iso = (d) => d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
        const now = new Date();
        const start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
        const next = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
        return { today: iso(now), tomorrow: iso(next), since: start.toISOString(), until: next.toISOString(), after: new Date(now.getFullYear(), now.getMonth(), now.getDate() + 2).toISOString() };
      });
      await page.fill("#a-since", days.tomorrow);
      const [later] = await Promise.all([
        page.waitForRequest((r) => new URL(r.url()).pathname === "/admin/v1/audit-events"),
        page.click('#audit-filter button[type="submit"]'),
      ]);
      assert.equal(new URL(later.url()).searchParams.get("since"), days.until, "since: the start of that day");
      await page.waitForSelector("#audit-empty:not([hidden])");
      assert.equal(await page.textContent("#audit-empty"), "No event matches the filter.");
      assert.ok(await page.isHidden("#audit-table"), "no empty table");

      await page.fill("#a-until", days.today);
      await page.click('#audit-filter button[type="submit"]');
      assert.equal(await page.textContent("#a-until-error"), "The end date cannot be before the start date.");
      assert.equal(await page.getAttribute("#a-until", "aria-invalid"), "true");
      await check(page, viewport, "audit-dates-refused");

      await page.fill("#a-since", days.today);
      const [today] = await Promise.all([
        page.waitForRequest((r) => new URL(r.url()).pathname === "/admin/v1/audit-events"),
        page.click('#audit-filter button[type="submit"]'),
      ]);
      const sent = new URL(today.url()).searchParams;
      assert.equal(sent.get("since"), days.since, "since: the start of the first day");
      assert.equal(sent.get("until"), days.until, "until: the start of the day after the last");
      assert.equal(sent.get("search"), data.app.client_id, "the search still applies");
      await page.waitForSelector("#audit-rows tr");
      assert.equal(await rowOf(page, "application.disabled", data.app.id).count(), 1, "today's events are listed");
      assert.equal(await page.getAttribute("#a-until", "aria-invalid"), null, "the error is gone");
      await check(page, viewport, "audit-filtered");
    });

    await step(`[${w}] Export CSV and Export JSON Lines download what the filter finds`, async () => {
      const params = await page.evaluate(() => { const n = new Date(); return { since: new Date(n.getFullYear(), n.getMonth(), n.getDate()).toISOString(), until: new Date(n.getFullYear(), n.getMonth(), n.getDate() + 1).toISOString() }; });
      const [csvDownload] = await Promise.all([page.waitForEvent("download"), page.click("#audit-export-csv")]);
      assert.match(csvDownload.suggestedFilename(), /^audit-events-\d{4}-\d{2}-\d{2}\.csv$/);
      const csv = await readFile(await csvDownload.path(), "utf8");
      const lines = csv.trim().split("\n");
      assert.match(lines[0], /^id,at,tenant,actor_kind,actor_id,actor_name,action,target_kind,target_id,target_name,source,request_id,detail,changes/);
      const shown = await page.locator("#audit-rows tr").count();
      assert.equal(lines.length - 1, shown, "a line per event on screen");
      assert.ok(lines.slice(1).every((l) => l.includes(data.app.id)), "every line is about the application");
      assert.ok(csv.includes(data.disabled.request_id), "the disabling is in it");
      await page.waitForFunction(() => /^Saved audit-events-.*\.csv/.test(document.querySelector("#audit-export-status").textContent));

      const [jsonlDownload] = await Promise.all([page.waitForEvent("download"), page.click("#audit-export-jsonl")]);
      assert.match(jsonlDownload.suggestedFilename(), /^audit-events-\d{4}-\d{2}-\d{2}\.jsonl$/);
      const events = (await readFile(await jsonlDownload.path(), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
      const onScreen = await page.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.dataset.action));
      assert.deepEqual(events.map((e) => e.action), onScreen, "the same events as on screen, in order");
      const fromApi = (await exportText(token, { format: "jsonl", search: data.app.client_id, ...params })).trim().split("\n").map((l) => JSON.parse(l).id);
      assert.deepEqual(events.map((e) => e.id), fromApi, "the same events as the API exports for that filter");
      assert.ok(await page.isEnabled("#audit-export-jsonl"), "the button is ready again");
      await check(page, viewport, "audit-exported");
    });

    await step(`[${w}] loading, then a failed load shows an error with Retry; Retry loads`, async () => {
      await page.click("#a-clear");
      await page.waitForSelector("#audit-rows tr");
      // Held until the loading state is seen.
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      const isList = (url) => url.pathname === "/admin/v1/audit-events";
      await page.route(isList, async (route) => { await held; await route.continue(); });
      await page.click('#audit-filter button[type="submit"]');
      await page.waitForSelector("#audit-loading:not([hidden])");
      assert.equal(await page.getAttribute("#audit-table", "aria-busy"), "true");
      release();
      await page.waitForSelector("#audit-loading", { state: "hidden" });
      await page.unroute(isList);

      await page.route(isList, (route) => route.fulfill({ status: 500, contentType: "application/problem+json", body: JSON.stringify({ title: "Internal Server Error", status: 500, detail: "the server could not read the audit trail" }) }));
      await page.click('#audit-filter button[type="submit"]');
      await page.waitForSelector("#audit-error:not([hidden])");
      assert.equal(await page.textContent("#audit-error-text"), "Could not load the audit trail: The server could not read the audit trail");
      assert.ok(await page.isHidden("#audit-table"), "no table");
      assert.ok(await page.isHidden("#audit-empty"), "not an empty success");
      assert.ok(await page.isHidden("#audit-loading"), "no longer loading");
      await noHorizontalScroll(page, "audit trail error");
      await check(page, viewport, "audit-error");
      await page.unroute(isList);
      await page.click("#audit-retry");
      await page.waitForSelector("#audit-rows tr");
      assert.ok(await page.isHidden("#audit-error"), "the error is gone");
      await assertFocus(page, "#audit-title", "after Retry, focus is on the screen's heading");
    });

    await step(`[${w}] keyboard: search, action, days, a request's details, export`, async () => {
      await page.focus("#audit-title");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#a-search", "Tab from the heading reaches Search");
      await page.keyboard.type(`Intake reviewers ${tag}`);
      await page.keyboard.press("Tab");
      await assertFocus(page, "#a-action", "then Action");
      await page.keyboard.type("Role ch");
      assert.equal(await page.inputValue("#a-action"), "role.changed", "typing picks an action by its name");
      await page.keyboard.press("Shift+Tab");
      await assertFocus(page, "#a-search", "Shift+Tab goes back to Search");
      await page.keyboard.press("Enter");
      await rowsAre(page, "role.changed");
      const actions = await page.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.dataset.action));
      assert.deepEqual(actions, ["role.changed"], "the role's one change");
      await tabTo(page, "#audit-rows details.request summary");
      await page.keyboard.press("Enter");
      assert.ok(await page.locator("#audit-rows details.request dl").isVisible(), "Enter opens the request's details");
      await tabTo(page, "#audit-export-csv", { back: true });
      const [download] = await Promise.all([page.waitForEvent("download"), page.keyboard.press("Enter")]);
      const csv = await readFile(await download.path(), "utf8");
      assert.equal(csv.trim().split("\n").length, 2, "the header and the one event");
      assert.ok(csv.includes(data.roleChanged.id));
      await assertFocus(page, "#audit-export-csv", "focus stays on the export button");
      await tabTo(page, "#a-clear", { back: true });
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.querySelectorAll("#audit-rows tr").length > 1);
      assert.equal(await page.inputValue("#a-search"), "");
      await check(page, viewport, "audit-keyboard");
    });

    await step(`[${w}] other screens print times with their zone`, async () => {
      await page.click('#nav a[data-screen="tenants"]');
      await page.waitForSelector("#tenant-rows tr");
      const created = await page.$$eval('#tenant-rows td[data-label="Created"]', (cells) => cells.map((c) => c.textContent.trim()));
      assert.ok(created.length && created.every((t) => t === "—" || /\b(UTC|GMT|[A-Z]{2,5})[+-]?[\d:]*$/.test(t)), `times with a zone: ${created}`);
      await noHorizontalScroll(page, "tenants");
      await check(page, viewport, "tenants-times");
    });
    await context.close();
  }
});
