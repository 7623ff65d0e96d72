"""A rolling upgrade under load, as deploy/README.md describes it.

PostgreSQL: two replicas of the previous release (CASEBOOK_PREVIOUS_BIN)
behind HAProxy with deploy/haproxy.cfg, a paced load of token and `me`
requests through the proxy and an admin creating a role every 100 ms. At
6 s replica 2 is stopped (SIGTERM: it drains) and started again as this
build (CASEBOOK_BIN), which migrates the database while replica 1, still the
previous release, serves on it; at 16 s replica 1 is replaced the same way.
Passes when no client request and no admin write failed, every
acknowledged write is there afterwards, and both replicas report this build
in `casebook_build_info`. Then, on the same install and still under load,
the master key is rotated as deploy/README.md says, with no failed request
and the secret still shown under the new key alone.

SQLite: an install made and used by the previous release (an application,
its secret, a token) is stopped and started again as this build, which
copies the database beside it before migrating: the old secret still gets a
token, the old token still opens the API, the secret can still be revealed.

    python3 .ci/rolling_upgrade.py
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as f  # noqa: E402
from ha import RoleWriter  # noqa: E402

PREVIOUS = os.environ["CASEBOOK_PREVIOUS_BIN"]
CURRENT = f.BINARY
LOAD_SECONDS = 26
REPLACE_SECOND_AT = 6
REPLACE_FIRST_AT = 16


def version_of(binary):
    return subprocess.run([binary, "--version"], check=True, capture_output=True, text=True).stdout.strip()


def build_info(base):
    """The `casebook_build_info` line of a replica's /metrics, or None."""
    status, body = f.request(base, "GET", "/metrics")
    if status != 200:
        return None
    text = body if isinstance(body, str) else str(body)
    for line in text.splitlines():
        if line.startswith("casebook_build_info"):
            return line
    return None


def rolling_on_postgres(out):
    admin = f.Admin()
    key = f.master_key()
    proxy = None
    replicas = []
    with f.FreshDatabase() as db:
        try:
            proxy_port = f.free_port()
            proxy_base = f"http://127.0.0.1:{proxy_port}"
            replicas = [f.Replica(f"replica{i}", db.url, key, admin, out, binary=PREVIOUS,
                                  extra_env={"CASEBOOK_PUBLIC_URL": proxy_base}) for i in (1, 2)]
            for replica in replicas:
                replica.start()
            proxy = f.start_proxy(replicas, proxy_port, out)

            admin.sign_in(proxy_base)
            client_id, client_secret = admin.register_application(proxy_base)
            load = f.Load(proxy_base, client_id, client_secret, seconds=LOAD_SECONDS)
            writer = RoleWriter(proxy_base, admin)

            def replace(replica):
                def run():
                    f.log(f"{time.monotonic() - load.start:5.1f} s: stopping {replica.name} (previous release)")
                    replica.stop()
                    replica.binary = CURRENT
                    replica.start()
                    f.log(f"{time.monotonic() - load.start:5.1f} s: {replica.name} ready as this build")
                return run

            f.log(f"load: {load.workers} clients through HAProxy for {LOAD_SECONDS} s; replica2 replaced "
                  f"at {REPLACE_SECOND_AT} s, replica1 at {REPLACE_FIRST_AT} s")
            writer.thread.start()
            outcomes = load.run(events=[(REPLACE_SECOND_AT, replace(replicas[1])),
                                        (REPLACE_FIRST_AT, replace(replicas[0]))])
            writer.stopped.set()
            writer.thread.join(30)

            failed, missing = f.report(outcomes, writer, replicas, admin)
            versions = [build_info(r.base) for r in replicas]
            f.log(f"after: {versions}")
            wrong_build = [v for v in versions if v is None or version_of(CURRENT).split()[1] not in v]

            if len(outcomes) < LOAD_SECONDS * load.workers * 10:
                f.log("too few requests were made for the run to mean anything")
                return False
            if not writer.acknowledged:
                f.log("no admin write was acknowledged")
                return False
            upgraded = not failed and not writer.failures and not missing and not wrong_build
            f.log(f"rolling upgrade on PostgreSQL: {'passed' if upgraded else 'FAILED'}")
            rotated = rotate_master_key_live(db, replicas, proxy_base, admin, key, client_id, client_secret)
            return upgraded and rotated
        finally:
            if proxy is not None:
                proxy.terminate()
                proxy.wait(10)
            for replica in replicas:
                replica.stop()


ROTATION_SECONDS = 30


