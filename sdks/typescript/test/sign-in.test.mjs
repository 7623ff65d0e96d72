// Signing in strongly against the real server: enrolment, the second step
// as an error that finishes itself, a sign-in with the code at once, codes
// for the secret calls, the tenant's setting, resets; and no code or token
// in a string, JSON or inspect.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import { ApiError, Client, SecondFactorRequiredError } from "@casebook/sdk";
import { ADMIN_EMAIL, ADMIN_PASSWORD, startServer } from "./harness.mjs";

/** RFC 4648 base32, as an enrolment shows the secret. */
function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes = [];
  let value = 0;
  let bits = 0;
  for (const c of text.replace(/=+$/, "").toUpperCase()) {
    value = ((value << 5) | alphabet.indexOf(c)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** The code an authenticator app shows at `atMs` (RFC 6238: SHA-1, 6 digits, 30 s). */
function totp(secret, atMs = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 30_000)));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const at = mac[19] & 0x0f;
  const number = (((mac[at] & 0x7f) << 24) | (mac[at + 1] << 16) | (mac[at + 2] << 8) | mac[at + 3]) % 1_000_000;
  return String(number).padStart(6, "0");
}

/** Every way an object may end up in a log. */
function shown(value) {
  return [String(value), JSON.stringify(value) ?? "", inspect(value, { depth: 5 }), inspect({ value }, { depth: 5 })].join("\n");
}

let server;
let anonymous;
let admin;
let secret;
let codes;
before(async () => {
  server = await startServer();
  anonymous = new Client({ baseUrl: server.url, anonymous: true });
  admin = await anonymous.signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
});
after(async () => {
  await server?.stop();
});

test("an authenticator app is enrolled, and neither its secret nor the recovery codes show", async () => {
  const enrolment = await admin.admin.totp.begin(ADMIN_PASSWORD);
  assert.match(enrolment.secret, /^[A-Z2-7]+=*$/);
  assert.ok(enrolment.otpauth_uri.startsWith("otpauth://totp/"));
  assert.ok(enrolment.qr_svg.includes("<svg"));
  for (const text of [shown(enrolment)]) {
    assert.ok(!text.includes(enrolment.secret), text);
    assert.ok(!text.includes("otpauth"), text);
  }
  await assert.rejects(admin.admin.totp.confirm("000000"), (e) => e instanceof ApiError && e.status === 422 && e.errors[0].field === "code");
  const recovery = await admin.admin.totp.confirm(totp(enrolment.secret));
  assert.equal(recovery.recovery_codes.length, 10);
  const text = shown(recovery);
  assert.ok(recovery.recovery_codes.every((c) => !text.includes(c)), text);
  secret = enrolment.secret;
  codes = recovery.recovery_codes;
  // Enrolled twice is refused: remove first.
  await assert.rejects(admin.admin.totp.begin(ADMIN_PASSWORD), (e) => e instanceof ApiError && e.status === 409);
});

test("the password alone stops at the second step, which a code finishes", async () => {
  const step = await anonymous.signIn(ADMIN_EMAIL, ADMIN_PASSWORD).catch((e) => e);
  assert.ok(step instanceof SecondFactorRequiredError, String(step));
  assert.equal(step.kind, "second_factor_required");
  assert.equal(step.status, 401);
  assert.equal(step.transient, false);
  assert.match(step.detail, /authenticator/);
  assert.equal(step.problem.mfa_token, undefined);
  assert.doesNotMatch(shown(step), /cbmfa_/);
  assert.match(step.requestId, /^[0-9a-f]{32}$/, "the sign-in's request id");

  const person = await step.complete({ recoveryCode: codes[0].toUpperCase() });
  assert.equal((await person.me()).kind, "user");
  // The step works once.
  await assert.rejects(step.complete({ recoveryCode: codes[1] }), (e) => e instanceof ApiError && e.status === 401);

  // A refused code is a new step, which another code finishes.
  const again = await anonymous.signIn(ADMIN_EMAIL, ADMIN_PASSWORD).catch((e) => e);
  assert.ok(again instanceof SecondFactorRequiredError);
  const refused = await again.complete("000000").catch((e) => e);
  assert.ok(refused instanceof SecondFactorRequiredError, String(refused));
  assert.match(refused.detail, /not accepted/);
  assert.doesNotMatch(shown(refused), /cbmfa_/);
  await refused.complete({ recoveryCode: codes[1] });
});

