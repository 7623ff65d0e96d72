"""PostgreSQL goes away under load, and comes back.

A throwaway PostgreSQL cluster of its own (`initdb` on a free port, run as
the `postgres` user when this runs as root), one `casebook serve` on it, and
a paced load of token and `me` requests for 20 s. The cluster is stopped at
5 s and started again at 10 s; the service is never restarted. Passes when:

- while the database is down, token requests are answered 503
  `temporarily_unavailable`, promptly, and nothing else
  fails in another way (no 500, no hang past the client's timeout);
- `me` calls with a token verified before the outage keep succeeding for
  the cache's TTL (2 s) after the database went away;
- every other call that fails while the database is down is a prompt 503
  (problem+json), never a 500 or a hang;
- `/readyz` says 503 while the database is down;
- within 5 s of the database coming back, `/readyz` is 200 and every token
  and `me` request succeeds again, to the end of the run.

    python3 .ci/pg_fault.py
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as f  # noqa: E402

LOAD_SECONDS = 20
STOP_AT = 5
START_AT = 10
RECOVERY_SECONDS = 5.0
CACHE_TTL = 2.0
# A token request during the outage must be answered within this: the
# pool's acquire timeout (2 s) and a little.
PROMPT_SECONDS = 3.5


def pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    for version in sorted(os.listdir("/usr/lib/postgresql"), reverse=True):
        candidate = os.path.join("/usr/lib/postgresql", version, "bin", name)
        if os.path.exists(candidate):
            return candidate
    raise RuntimeError(f"{name} not found: install PostgreSQL's server package")


class Cluster:
    """`initdb` into a temporary directory; start and stop with `pg_ctl`."""

    def __init__(self, out):
        self.port = f.free_port()
        self.dir = tempfile.mkdtemp(prefix="casebook-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(out, "postgresql.log")
        self.as_user = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root.
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            open(self.log, "a").close()
            os.chown(self.log, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args):
        subprocess.run(self.as_user + list(args), check=True, stdout=subprocess.DEVNULL)

    def init(self):
        self.run(pg_bin("initdb"), "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self.run(pg_bin("pg_ctl"), "-D", self.data, "-l", self.log, "-o", options, "-w", "start")

    def stop(self):
        self.run(pg_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class CachedTokenCalls:
    """Calls `me` every 100 ms with one token verified before the outage,
    on a connection of its own, so that what the token cache does is seen
    apart from requests queued behind the database."""

    def __init__(self, base, token, start):
        self.base = base
        self.token = token
        self.start = start
        self.outcomes = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stopped.wait(0.1):
            began = time.monotonic()
            status, body, error = None, None, None
            try:
                status, body = f.request(self.base, "GET", "/api/v1/me", bearer=self.token)
            except OSError as e:
                error = f"{type(e).__name__}: {e}"
            if status is not None and status != 200:
                error = f"{status} {str(body)[:200]}"
            self.outcomes.append(f.Outcome(began - self.start, "me, cached token", status, error,
                                           time.monotonic() - began))


class ReadinessWatch:
    """Polls /readyz every 200 ms and records (time, status)."""

    def __init__(self, base, start):
        self.base = base
        self.start = start
        self.seen = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stopped.wait(0.2):
            at = time.monotonic() - self.start
            try:
                status, _ = f.request(self.base, "GET", "/readyz", timeout=5)
            except OSError:
                status = None
            self.seen.append((at, status))


def main():
    out = os.path.join(f.TARGET, "pg-fault")
    os.makedirs(out, exist_ok=True)
    cluster = Cluster(out)
    replica = None
    try:
        cluster.init()
        cluster.start()
        admin = f.Admin()
        replica = f.Replica("casebook", cluster.url, f.master_key(), admin, out)
        replica.start()
        pid = replica.process.pid
        admin.sign_in(replica.base)
        client_id, client_secret = admin.register_application(replica.base)
        token = f.expect(f.request(replica.base, "POST", "/oauth2/token", form={"grant_type": "client_credentials"},
                                   basic=(client_id, client_secret)), 200, "a token before the outage")["access_token"]

        load = f.Load(replica.base, client_id, client_secret, workers=4, rate=25, seconds=LOAD_SECONDS)
        times = {}

        def stop():
            times["stop_began"] = time.monotonic() - load.start
            cluster.stop()
            times["stopped"] = time.monotonic() - load.start
            f.log(f"{times['stop_began']:5.1f} s: PostgreSQL stopping; stopped at {times['stopped']:.1f} s")

        def start():
            cluster.start()
            times["started"] = time.monotonic() - load.start
            f.log(f"{times['started']:5.1f} s: PostgreSQL started again")

        f.log(f"load: {load.workers} clients for {LOAD_SECONDS} s; PostgreSQL stopped at {STOP_AT} s, "
              f"started at {START_AT} s")
        watchers = []

        def begin_watching():
            watchers.extend([ReadinessWatch(replica.base, load.start), CachedTokenCalls(replica.base, token, load.start)])
            for watcher in watchers:
                watcher.thread.start()

        outcomes = load.run(events=[(0, begin_watching), (STOP_AT, stop), (START_AT, start)])
        for watcher in watchers:
            watcher.stopped.set()
            watcher.thread.join(10)
        readiness, cached = watchers
        outcomes += cached.outcomes
        f.log(f"requests: {len(outcomes)} ({f.summarize(outcomes)})")
        return judge(outcomes, readiness.seen, times, replica, pid)
    finally:
        if replica is not None:
            replica.stop()
        cluster.remove()


def judge(outcomes, readiness, times, replica, pid):
    problems = []
    stopped, began, started = times["stopped"], times["stop_began"], times["started"]
    recovered_by = started + RECOVERY_SECONDS

    before = [o for o in outcomes if o.at + o.seconds < began]
    problems += [f"before the outage, {o.kind} at {o.at:.2f} s: {o.error}" for o in before if o.error]

    outage_tokens = [o for o in outcomes if o.kind == "token" and stopped < o.at and o.at + o.seconds < started]
    unavailable = [o for o in outage_tokens if o.status == 503 and "temporarily_unavailable" in (o.error or "")]
    if not unavailable:
        problems.append("no token request was answered 503 temporarily_unavailable while the database was down")
    for o in outage_tokens:
        if o.error is None:
            continue
        if o.status != 503 or "temporarily_unavailable" not in o.error:
            problems.append(f"during the outage, a token request at {o.at:.2f} s failed otherwise: {o.error}")
        elif o.seconds > PROMPT_SECONDS:
            problems.append(f"during the outage, a token request at {o.at:.2f} s took {o.seconds:.1f} s")

    # The cache trusts an entry for its TTL after the last confirmation from
    # the database, which is polled four times per TTL: at least 1.5 s of
    # the outage is covered, and 1.2 s is asked.
    outage_calls = [o for o in outcomes if o.kind != "token" and stopped < o.at and o.at + o.seconds < started]
    for o in outage_calls:
        if o.error is not None and o.status != 503:
            problems.append(f"during the outage, {o.kind} at {o.at:.2f} s failed otherwise than 503: {o.error}")
        elif o.error is not None and o.seconds > PROMPT_SECONDS:
            problems.append(f"during the outage, {o.kind} at {o.at:.2f} s took {o.seconds:.1f} s")

    cached = [o for o in outcomes
              if o.kind == "me, cached token" and stopped <= o.at and o.at + o.seconds < began + CACHE_TTL - 0.8]
    if not cached:
        problems.append("no call with a cached token was made in the first second of the outage")
    problems += [f"a cached token was refused {o.at - began:.2f} s into the outage: {o.error}" for o in cached if o.error]

    after = [o for o in outcomes if o.at >= recovered_by]
    if not after:
        problems.append("no request was made after the recovery window")
    problems += [f"after recovery, {o.kind} at {o.at:.2f} s: {o.error}" for o in after if o.error]

    down = [status for at, status in readiness if stopped < at < started - 0.5]
    if 503 not in down:
        problems.append(f"/readyz never said 503 while the database was down: {down}")
    late = [(at, status) for at, status in readiness if at >= recovered_by and status != 200]
    if late:
        problems.append(f"/readyz not 200 after recovery: {late[:5]}")

    first_ok = min((o.at + o.seconds for o in outcomes if o.kind == "token" and o.error is None and o.at > started),
                   default=None)
    if first_ok is not None:
        f.log(f"first token granted {first_ok - started:.2f} s after the database came back "
              f"({len(unavailable)} answered 503 during the outage, cached tokens verified: {len(cached)})")
    if replica.process.poll() is not None or replica.process.pid != pid:
        problems.append("the service stopped during the run")

    for p in problems[:20]:
        f.log(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