def rotate_master_key_live(db, replicas, proxy_base, admin, old_key, client_id, client_secret):
    """The master key rotated on the live install, under load, as
    deploy/README.md says: each replica restarted with the new key current
    and the old one previous, `casebook master-key rotate` run beside them,
    then each restarted with the new key alone. No request may fail, and
    afterwards the secret is still shown, under the new key alone."""
    new_key = f.master_key()

    def restart(replica, previous):
        def run():
            replica.env["CASEBOOK_MASTER_KEY"] = new_key
            if previous:
                replica.env["CASEBOOK_PREVIOUS_MASTER_KEYS"] = previous
            else:
                replica.env.pop("CASEBOOK_PREVIOUS_MASTER_KEYS", None)
            f.log(f"{time.monotonic() - load.start:5.1f} s: restarting {replica.name} with the new key"
                  + (" and the old one previous" if previous else " alone"))
            replica.stop()
            replica.start()
        return run

    rotate_result = {}

    def rotate():
        env = dict(os.environ, CASEBOOK_DATABASE_URL=db.url, CASEBOOK_MASTER_KEY=new_key,
                   CASEBOOK_PREVIOUS_MASTER_KEYS=old_key)
        done = subprocess.run([CURRENT, "master-key", "rotate"], env=env, capture_output=True, text=True)
        rotate_result["code"] = done.returncode
        lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""]
        f.log(f"{time.monotonic() - load.start:5.1f} s: casebook master-key rotate exited {done.returncode}: {lines[-1]}")

    load = f.Load(proxy_base, client_id, client_secret, seconds=ROTATION_SECONDS)
    writer = RoleWriter(proxy_base, admin)
    f.log(f"master key rotation under load for {ROTATION_SECONDS} s")
    writer.thread.start()
    outcomes = load.run(events=[(3, restart(replicas[1], old_key)), (8, restart(replicas[0], old_key)),
                                (13, rotate), (18, restart(replicas[1], None)), (23, restart(replicas[0], None))])
    writer.stopped.set()
    writer.thread.join(30)
    failed, missing = f.report(outcomes, writer, replicas, admin)
    status, apps = f.request(proxy_base, "GET", "/admin/v1/external-applications", bearer=admin.session)
    app_id = next(a["id"] for a in apps["items"] if a["client_id"] == client_id)
    status, shown = f.request(proxy_base, "POST", f"/admin/v1/external-applications/{app_id}/client-secret/reveal",
                              bearer=admin.session, json_body={"password": admin.password})
    revealed = status == 200 and shown.get("client_secret") == client_secret
    f.log(f"the secret shown with the new key alone: {revealed}")
    rotated = (rotate_result.get("code") == 0 and revealed and not failed and not writer.failures
               and not missing)
    f.log(f"master key rotated on the live install: {'passed' if rotated else 'FAILED'}")
    return rotated


def sqlite_in_place(out):
    admin = f.Admin()
    work = tempfile.mkdtemp(prefix="casebook-upgrade-")
    url = f"sqlite://{work}/casebook.db"
    # The key file beside the database, as a default SQLite install has it.
    replica = f.Replica("sqlite", url, "", admin, out, binary=PREVIOUS)
    replica.env.pop("CASEBOOK_MASTER_KEY", None)
    replica.start()
    admin.sign_in(replica.base)
    client_id, secret = admin.register_application(replica.base)
    token = f.expect(f.request(replica.base, "POST", "/oauth2/token", basic=(client_id, secret),
                               form={"grant_type": "client_credentials"}), 200, "a token from the previous release")
    replica.stop()

    replica.binary = CURRENT
    replica.start()
    ok = True
    status, _ = f.request(replica.base, "GET", "/api/v1/me", bearer=token["access_token"])
    f.log(f"sqlite: the previous release's token after the upgrade: {status}")
    ok &= status == 200
    status, _ = f.request(replica.base, "POST", "/oauth2/token", basic=(client_id, secret),
                          form={"grant_type": "client_credentials"})
    f.log(f"sqlite: the previous release's secret after the upgrade: {status}")
    ok &= status == 200
    admin.sign_in(replica.base)
    status, apps = f.request(replica.base, "GET", "/admin/v1/external-applications", bearer=admin.session)
    app_id = next(a["id"] for a in apps["items"] if a["client_id"] == client_id)
    status, shown = f.request(replica.base, "POST", f"/admin/v1/external-applications/{app_id}/client-secret/reveal",
                              bearer=admin.session, json_body={"password": admin.password})
    f.log(f"sqlite: reveal after the upgrade: {status}")
    ok &= status == 200 and shown.get("client_secret") == secret
    copies = [name for name in os.listdir(work) if ".pre-" in name]
    f.log(f"sqlite: copies before migrating: {copies}")
    ok &= len(copies) == 1
    replica.stop()
    return ok


def main():
    out = os.path.join(f.TARGET, "rolling-upgrade")
    os.makedirs(out, exist_ok=True)
    f.log(f"previous: {version_of(PREVIOUS)}; this build: {version_of(CURRENT)}")
    rolling = rolling_on_postgres(out)
    in_place = sqlite_in_place(out)
    f.log(f"SQLite upgraded in place: {'passed' if in_place else 'FAILED'}")
    return 0 if rolling and in_place else 1


if __name__ == "__main__":
    sys.exit(main())
