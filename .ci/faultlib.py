"""What the fault tests (.ci/ha.py, .ci/pg_fault.py) share: casebook
processes on loopback, a fresh PostgreSQL database, an admin session and an
application, and a paced load of token and `me` requests that records every
answer.

Standard library only: these scripts run on a bare CI machine.
"""

import base64
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
BINARY = os.environ.get("CASEBOOK_BIN") or os.path.join(TARGET, "debug", "casebook")
# Every request of a load is bounded; a client that waits longer than this
# for an answer counts it as failed.
REQUEST_TIMEOUT = 10.0


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def log(message):
    print(message, flush=True)


# ----------------------------------------------------------------- HTTP


def request(base, method, path, *, json_body=None, form=None, bearer=None, basic=None, timeout=REQUEST_TIMEOUT):
    """One request on a fresh connection: (status, parsed JSON or raw text)."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        body, headers = encode(json_body=json_body, form=form, bearer=bearer, basic=basic)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, decode(response)
    finally:
        conn.close()


def encode(*, json_body=None, form=None, bearer=None, basic=None):
    headers = {}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if bearer is not None:
        headers["Authorization"] = "Bearer " + bearer
    if basic is not None:
        user, password = (urllib.parse.quote(part, safe="") for part in basic)
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return body, headers


def decode(response):
    raw = response.read()
    if response.getheader("Content-Type", "").split(";")[0].strip().endswith("json"):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw.decode(errors="replace")


def expect(answer, status, what):
    got, body = answer
    if got != status:
        raise RuntimeError(f"{what}: expected {status}, got {got}: {str(body)[:300]}")
    return body


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {seconds} s")


def ready(base):
    return request(base, "GET", "/readyz", timeout=2)[0] == 200


# ----------------------------------------------------------------- processes


class Replica:
    """One `casebook serve` on loopback; killed and started again at will."""

    def __init__(self, name, database_url, master_key, admin, out_dir, extra_env=None, binary=None):
        self.name = name
        self.binary = binary or BINARY
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.addr}"
        self.env = dict(os.environ)
        self.env.update({
            "CASEBOOK_ADDR": self.addr,
            "CASEBOOK_DATABASE_URL": database_url,
            "CASEBOOK_MASTER_KEY": master_key,
            "CASEBOOK_ADMIN_EMAIL": admin.email,
            "CASEBOOK_ADMIN_PASSWORD": admin.password,
            # The proxy, when there is one, is on loopback.
            "CASEBOOK_TRUSTED_PROXIES": "127.0.0.1/32",
            "CASEBOOK_LOG": os.environ.get("CASEBOOK_LOG", "warn"),
        })
        self.env.update(extra_env or {})
        self.log_path = os.path.join(out_dir, f"{name}.log")
        self.process = None

    def start(self):
        log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=log_file, stderr=log_file)
        log_file.close()
        wait_until(lambda: ready(self.base), 60, f"{self.name} ready")

    def kill(self, signal_number):
        self.process.send_signal(signal_number)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Admin:
    def __init__(self):
        self.email = "fault-admin@casebook.example.org"
        self.password = "fault " + secrets.token_hex(12)
        self.session = None

    def sign_in(self, base):
        self.session = expect(
            request(base, "POST", "/admin/v1/sessions", json_body={"email": self.email, "password": self.password}),
            201, "sign in")["token"]

    def register_application(self, base):
        """An application with the engage-worker role, and its secret."""
        app = expect(request(base, "POST", "/admin/v1/external-applications", bearer=self.session, json_body={
            "name": f"Fault load {secrets.token_hex(4)}",
            "email": "fault-load@casebook.example.org",
            "roles": ["engage-worker"],
        }), 201, "register an application")
        secret = expect(request(
            base, "POST", f"/admin/v1/external-applications/{app['id']}/client-secret/reveal",
            bearer=self.session, json_body={"password": self.password}), 200, "reveal its secret")["client_secret"]
        return app["client_id"], secret


def master_key():
    return base64.b64encode(secrets.token_bytes(32)).decode()


class FreshDatabase:
    """A database of its own on the shared PostgreSQL, dropped afterwards."""

    def __init__(self, server_url="postgres://postgres@127.0.0.1:5432"):
        self.name = f"casebook_fault_{os.getpid()}_{secrets.token_hex(3)}"
        self.server_url = server_url
        self.url = f"{server_url}/{self.name}"

    def __enter__(self):
        self.psql(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *_):
        self.psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def psql(self, sql):
        subprocess.run(["psql", f"{self.server_url}/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql],
                       check=True, stdout=subprocess.DEVNULL)


# ----------------------------------------------------------------- load


class Outcome:
    __slots__ = ("at", "kind", "status", "error", "seconds")

    def __init__(self, at, kind, status, error, seconds):
        self.at = at
        self.kind = kind
        self.status = status
        self.error = error
        self.seconds = seconds


class Load:
    """`workers` threads, each alternating a token request and a `me` call
    through `base` on its own keep-alive connection, paced to `rate` requests
    a second each, for `seconds`. Every answer is recorded with its time."""

    def __init__(self, base, client_id, client_secret, *, workers=6, rate=40, seconds=20):
        self.base = urllib.parse.urlsplit(base)
        self.credentials = (client_id, client_secret)
        self.workers = workers
        self.interval = 1.0 / rate
        self.seconds = seconds
        self.outcomes = []
        self.lock = threading.Lock()
        self.start = None

    def run(self, events=()):
        """Runs the load; `events` are (seconds after start, callable) run on
        this thread while the load goes on."""
        self.start = time.monotonic()
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.workers)]
        for thread in threads:
            thread.start()
        for at, action in sorted(events, key=lambda e: e[0]):
            delay = self.start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            action()
        for thread in threads:
            thread.join(self.seconds + REQUEST_TIMEOUT * 3)
        return self.outcomes

    def connect(self):
        return http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=REQUEST_TIMEOUT)

    def worker(self):
        conn = self.connect()
        token = None
        due = time.monotonic()
        end = self.start + self.seconds
        turn = 0
        while due < end:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            due += self.interval
            kind = "me" if token and turn % 2 else "token"
            turn += 1
            began = time.monotonic()
            status, error, body = None, None, None
            try:
                if kind == "token":
                    payload, headers = encode(form={"grant_type": "client_credentials"}, basic=self.credentials)
                    conn.request("POST", "/oauth2/token", body=payload, headers=headers)
                else:
                    conn.request("GET", "/api/v1/me", headers={"Authorization": "Bearer " + token})
                response = conn.getresponse()
                status = response.status
                body = decode(response)
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = self.connect()
            except (OSError, http.client.HTTPException) as e:
                error = f"{type(e).__name__}: {e}"
                conn.close()
                conn = self.connect()
            if kind == "token" and status == 200:
                token = body["access_token"]
            if status is not None and status != 200:
                error = f"{status} {str(body)[:200]}"
            with self.lock:
                self.outcomes.append(Outcome(began - self.start, kind, status, error, time.monotonic() - began))
        conn.close()


def summarize(outcomes):
    by_kind = {}
    for o in outcomes:
        ok, failed = by_kind.get(o.kind, (0, 0))
        by_kind[o.kind] = (ok + (o.error is None), failed + (o.error is not None))
    return ", ".join(f"{kind}: {ok} ok, {failed} failed" for kind, (ok, failed) in sorted(by_kind.items()))


# ----------------------------------------------------------------- proxy and verdict


def start_proxy(replicas, proxy_port, out):
    """HAProxy with deploy/haproxy.cfg in front of two replicas, answering."""
    env = dict(os.environ, CASEBOOK_PROXY_BIND=f"127.0.0.1:{proxy_port}",
               CASEBOOK_REPLICA_1=replicas[0].addr, CASEBOOK_REPLICA_2=replicas[1].addr)
    proxy_log = open(os.path.join(out, "haproxy.log"), "wb")
    proxy = subprocess.Popen(["haproxy", "-db", "-f", os.path.join(ROOT, "deploy", "haproxy.cfg")],
                             env=env, stdout=proxy_log, stderr=proxy_log)
    wait_until(lambda: ready(f"http://127.0.0.1:{proxy_port}"), 30, "the proxy answering")
    # Both replicas in rotation before any load starts.
    time.sleep(1.5)
    return proxy


def report(outcomes, writer, replicas, admin):
    """Logs what a load and an admin writer saw; answers (failed client
    requests, acknowledged writes missing afterwards on some replica)."""
    failed = [o for o in outcomes if o.error is not None]
    log(f"client requests: {len(outcomes)} ({summarize(outcomes)})")
    for o in failed[:20]:
        log(f"  failed at {o.at:5.2f} s, {o.kind}: {o.error}")
    log(f"admin writes: {len(writer.acknowledged)} acknowledged, {len(writer.failures)} failed")
    for failure in writer.failures[:10]:
        log(f"  not acknowledged: {failure}")
    missing = []
    for replica in replicas:
        for role_id in writer.acknowledged:
            status, _ = request(replica.base, "GET", f"/admin/v1/roles/{role_id}", bearer=admin.session)
            if status != 200:
                missing.append(f"{role_id} on {replica.name}: {status}")
    log(f"acknowledged writes missing afterwards: {len(missing)}")
    for m in missing[:10]:
        log(f"  {m}")
    if failed or writer.failures:
        explain(replicas)
    return failed, missing


def explain(replicas):
    """What the proxy and the replicas logged about failed requests: the
    proxy's lines with a 5xx status (their termination flags say who ended
    the request, and when) and the replicas' errors, so that a failure in
    CI can be understood from its output alone."""
    out = os.path.dirname(replicas[0].log_path)
    sources = [("haproxy", os.path.join(out, "haproxy.log"), lambda line: re.search(r"\s5\d\d\s", line))]
    sources += [(r.name, r.log_path, lambda line: "ERROR" in line or "error" in line.lower()) for r in replicas]
    for name, path, wanted in sources:
        try:
            with open(path, encoding="utf-8", errors="replace") as lines:
                picked = [line.rstrip() for line in lines if wanted(line)]
        except OSError:
            continue
        for line in picked[-10:]:
            log(f"  {name}: {line[:400]}")
