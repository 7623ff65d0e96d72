"""Notices reach the application's mailbox through a real SMTP server.

Starts aiosmtpd on loopback and a fresh `casebook serve` that relays to it
and takes GitHub secret-scanning alerts under a key made here. Registers an
application, reveals its secret, reports that secret leaked with a signed
alert, and waits for the registration and leak notices to arrive, each
addressed to the application with the right text; the leaked secret no
longer opens the token endpoint.

    notices.py BINARY

Prints one line per check; exits non-zero when any fails.
"""

import base64
import email
import email.policy
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ADMIN_EMAIL = "notices-admin@casebook.example.org"
ADMIN_PASSWORD = "notices " + os.urandom(8).hex()
PARTNER_EMAIL = "leaky@partner.example.org"
LEAK_URL = "https://github.com/acme/sync/blob/abc123/config.env"
KEY_ID = "ci-secret-scanning-key"

failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(name)


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = f"Subject: {message['subject']}\n\n{message.get_content()}"
        self.messages.append((list(envelope.rcpt_tos), text))
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, token=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, (json.loads(text) if text else None)


def token_status(base, client_id, secret):
    form = f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}".encode()
    request = urllib.request.Request(base + "/oauth2/token", data=form, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main(binary):
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    reporter = ec.generate_private_key(ec.SECP256R1())
    pem = reporter.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    work = tempfile.mkdtemp()
    keys_file = os.path.join(work, "secret-scanning-keys.json")
    with open(keys_file, "w") as f:
        json.dump({"public_keys": [{"key_identifier": KEY_ID, "key": pem, "is_current": True}]}, f)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        CASEBOOK_ADDR=f"127.0.0.1:{port}",
        CASEBOOK_DATABASE_URL=f"sqlite://{work}/casebook.db",
        CASEBOOK_ADMIN_EMAIL=ADMIN_EMAIL,
        CASEBOOK_ADMIN_PASSWORD=ADMIN_PASSWORD,
        CASEBOOK_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        CASEBOOK_SECRET_SCANNING_KEYS=keys_file,
        CASEBOOK_LOG="warn",
    )
    env.pop("CASEBOOK_TOKEN_SIGNING_ALG", None)
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        status, session = call(base, "POST", "/admin/v1/sessions", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        check("sign in", status == 201, status)
        admin = session["token"]
        status, app = call(
            base, "POST", "/admin/v1/external-applications",
            {"name": "Leaky Sync", "email": PARTNER_EMAIL, "roles": ["engage-worker"]}, admin,
        )
        check("register", status == 201, app)
        status, shown = call(
            base, "POST", f"/admin/v1/external-applications/{app['id']}/client-secret/reveal",
            {"password": ADMIN_PASSWORD}, admin,
        )
        secret = shown["client_secret"]
        check("the secret opens the token endpoint", token_status(base, app["client_id"], secret) == 200)

        alert = json.dumps([{"token": secret, "type": "casebook_client_secret", "url": LEAK_URL, "source": "content"}]).encode()
        signature = base64.b64encode(reporter.sign(alert, ec.ECDSA(hashes.SHA256()))).decode()
        status, verdicts = call(
            base, "POST", "/secret-scanning/github", raw=alert,
            headers={"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": signature},
        )
        check(
            "the signed alert is a true positive",
            status == 200 and verdicts == [{
                "token_hash": hashlib.sha256(secret.encode()).hexdigest(),
                "token_type": "casebook_client_secret",
                "label": "true_positive",
            }],
            (status, verdicts),
        )
        check("the leaked secret is ended", token_status(base, app["client_id"], secret) == 401)

        # The housekeeping loop delivers due notices every few seconds.
        deadline = time.time() + 30
        wanted = ("is registered", "was found in public")
        while time.time() < deadline and not all(any(w in m for _, m in inbox.messages) for w in wanted):
            time.sleep(0.5)
        for fragment in wanted:
            found = [(to, m) for to, m in inbox.messages if fragment in m]
            check(f"the notice that Leaky Sync {fragment} arrived", bool(found), [m[:200] for _, m in inbox.messages])
            if found:
                to, message = found[0]
                check(f"  addressed to {PARTNER_EMAIL}", to == [PARTNER_EMAIL], to)
                check("  without the secret", secret not in message)
        leak = next((m for _, m in inbox.messages if "was found in public" in m), "")
        check("the leak notice names where it was found", LEAK_URL in leak, leak[-600:])
    finally:
        server.terminate()
        server.wait(timeout=15)
        controller.stop()
        log.close()
        if failures:
            print(open(os.path.join(work, "server.log")).read()[-3000:], file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
