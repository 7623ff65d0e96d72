"""Notices reach the application's mailbox through a real SMTP server.

Starts aiosmtpd on loopback and a fresh `casebook serve` that relays to it
and takes GitHub secret-scanning alerts under a key made here. Registers an
application, reveals its secret, reports that secret leaked with a signed
alert, and waits for the registration and leak notices to arrive, each
addressed to the application with the right text; the leaked secret no
longer opens the token endpoint.

Then a second aiosmtpd that requires STARTTLS and AUTH, under a self-signed
certificate made here, and a second server that relays to it with
`smtp+starttls://` and trusts that certificate through
CASEBOOK_EXTRA_CA_FILE: a registration notice arrives, sent under TLS by
the relay's user.

    notices.py BINARY

Prints one line per check; exits non-zero when any fails.
"""

import base64
import datetime
import email
import email.policy
import hashlib
import ipaddress
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ADMIN_EMAIL = "notices-admin@casebook.example.org"
ADMIN_PASSWORD = "notices " + os.urandom(8).hex()
PARTNER_EMAIL = "leaky@partner.example.org"
LEAK_URL = "https://github.com/acme/sync/blob/abc123/config.env"
KEY_ID = "ci-secret-scanning-key"
RELAY_USER = "casebook@agency.example.org"
# Characters a URL must escape, so the server's decoding is exercised too.
RELAY_PASSWORD = "relay p@ss:" + os.urandom(6).hex() + "+&%"
SEALED_EMAIL = "sealed@partner.example.org"

failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(name)


class Inbox:
    def __init__(self):
        self.messages = []
        # (under TLS, authenticated as) for each message, in order.
        self.sessions = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = f"Subject: {message['subject']}\n\n{message.get_content()}"
        self.messages.append((list(envelope.rcpt_tos), text))
        self.sessions.append((session.ssl is not None, session.auth_data))
        return "250 OK"


def relay_login(server, session, envelope, mechanism, auth_data):
    """aiosmtpd's authenticator: the one user and password, nothing else."""
    ok = auth_data.login == RELAY_USER.encode() and auth_data.password == RELAY_PASSWORD.encode()
    return AuthResult(success=ok, auth_data=RELAY_USER if ok else None)


def self_signed(work):
    """A certificate for 127.0.0.1 that signs itself, and its key, as PEM
    files: the relay's, and the one CASEBOOK_EXTRA_CA_FILE names."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.notices.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        # An end entity that is its own trust anchor: a CA certificate
        # would be refused as a server's.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = os.path.join(work, "relay-cert.pem")
    key_file = os.path.join(work, "relay-key.pem")
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_file, key_file


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


def start_server(binary, work, smtp_url, **settings):
    """A fresh `casebook serve` on its own port and SQLite file; its base URL,
    process and log file, once it answers /readyz."""
    port = free_port()
    env = dict(
        os.environ,
        CASEBOOK_ADDR=f"127.0.0.1:{port}",
        CASEBOOK_DATABASE_URL=f"sqlite://{work}/casebook.db",
        CASEBOOK_ADMIN_EMAIL=ADMIN_EMAIL,
        CASEBOOK_ADMIN_PASSWORD=ADMIN_PASSWORD,
        CASEBOOK_SMTP_URL=smtp_url,
        CASEBOOK_LOG="warn",
        **settings,
    )
    env.pop("CASEBOOK_TOKEN_SIGNING_ALG", None)
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            break
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
    return base, server, log


def stop_server(server, log, work):
    server.terminate()
    server.wait(timeout=15)
    log.close()
    if failures:
        print(open(os.path.join(work, "server.log")).read()[-3000:], file=sys.stderr)


def wait_for(inbox, fragments, seconds=30):
    """The housekeeping loop delivers due notices every few seconds."""
    deadline = time.time() + seconds
    while time.time() < deadline and not all(any(w in m for _, m in inbox.messages) for w in fragments):
        time.sleep(0.5)


def starttls(binary):
    """A registration notice through a relay that requires STARTTLS and AUTH."""
    inbox = Inbox()
    work = tempfile.mkdtemp()
    cert_file, key_file = self_signed(work)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    smtp_port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=smtp_port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=relay_login,
    )
    # aiosmtpd warns on every AUTH that a field it sets itself is deprecated.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    controller.start()
    userinfo = urllib.parse.quote(RELAY_USER, safe="") + ":" + urllib.parse.quote(RELAY_PASSWORD, safe="")
    base, server, log = start_server(
        binary,
        work,
        f"smtp+starttls://{userinfo}@127.0.0.1:{smtp_port}",
        CASEBOOK_EXTRA_CA_FILE=cert_file,
    )
    try:
        status, session = call(base, "POST", "/admin/v1/sessions", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        check("STARTTLS: sign in", status == 201, status)
        status, app = call(
            base, "POST", "/admin/v1/external-applications",
            {"name": "Sealed Sync", "email": SEALED_EMAIL, "roles": ["engage-worker"]}, session["token"],
        )
        check("STARTTLS: register", status == 201, app)
        wait_for(inbox, ["is registered"])
        found = [i for i, (_, m) in enumerate(inbox.messages) if "Sealed Sync is registered" in m]
        check("STARTTLS: the registration notice arrived", bool(found), [m[:200] for _, m in inbox.messages])
        if found:
            to, _ = inbox.messages[found[0]]
            check(f"  addressed to {SEALED_EMAIL}", to == [SEALED_EMAIL], to)
            check(
                f"  sent under TLS, authenticated as {RELAY_USER}",
                inbox.sessions[found[0]] == (True, RELAY_USER),
                inbox.sessions[found[0]],
            )
    finally:
        stop_server(server, log, work)
        controller.stop()


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
    base, server, log = start_server(
        binary, work, f"smtp://127.0.0.1:{smtp_port}", CASEBOOK_SECRET_SCANNING_KEYS=keys_file
    )
    try:
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

        wanted = ("is registered", "was found in public")
        wait_for(inbox, wanted)
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
        stop_server(server, log, work)
        controller.stop()
    starttls(binary)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
