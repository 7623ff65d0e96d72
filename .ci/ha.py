"""The HA recipe of deploy/, proven under a fault: HAProxy with
deploy/haproxy.cfg in front of two replicas on one fresh PostgreSQL
database. A paced load of token and `me` requests runs through the proxy for
20 s while an admin creates a role every 100 ms; replica 1 is killed with
SIGKILL at 5 s and started again at 10 s.

Passes when no token or `me` request failed, and every role whose creation
was acknowledged can be read afterwards from each replica directly. An admin
write that was on the killed replica when it died is not retried by the
proxy (it may have been applied; see deploy/haproxy.cfg), so such a write
may fail; the failures are counted and printed, and only acknowledged
writes must be present.

    python3 .ci/ha.py
"""

import os
import secrets
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as f  # noqa: E402

LOAD_SECONDS = 20
KILL_AT = 5
RESTART_AT = 10


class RoleWriter:
    """Creates a role every `interval` seconds through the proxy until stopped."""

    def __init__(self, base, admin, interval=0.1):
        self.base = base
        self.admin = admin
        self.interval = interval
        self.acknowledged = []
        self.failures = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        n = 0
        while not self.stopped.wait(self.interval):
            n += 1
            name = f"HA role {n} {secrets.token_hex(3)}"
            try:
                status, body = f.request(self.base, "POST", "/admin/v1/roles", bearer=self.admin.session,
                                         json_body={"name": name, "permissions": ["engage:view"]})
            except OSError as e:
                self.failures.append(f"{name}: {type(e).__name__}: {e}")
                continue
            if status == 201:
                self.acknowledged.append(body["id"])
            else:
                self.failures.append(f"{name}: {status} {str(body)[:200]}")


def main():
    out = os.path.join(f.TARGET, "ha")
    os.makedirs(out, exist_ok=True)
    admin = f.Admin()
    key = f.master_key()
    proxy = None
    replicas = []
    with f.FreshDatabase() as db:
        try:
            proxy_port = f.free_port()
            proxy_base = f"http://127.0.0.1:{proxy_port}"
            # One install: every replica names the proxy as its public URL,
            # the issuer and audience of the tokens each of them signs.
            replicas = [f.Replica(f"replica{i}", db.url, key, admin, out,
                                  extra_env={"CASEBOOK_PUBLIC_URL": proxy_base}) for i in (1, 2)]
            for replica in replicas:
                replica.start()
            proxy = f.start_proxy(replicas, proxy_port, out)

            admin.sign_in(proxy_base)
            client_id, client_secret = admin.register_application(proxy_base)
            load = f.Load(proxy_base, client_id, client_secret, seconds=LOAD_SECONDS)
            writer = RoleWriter(proxy_base, admin)

            def kill():
                f.log(f"{time.monotonic() - load.start:5.1f} s: SIGKILL to replica1")
                replicas[0].kill(signal.SIGKILL)

            def restart():
                f.log(f"{time.monotonic() - load.start:5.1f} s: starting replica1 again")
                replicas[0].start()
                f.log(f"{time.monotonic() - load.start:5.1f} s: replica1 ready")

            f.log(f"load: {load.workers} clients through HAProxy for {LOAD_SECONDS} s, "
                  f"replica1 killed at {KILL_AT} s and restarted at {RESTART_AT} s")
            writer.thread.start()
            outcomes = load.run(events=[(KILL_AT, kill), (RESTART_AT, restart)])
            writer.stopped.set()
            writer.thread.join(30)

            failed, missing = f.report(outcomes, writer, replicas, admin)

            if len(outcomes) < LOAD_SECONDS * load.workers * 10:
                f.log("too few requests were made for the run to mean anything")
                return 1
            if not writer.acknowledged:
                f.log("no admin write was acknowledged")
                return 1
            return 1 if failed or missing else 0
        finally:
            if proxy is not None:
                proxy.terminate()
                proxy.wait(10)
            for replica in replicas:
                replica.stop()


if __name__ == "__main__":
    sys.exit(main())
