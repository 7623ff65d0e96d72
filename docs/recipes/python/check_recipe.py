"""Runs the Python recipe against a live Casebook: `.ci/recipes.sh` does, in CI.

    CASEBOOK_URL=http://127.0.0.1:8080 CASEBOOK_CLIENT_ID=… CASEBOOK_CLIENT_SECRET=… \\
        python docs/recipes/python/check_recipe.py

The application needs `engage:view` and `engage:create` (the seeded Engage
Worker role). Prints one line per check and `N passed, N failed`; exits
non-zero when any check failed.
"""

from __future__ import annotations

import os
import sys
import traceback
import uuid

import httpx

from casebook_recipe import Casebook, Problem

BASE = os.environ["CASEBOOK_URL"].rstrip("/")
CLIENT_ID = os.environ["CASEBOOK_CLIENT_ID"]
# As a secret is often read from a file: with its trailing newline.
CLIENT_SECRET = os.environ["CASEBOOK_CLIENT_SECRET"] + "\n"
CASES = "/api/v1/engage/cases"

checks = []


def check(function):
    checks.append(function)
    return function


@check
def a_token_is_fetched_once_and_reused(cb: Casebook) -> None:
    me = cb.get("/api/v1/me")
    assert me["kind"] == "application", me
    assert me["client_id"] == CLIENT_ID, me
    assert "engage:create" in me["permissions"], me
    cb.get(CASES, limit=1)
    cb.get("/api/v1/me")
    assert cb.auth.fetched == 1, f"{cb.auth.fetched} tokens for three calls"


@check
def a_post_with_an_idempotency_key_is_done_once(cb: Casebook) -> None:
    key = str(uuid.uuid4())
    body = {"title": f"Recipe case {key[:8]}", "description": "Opened by the Python recipe"}
    first = cb.request("POST", CASES, json=body, idempotency_key=key)
    assert first.status_code == 201, first.status_code
    again = cb.request("POST", CASES, json=body, idempotency_key=key)
    assert again.status_code == 201, again.status_code
    assert again.json()["id"] == first.json()["id"], "the retry opened a second case"
    assert again.headers.get("idempotent-replayed") == "true", dict(again.headers)
    # Without a key of the caller's, the recipe makes one per call.
    other = cb.post(CASES, body)
    assert other["id"] != first.json()["id"]


@check
def pages_are_followed_to_the_end(cb: Casebook) -> None:
    opened = {cb.post(CASES, {"title": f"Paged case {n}"})["id"] for n in range(5)}
    pages = list(cb.pages(CASES, limit=2))
    seen = [case["id"] for page in pages for case in page]
    assert len(seen) == len(set(seen)), "a case came twice"
    assert opened <= set(seen), "a case went missing"
    assert len(pages) >= 3 and all(len(page) <= 2 for page in pages), [len(p) for p in pages]
    assert len(list(cb.items(CASES))) == len(seen)


@check
def a_422_is_a_problem_with_every_field(cb: Casebook) -> None:
    try:
        cb.post(CASES, {"title": "", "status": "lost"})
    except Problem as problem:
        assert problem.status == 422, problem
        fields = {(e.field, e.code) for e in problem.errors}
        assert ("title", "required") in fields, fields
        assert any(field == "status" for field, _ in fields), fields
        assert problem.title and problem.detail, problem
        assert problem.request_id, "no X-Request-Id to quote"
    else:
        raise AssertionError("an empty title was accepted")


@check
def a_404_is_a_problem_too(cb: Casebook) -> None:
    try:
        cb.get(f"{CASES}/{uuid.uuid4()}")
    except Problem as problem:
        assert problem.status == 404 and problem.type == "about:blank", problem
        assert problem.request_id, "no X-Request-Id to quote"
    else:
        raise AssertionError("a case that does not exist was found")


@check
def a_revoked_token_is_replaced_once(cb: Casebook) -> None:
    token = cb.auth.token()
    before = cb.auth.fetched
    revoked = httpx.post(f"{BASE}/oauth2/revoke", data={"token": token},
                         auth=(CLIENT_ID, CLIENT_SECRET.strip()), timeout=10)
    assert revoked.status_code == 200, revoked.text
    # The raw call sees the 401 the recipe hides.
    refused = httpx.get(f"{BASE}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
    me = cb.get("/api/v1/me")
    assert me["client_id"] == CLIENT_ID
    assert cb.auth.fetched == before + 1, f"{cb.auth.fetched - before} new tokens"
    assert cb.auth.token() != token


@check
def a_wrong_secret_is_not_retried(cb: Casebook) -> None:
    from casebook_recipe import TokenError

    with Casebook(BASE, CLIENT_ID, "cbs_not-the-secret") as wrong:
        try:
            wrong.get("/api/v1/me")
        except TokenError as error:
            assert error.status == 401 and error.error == "invalid_client", error
        else:
            raise AssertionError("a wrong secret got a token")
        assert wrong.auth.fetched == 0


def main() -> int:
    passed = failed = 0
    with Casebook(BASE, CLIENT_ID, CLIENT_SECRET) as cb:
        for function in checks:
            name = function.__name__.replace("_", " ")
            try:
                function(cb)
            except Exception:  # noqa: BLE001 - every failure is reported
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {name}")
    print(f"recipe: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
