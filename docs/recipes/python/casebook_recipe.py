"""Calling Casebook from Python with httpx: the recipe of docs/recipes.md.

Copy this file into your project (it needs only ``httpx``). It keeps what
every Casebook client needs in one place:

- ``ClientCredentials``: an ``httpx.Auth`` that gets a token with the client
  credentials grant, caches it until shortly before it expires, and when a
  call answers 401 ``invalid_token`` (the token was revoked or ended early)
  gets a new one and sends the call again, once.
- ``Casebook``: ``get``/``post``/``patch``/``delete`` that raise ``Problem`` for
  an RFC 9457 problem document, ``pages``/``items`` that follow
  ``next_cursor``, and a ``post`` that sends an ``Idempotency-Key`` and retries
  with the same key, so a timeout never opens a case twice.

    with Casebook("https://casebook.example.org", client_id, client_secret) as cb:
        print(cb.get("/api/v1/me"))
        case = cb.post("/api/v1/engage/cases", {"title": "Family of four"})
        for case in cb.items("/api/v1/engage/cases"):
            ...

For a tenant, the base URL is the tenant's: ``https://casebook.example.org/t/acme``.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

import httpx

PROBLEM_JSON = "application/problem+json"
# Get a new token this long before the old one expires, so that a token
# never runs out between being read and being checked by the server.
EXPIRY_MARGIN_SECONDS = 60
# Answers worth sending the same request again for (a POST with the same
# key). A 409 is one only with `Retry-After`: the first request with this
# key is still running. Any other 409 is a conflict to resolve, not to retry.
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


@dataclass
class FieldError:
    field: str
    code: str
    message: str


class Problem(Exception):
    """An RFC 9457 problem document, or any other answer that is not a success.

    ``errors`` lists every refused field of a 422; ``request_id`` is the
    server's ``X-Request-Id``: quote it when you ask for help.
    """

    def __init__(self, response: httpx.Response):
        self.status = response.status_code
        self.request_id = response.headers.get("x-request-id")
        body: dict[str, Any] = {}
        if response.headers.get("content-type", "").startswith(PROBLEM_JSON):
            try:
                body = response.json()
            except ValueError:
                body = {}
        self.type = body.get("type", "about:blank")
        self.title = body.get("title", response.reason_phrase)
        self.detail = body.get("detail", response.text[:200])
        self.errors = [
            FieldError(e.get("field", ""), e.get("code", ""), e.get("message", ""))
            for e in body.get("errors") or []
        ]
        # Other members (``missing_permissions``, ``holders``, …) stay readable here.
        self.body = body
        super().__init__(f"{self.status} {self.title}: {self.detail} (request id {self.request_id})")


class TokenError(Exception):
    """The token endpoint refused: an RFC 6749 ``error`` such as ``invalid_client``."""

    def __init__(self, response: httpx.Response):
        try:
            body = response.json()
        except ValueError:
            body = {}
        self.status = response.status_code
        self.error = body.get("error", "")
        self.description = body.get("error_description", "")
        self.request_id = response.headers.get("x-request-id")
        super().__init__(f"token endpoint {self.status} {self.error}: {self.description}")


def invalid_token(response: httpx.Response) -> bool:
    """RFC 6750: a 401 whose challenge says the token itself is no good."""
    if response.status_code != 401:
        return False
    challenges = ", ".join(response.headers.get_list("www-authenticate"))
    return 'error="invalid_token"' in challenges


@dataclass
class ClientCredentials(httpx.Auth):
    """Bearer tokens from the client credentials grant, cached and re-fetched.

    One instance serves every thread of the process: the lock makes sure one
    token request runs at a time, and the others use its answer.
    """

    token_url: str
    client_id: str
    client_secret: str
    scope: str | None = None
    # How many tokens were fetched: for logs, metrics and the recipe's test.
    fetched: int = 0
    _token: str | None = field(default=None, repr=False)
    _expires_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # A secret pasted with a trailing newline is the same secret.
        self.client_secret = self.client_secret.strip()

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - EXPIRY_MARGIN_SECONDS:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token``, unless another thread already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        # A client of its own: the token request must not go through this Auth.
        with httpx.Client(timeout=10) as http:
            response = http.post(self.token_url, data=form, auth=(self.client_id, self.client_secret))
        if response.status_code != 200:
            raise TokenError(response)
        answer = response.json()
        self._token = answer["access_token"]
        self._expires_at = time.monotonic() + float(answer.get("expires_in", 3600))
        self.fetched += 1

    def auth_flow(self, request: httpx.Request):
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if invalid_token(response):
            # Revoked, or ended by a secret rotation: one new token, one
            # more try. A second 401 is the caller's to see.
            self.invalidate(token)
            request.headers["Authorization"] = f"Bearer {self.token()}"
            yield request


class Casebook:
    """A small client for the Casebook API at ``base_url`` (the install's or a tenant's)."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, timeout: float = 10, attempts: int = 3):
        base_url = base_url.rstrip("/")
        self.auth = ClientCredentials(f"{base_url}/oauth2/token", client_id, client_secret)
        self.attempts = attempts
        self.http = httpx.Client(base_url=base_url, auth=self.auth, timeout=timeout)

    def __enter__(self) -> "Casebook":
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                idempotency_key: str | None = None) -> httpx.Response:
        headers = {}
        if method == "POST":
            # One key per logical call, the same on every retry of it: the
            # server answers a repeat with the first answer
            # (`Idempotent-Replayed: true`) and does nothing twice.
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        # GET, PATCH and DELETE are safe to repeat as they are; a POST is
        # safe with its key. Each try waits a little longer.
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.http.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError:
                if attempt == self.attempts:
                    raise
                time.sleep(0.5 * attempt)
                continue
            if retryable(response) and attempt < self.attempts:
                time.sleep(retry_after(response, default=0.5 * attempt))
                continue
            if response.is_success:
                return response
            if method == "DELETE" and response.status_code == 404 and attempt > 1:
                return response  # the try that timed out removed it
            raise Problem(response)
        raise AssertionError("unreachable")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    def post(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        return self.request("POST", path, json=body, idempotency_key=idempotency_key).json()

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body).json()

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def pages(self, path: str, *, limit: int = 100) -> Iterator[list[Any]]:
        """Every page of a list: ``limit`` 1 to 100, then ``next_cursor`` until it is null."""
        params: dict[str, Any] = {"limit": limit}
        while True:
            page = self.get(path, **params)
            yield page["items"]
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def items(self, path: str, *, limit: int = 100) -> Iterator[Any]:
        for page in self.pages(path, limit=limit):
            yield from page


def retryable(response: httpx.Response) -> bool:
    if response.status_code == 409:
        return "retry-after" in response.headers
    return response.status_code in RETRY_STATUSES


def retry_after(response: httpx.Response, default: float) -> float:
    """``Retry-After`` in seconds (Casebook sends seconds), capped for a script."""
    try:
        return min(float(response.headers.get("retry-after", default)), 30.0)
    except ValueError:
        return default
