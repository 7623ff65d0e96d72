"""Webhook deliveries checked by the Standard Webhooks reference library.

    webhooks.py BASE CERT KEY

BASE is a running server that trusts CERT's CA and may reach loopback;
CERT and KEY are the receiver's. The administrator's credentials come from
CASEBOOK_ADMIN_EMAIL and CASEBOOK_ADMIN_PASSWORD. Prints one line per
check; exits 1 when any fails.
"""

import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BASE, CERT, KEY = sys.argv[1:4]
EMAIL = os.environ["CASEBOOK_ADMIN_EMAIL"]
PASSWORD = os.environ["CASEBOOK_ADMIN_PASSWORD"]

received = []  # (path, headers, body)
answers = {"/siem": [204], "/flaky": [500, 200], "/moved": [302], "/elsewhere": [200]}
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with lock:
            received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            statuses = answers.get(self.path, [404])
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        self.send_response(status)
        if status == 302:
            self.send_header("location", "/elsewhere")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
receiver = f"https://127.0.0.1:{server.server_address[1]}"

failures = 0


def check(ok, what):
    global failures
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures += 1


def call(method, path, body=None, bearer=None, expect=200):
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = "Bearer " + bearer
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    assert status == expect, (method, path, status, text[:300])
    return json.loads(text) if text else None


def wait_for(path, count, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with lock:
            got = [r for r in received if r[0] == path]
        if len(got) >= count:
            return got
        time.sleep(0.1)
    with lock:
        return [r for r in received if r[0] == path]


session = call("POST", "/admin/v1/sessions", {"email": EMAIL, "password": PASSWORD}, expect=201)["token"]
hooks = {}
for path, events in [("/siem", ["role.*"]), ("/flaky", ["role.created"]), ("/moved", ["role.created"])]:
    created = call("POST", "/admin/v1/webhooks", {"url": receiver + path, "events": events}, session, expect=201)
    hooks[path] = created
check(all(h["secret"].startswith("whsec_") for h in hooks.values()), "each webhook's secret is whsec_")

roles = [call("POST", "/admin/v1/roles", {"name": f"CI role {i}", "permissions": ["engage:view"]}, session,
              expect=201) for i in range(5)]
call("POST", "/admin/v1/users", {"email": "not-sent@agency.example.org", "name": "Not sent",
                                 "password": "a long enough password", "roles": []}, session, expect=201)

siem = wait_for("/siem", 5)
check(len(siem) == 5, f"/siem took the 5 role.created events ({len(siem)})")
verified = 0
for _, headers, body in siem:
    try:
        payload = Webhook(hooks["/siem"]["secret"]).verify(body, headers)
    except WebhookVerificationError as e:
        check(False, f"standardwebhooks verifies a delivery: {e}")
        continue
    verified += 1
    ok = (payload["type"] == "role.created" and payload["data"]["action"] == "role.created"
          and payload["data"]["id"] == headers["webhook-id"] and "timestamp" in payload)
    check(ok, f"delivery {headers['webhook-id']} has type, timestamp and the audit event as data")
check(verified == len(siem), f"standardwebhooks verified {verified} of {len(siem)} deliveries")
ids = sorted(h["webhook-id"] for _, h, _ in siem)
check(ids == sorted(set(ids)), "each event was delivered once")
check(sorted(p["data"]["target_id"] for p in (json.loads(b) for _, _, b in siem)) == sorted(r["id"] for r in roles),
      "the deliveries are the roles made")
try:
    Webhook(hooks["/flaky"]["secret"]).verify(siem[0][2], siem[0][1])
    check(False, "another webhook's secret refuses the delivery")
except WebhookVerificationError:
    check(True, "another webhook's secret refuses the delivery")

# The first attempt is answered 500; the retry 5 s later gets a 200.
flaky = wait_for("/flaky", 6, seconds=40)
first_ids = [h["webhook-id"] for _, h, _ in flaky]
check(len(flaky) >= 6, f"/flaky was tried again after its 500 ({len(flaky)} requests for 5 events)")
time.sleep(1)
listed = call("GET", f"/admin/v1/webhooks/{hooks['/flaky']['id']}/deliveries", bearer=session)["items"]
statuses = sorted(d["status"] for d in listed)
check(statuses == ["delivered"] * 5, f"every /flaky delivery ends delivered: {statuses}")
retried = [d for d in listed if d["attempts"] == 2]
check(len(retried) == 1, "one delivery took two attempts")
if retried:
    again = [Webhook(hooks["/flaky"]["secret"]).verify(b, h) for _, h, b in flaky if h["webhook-id"] == retried[0]["id"]]
    check(len(again) == 2, "the retry carries the same webhook-id and verifies")

moved = wait_for("/moved", 5)
time.sleep(0.5)
with lock:
    elsewhere = [r for r in received if r[0] == "/elsewhere"]
check(len(moved) >= 5 and not elsewhere, f"a 302 is not followed ({len(moved)} tries at /moved, none at /elsewhere)")
listed = call("GET", f"/admin/v1/webhooks/{hooks['/moved']['id']}/deliveries", bearer=session)["items"]
check(all(d["status"] == "pending" and d["response_status"] == 302 for d in listed),
      "a redirected delivery is pending, answered 302")

server.shutdown()
sys.exit(1 if failures else 0)
