// The retry rule against the verdicts both SDKs are held to
// (sdks/fixtures/retry-verdicts.json, which the Rust SDK's tests read too).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ApiError, OAuthError, RetryPolicy, TimeoutError, TransportError, UnexpectedResponseError } from "@casebook/sdk";
// Internal to the package: the one rule every request goes through.
import { keyedVerdict, retryVerdict } from "../dist/retry.js";

const fixture = JSON.parse(readFileSync(new URL("../../fixtures/retry-verdicts.json", import.meta.url), "utf8"));

function errorOf({ kind, status, code, retry_after_secs: secs, not_sent: notSent }) {
  const retryAfterMs = secs === undefined ? undefined : secs * 1000;
  switch (kind) {
    case "api":
      return new ApiError(status, { type: "about:blank", title: "", status, detail: "" }, retryAfterMs);
    case "unexpected_response":
      return new UnexpectedResponseError(status, "", retryAfterMs);
    case "oauth":
      return new OAuthError(code, undefined, status, retryAfterMs);
    case "timeout":
      return new TimeoutError();
    case "transport":
      return new TransportError(notSent);
    default:
      throw new Error(`an error kind the fixture does not define: ${kind}`);
  }
}

test("every verdict of the shared fixture holds", () => {
  const policy = new RetryPolicy({
    maxRetries: fixture.policy.max_retries,
    maxRetryAfterMs: fixture.policy.max_retry_after_secs * 1000,
  });
  assert.ok(fixture.cases.length > 40, "the fixture was read whole");
  for (const c of fixture.cases) {
    const verdict = retryVerdict(policy, c.method, errorOf(c.error), c.attempt);
    assert.deepEqual({ retry: verdict.retry, why: verdict.why }, { retry: c.retry, why: c.why }, JSON.stringify(c));
  }
});

test("every verdict for a POST with an Idempotency-Key (the fixture's keyed_cases) holds", () => {
  const policy = new RetryPolicy({
    maxRetries: fixture.policy.max_retries,
    maxRetryAfterMs: fixture.policy.max_retry_after_secs * 1000,
  });
  assert.ok(fixture.keyed_cases.length > 20, "the fixture was read whole");
  for (const c of fixture.keyed_cases) {
    const verdict = keyedVerdict(policy, errorOf(c.error), c.attempt, c.may_be_running);
    assert.deepEqual({ retry: verdict.retry, why: verdict.why }, { retry: c.retry, why: c.why }, JSON.stringify(c));
  }
});
