"""Forward auth behind a real nginx and a real Caddy (.ci/forward-auth.sh
starts them, and Casebook, with deploy/forward-auth/'s files).

    python3 .ci/forward_auth.py CASEBOOK_URL UPSTREAM_PORT NAME=PROXY_URL...

Serves the upstream itself (an http.server on UPSTREAM_PORT that answers
every request with JSON: its method, its path and the X-Casebook-* headers
it received, and records every request it gets), registers roles and
applications through the admin API, and checks through each proxy:

- a public route passes without a token, and without identity headers
  even when the client sends its own;
- an allowed request reaches the upstream with the identity headers
  Casebook answered, never with the ones the client forged; an admin
  session passes as a user;
- a token without the permission is 403 (insufficient_scope), none or a
  bad one 401 with WWW-Authenticate, a method no route has 403;
- a path traversal, an encoded slash or backslash, and forged
  X-Forwarded-Uri / X-Original-URI headers are refused and never reach the
  upstream;
- a DPoP-bound token passes with a proof of the URL the client called
  through the proxy, and not without one;
- a revoked token, and a token whose role lost the permission, are refused
  within 5 s.

One line per check; exits 1 when any check fails. Standard library only,
plus the `openssl` command for DPoP's ES256 keys.
"""

import base64
import hashlib
import http.client
import http.server
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from faultlib import expect, request

ADMIN_EMAIL = os.environ["CASEBOOK_ADMIN_EMAIL"]
ADMIN_PASSWORD = os.environ["CASEBOOK_ADMIN_PASSWORD"]
# How long a revocation or a role's change may take to hold (the contract).
LIVE_SECONDS = 5.0
IDENTITY = ("x-casebook-tenant", "x-casebook-account-kind", "x-casebook-account-id",
            "x-casebook-client-id", "x-casebook-permissions")
ALLOWED_PATH = "/placements/v2/children/1"
NEEDED = "placements:view"

failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", flush=True)
    if not ok:
        failures.append(name)


# ----------------------------------------------------------------- upstream


class Upstream(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port):
        super().__init__(("127.0.0.1", port), Echo)
        self.seen = []
        self.lock = threading.Lock()

    def reached(self, marker):
        with self.lock:
            return [r for r in self.seen if r["marker"] == marker]


class Echo(http.server.BaseHTTPRequestHandler):
    """Echoes the request's method, path (as received) and X-Casebook-*
    headers as JSON, and records them for the checks."""

    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        received = {
            "method": self.command,
            "path": self.path,
            "marker": self.headers.get("X-Test-Marker"),
            # Every X-Casebook-* header as received, all values of each.
            "headers": {name.lower(): self.headers.get_all(name) for name in set(self.headers.keys())
                        if name.lower().startswith(("x-casebook", "x_casebook"))},
        }
        with self.server.lock:
            self.server.seen.append(received)
        body = json.dumps(received).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *_):
        pass


# ----------------------------------------------------------------- HTTP