test("the password and the app's code at once sign in; a code is accepted once", async () => {
  // The enrolment spent the code of its step; the app's next one is in the window.
  const next = totp(secret, Date.now() + 30_000);
  const person = await anonymous.signIn({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, totpCode: next });
  assert.equal((await person.me()).kind, "user");
  const reused = await anonymous.signIn({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, totpCode: next }).catch((e) => e);
  assert.ok(reused instanceof SecondFactorRequiredError, String(reused));
  // Its step takes a recovery code instead.
  await reused.complete({ recoveryCode: codes[2] });
  await person.signOut();
});

test("the secret calls take a code beside the password", async () => {
  const apps = admin.admin.applications;
  const app = await apps.register({ name: "Coded Partner", email: "coded@partner.example.org", roles: ["engage-worker"] });
  await assert.rejects(apps.revealSecret(app.id, ADMIN_PASSWORD), (e) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 403);
    assert.match(e.detail, /totp_code/);
    return true;
  });
  const revealed = await apps.revealSecret(app.id, { password: ADMIN_PASSWORD, recoveryCode: codes[3] });
  assert.equal(revealed.client_id, app.client_id);
  const rotated = await apps.rotateSecret(app.id, { password: ADMIN_PASSWORD, recoveryCode: codes[4] }, 60);
  assert.notEqual(rotated.client_secret.expose(), revealed.client_secret.expose());
  const added = await apps.addSecret(app.id, { password: ADMIN_PASSWORD, recoveryCode: codes[5] }, { label: "staging" });
  assert.equal(added.label, "staging");
  const byId = await apps.revealSecretById(app.id, added.id, { password: ADMIN_PASSWORD, recoveryCode: codes[6] });
  assert.equal(byId.client_secret.expose(), added.client_secret.expose());
  // A spent recovery code is refused.
  await assert.rejects(
    apps.revealSecret(app.id, { password: ADMIN_PASSWORD, recoveryCode: codes[6] }),
    (e) => e instanceof ApiError && e.status === 403 && /not accepted/.test(e.detail),
  );
});

test("the tenant's setting, and removing the app", async () => {
  assert.deepEqual(await admin.admin.settings.get(), { require_mfa_for_admins: false });
  assert.equal((await admin.admin.settings.requireMfaForAdmins(true)).require_mfa_for_admins, true);
  assert.equal((await admin.admin.settings.get()).require_mfa_for_admins, true);
  // Required of this administrator, the app stays.
  await assert.rejects(
    admin.admin.totp.remove({ password: ADMIN_PASSWORD, recoveryCode: codes[7] }),
    (e) => e instanceof ApiError && e.status === 409,
  );
  await admin.admin.settings.change({ require_mfa_for_admins: false });
  await assert.rejects(admin.admin.totp.remove({ password: ADMIN_PASSWORD }), (e) => e instanceof ApiError && e.status === 403);
  await admin.admin.totp.remove({ password: ADMIN_PASSWORD, recoveryCode: codes[8] });
  const person = await anonymous.signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
  await person.signOut();
});

test("a reset is accepted for any address, and a link that is not one is refused", async () => {
  await anonymous.requestPasswordReset("nobody@agency.example.org");
  await anonymous.requestPasswordReset(ADMIN_EMAIL);
  await assert.rejects(
    anonymous.setPassword("not-a-link-token", "a sturdy passphrase for work"),
    (e) => e instanceof ApiError && e.status === 400,
  );
});

test("a problem asking an administrator to enrol says so", () => {
  const e = new ApiError(403, {
    type: "about:blank",
    title: "Forbidden",
    status: 403,
    detail: "enrol first",
    mfa_enrolment_required: true,
  });
  assert.equal(e.secondFactorEnrolmentRequired, true);
  assert.equal(new ApiError(403, { type: "about:blank", title: "Forbidden", status: 403, detail: "no" }).secondFactorEnrolmentRequired, false);
});