def call(base, method, path, headers=None, timeout=10):
    """One request with `path` sent exactly as given (no normalisation):
    (status, headers, body text)."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode(errors="replace")
    finally:
        conn.close()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DpopKey:
    """An ES256 key made and used with the openssl command."""

    def __init__(self, directory):
        self.pem = os.path.join(directory, f"dpop-{secrets.token_hex(4)}.pem")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.pem],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "ec", "-in", self.pem, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        point = der[-65:]
        assert point[0] == 4, "an uncompressed P-256 point"
        self.jwk = {"kty": "EC", "crv": "P-256", "x": b64url(point[1:33]), "y": b64url(point[33:])}

    def sign(self, data):
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.pem], input=data,
                             check=True, capture_output=True).stdout
        # ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, to r || s.
        at = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
        values = []
        for _ in range(2):
            assert der[at] == 0x02
            length = der[at + 1]
            values.append(int.from_bytes(der[at + 2:at + 2 + length], "big"))
            at += 2 + length
        return b"".join(v.to_bytes(32, "big") for v in values)

    def proof(self, method, url, token=None):
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}
        claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        if token is not None:
            claims["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        return f"{signing_input}.{b64url(self.sign(signing_input.encode()))}"


# ----------------------------------------------------------------- Casebook


class Casebook:
    def __init__(self, base):
        self.base = base
        self.session = expect(request(base, "POST", "/admin/v1/sessions",
                                      json_body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
                              201, "sign in")["token"]

    def admin(self, method, path, body, status):
        return expect(request(self.base, method, path, json_body=body, bearer=self.session), status,
                      f"{method} {path}")

    def role(self, name, permissions):
        return self.admin("POST", "/admin/v1/roles", {"name": name, "permissions": permissions}, 201)["id"]

    def application(self, name, roles):
        app = self.admin("POST", "/admin/v1/external-applications",
                         {"name": name, "email": f"forward-auth+{secrets.token_hex(4)}@casebook.example.org",
                          "roles": roles}, 201)
        secret = self.admin("POST", f"/admin/v1/external-applications/{app['id']}/client-secret/reveal",
                            {"password": ADMIN_PASSWORD}, 200)["client_secret"]
        return {"id": app["id"], "client_id": app["client_id"], "secret": secret}

    def token(self, app, dpop=None):
        headers = {}
        if dpop is not None:
            headers["DPoP"] = dpop.proof("POST", f"{self.base}/oauth2/token")
        status, body = request_form(self.base, "/oauth2/token", {"grant_type": "client_credentials"},
                                    (app["client_id"], app["secret"]), headers)
        if status != 200:
            raise RuntimeError(f"token for {app['client_id']}: {status} {body}")
        return body["access_token"]

    def revoke(self, app, token):
        status, body = request_form(self.base, "/oauth2/revoke", {"token": token},
                                    (app["client_id"], app["secret"]), {})
        if status != 200:
            raise RuntimeError(f"revoke: {status} {body}")


def request_form(base, path, form, basic, headers):
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        user, password = (urllib.parse.quote(p, safe="") for p in basic)
        all_headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
            **headers,
        }
        conn.request("POST", path, body=urllib.parse.urlencode(form), headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        conn.close()


# ----------------------------------------------------------------- checks


def through(proxy_name, proxy, casebook, upstream, workdir):
    prefix = f"{proxy_name}: "
    tag = f"{proxy_name} {secrets.token_hex(3)}"
    viewer_role = casebook.role(f"Forward auth viewer {tag}", [NEEDED, "intake:view"])
    shrinking_role = casebook.role(f"Forward auth shrinking {tag}", [NEEDED, "intake:view"])
    viewer = casebook.application(f"Forward auth viewer {tag}", [viewer_role])
    # A built-in role without placements:view.
    outsider = casebook.application(f"Forward auth outsider {tag}", ["engage-worker"])
    shrinking = casebook.application(f"Forward auth shrinking {tag}", [shrinking_role])
    viewer_token = casebook.token(viewer)

    def send(method, path, token=None, scheme="Bearer", headers=None):
        """Through the proxy, marked so that the upstream's record says
        whether it got there: (status, headers, body, reached)."""
        marker = secrets.token_hex(8)
        all_headers = {"X-Test-Marker": marker, **(headers or {})}
        if token is not None:
            all_headers["Authorization"] = f"{scheme} {token}"
        status, answer_headers, body = call(proxy, method, path, all_headers)
        return status, answer_headers, body, upstream.reached(marker)

    def refused(name, answer, statuses, challenge=None):
        status, headers, body, reached = answer
        problems = []
        if status not in statuses:
            problems.append(f"status {status}, not {' or '.join(map(str, statuses))}")
        if reached:
            problems.append(f"the upstream got it: {reached}")
        if challenge is not None:
            found = " | ".join(headers.get_all("WWW-Authenticate") or [])
            if challenge not in found:
                problems.append(f"WWW-Authenticate {found!r} lacks {challenge!r}")
        check(prefix + name, not problems, "; ".join(problems) + f" ({body[:160]!r})")

    def allowed(name, answer, expect_identity):
        status, _, body, reached = answer
        problems = []
        if status != 200:
            problems.append(f"status {status}")
        if len(reached) != 1:
            problems.append(f"the upstream got it {len(reached)} times")
        else:
            seen = reached[0]["headers"]
            if seen != expect_identity:
                problems.append(f"the upstream saw {seen}, not {expect_identity}")
        check(prefix + name, not problems, "; ".join(problems) + f" ({body[:160]!r})")

    forged = {
        "X-Casebook-Tenant": "another-agency",
        "X-Casebook-Account-Kind": "user",
        "X-Casebook-Account-Id": "forged",
        "X-Casebook-Client-Id": "cb_forged",
        "X-Casebook-Permissions": "admin:delete tenants:delete",
        "X_Casebook_Permissions": "admin:delete",
    }

    # --- allowed, and the identity the upstream sees
    allowed("a public route passes without a token, with no identity headers (forged ones dropped)",
            send("GET", "/status", headers=forged), {})
    # The effective permissions, in the catalogue's order.
    viewer_permissions = f"intake:view {NEEDED}"
    answer = send("GET", ALLOWED_PATH, viewer_token, headers=forged)
    allowed(f"GET {ALLOWED_PATH} with {NEEDED} reaches the upstream with Casebook's identity headers, "
            "not the client's forged ones",
            answer, {
                "x-casebook-tenant": ["root"],
                "x-casebook-account-kind": ["application"],
                "x-casebook-account-id": [viewer["id"]],
                "x-casebook-client-id": [viewer["client_id"]],
                "x-casebook-permissions": [viewer_permissions],
            })
    status, _, _, reached = send("GET", ALLOWED_PATH + "?q=1&x=%2F", viewer_token)
    check(prefix + "the query plays no part in matching, and reaches the upstream as sent",
          status == 200 and len(reached) == 1 and reached[0]["path"] == ALLOWED_PATH + "?q=1&x=%2F",
          f"{status} {reached}")
    status, _, _, reached = send("HEAD", ALLOWED_PATH, viewer_token)
    check(prefix + "HEAD, the route's second method, passes", status == 200 and len(reached) == 1,
          f"{status} {reached}")
    answer = send("GET", ALLOWED_PATH, casebook.session, headers={"X-Casebook-Client-Id": "cb_forged"})
    status, _, _, reached = answer
    seen = reached[0]["headers"] if len(reached) == 1 else {}
    check(prefix + "an admin session passes as a user, without a Client ID (a forged one dropped)",
          status == 200 and seen.get("x-casebook-account-kind") == ["user"] and "x-casebook-client-id" not in seen,
          f"{status} {seen}")

    # --- refused
    outsider_token = casebook.token(outsider)
    refused(f"a token without {NEEDED}: 403 insufficient_scope, not forwarded",
            send("GET", ALLOWED_PATH, outsider_token), (403,), challenge="insufficient_scope")
    refused("no token: 401 with WWW-Authenticate, not forwarded",
            send("GET", ALLOWED_PATH), (401,), challenge="Bearer")
    refused("a token that is not one: 401, not forwarded",
            send("GET", ALLOWED_PATH, "not-a-token"), (401,), challenge="invalid_token")
    refused("a method no route has (DELETE with placements:view only): 403, not forwarded",
            send("DELETE", ALLOWED_PATH, viewer_token), (403,))
    refused("a path no route has: 403, not forwarded",
            send("GET", "/placements/v2/children/1/moves", viewer_token), (403,))

    # --- what a proxy and the service could read differently
    refused("path traversal /status/../placements/v2/children/1 without a token: refused, not forwarded",
            send("GET", "/status/../placements/v2/children/1"), (401, 403))
    refused("path traversal /status/%2e%2e/placements/v2/children/1 without a token: refused, not forwarded",
            send("GET", "/status/%2e%2e/placements/v2/children/1"), (401, 403))
    refused("encoded slash /placements%2Fv2/children/1, even with the permission: 403, not forwarded",
            send("GET", "/placements%2Fv2/children/1", viewer_token), (403,))
    refused("encoded slash /status%2F..%2Fplacements/v2/children/1: refused, not forwarded",
            send("GET", "/status%2F..%2Fplacements/v2/children/1"), (401, 403))
    refused("encoded backslash /placements%5Cv2/children/1, even with the permission: 403, not forwarded",
            send("GET", "/placements%5Cv2/children/1", viewer_token), (403,))
    refused("a client's own X-Forwarded-Uri / X-Original-URI naming a public route: refused, not forwarded",
            send("GET", ALLOWED_PATH, headers={
                "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/status",
                "X-Original-Method": "GET", "X-Original-URI": "/status",
            }), (401,))

    # --- DPoP: the proof names the URL the client called, through the proxy
    key = DpopKey(workdir)
    bound = casebook.token(viewer, dpop=key)
    url = proxy + ALLOWED_PATH
    status, _, body, reached = send("GET", ALLOWED_PATH, bound, scheme="DPoP",
                                    headers={"DPoP": key.proof("GET", url, bound)})
    check(prefix + "a DPoP-bound token with a proof of the proxy's URL passes",
          status == 200 and len(reached) == 1, f"{status} {body[:200]!r}")
    refused("a DPoP-bound token with a proof of Casebook's own URL instead: 401, not forwarded",
            send("GET", ALLOWED_PATH, bound, scheme="DPoP",
                 headers={"DPoP": key.proof("GET", casebook.base + ALLOWED_PATH, bound)}), (401,))
    refused("a DPoP-bound token sent as Bearer: 401, not forwarded", send("GET", ALLOWED_PATH, bound), (401,))

    # --- live: revocation and a role's change hold within 5 s
    def refused_within(name, token, status_wanted, change):
        status, _, _, _ = send("GET", ALLOWED_PATH, token)
        if status != 200:
            check(prefix + name, False, f"before the change it was already {status}")
            return
        change()
        began = time.monotonic()
        while True:
            status, _, body, reached = send("GET", ALLOWED_PATH, token)
            took = time.monotonic() - began
            if status == status_wanted and not reached:
                check(prefix + f"{name} ({took:.2f} s)", True)
                return
            if took > LIVE_SECONDS:
                check(prefix + name, False, f"still {status} after {took:.2f} s ({body[:160]!r})")
                return
            time.sleep(0.1)

    doomed = casebook.token(viewer)
    refused_within("a token revoked at /oauth2/revoke is refused (401) within 5 s", doomed, 401,
                   lambda: casebook.revoke(viewer, doomed))
    shrinking_token = casebook.token(shrinking)
    refused_within(f"a token whose role lost {NEEDED} is refused (403) within 5 s", shrinking_token, 403,
                   lambda: casebook.admin("PATCH", f"/admin/v1/roles/{shrinking_role}",
                                          {"permissions": ["intake:view"]}, 200))
    status, _, _, reached = send("GET", ALLOWED_PATH, viewer_token)
    check(prefix + "the other token of the same application still passes", status == 200 and len(reached) == 1,
          f"{status}")


def main():
    casebook_url, upstream_port = sys.argv[1], int(sys.argv[2])
    proxies = [arg.split("=", 1) for arg in sys.argv[3:]]
    upstream = Upstream(upstream_port)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    casebook = Casebook(casebook_url)
    with tempfile.TemporaryDirectory() as workdir:
        for name, url in proxies:
            try:
                through(name, url, casebook, upstream, workdir)
            except Exception as e:  # a setup step that failed: one line, and on
                check(f"{name}: the checks ran to the end", False, f"{type(e).__name__}: {e}")
    upstream.shutdown()
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("every check passed", flush=True)


if __name__ == "__main__":
    main()
