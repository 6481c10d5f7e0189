"""Start the app for real, load it, let the queues drain, check the books, print the figures.

    python -m soak.run        (make soak; needs DATABASE_URL=postgres://... and REDIS_URL)
    SOAK_SECONDS (180, at most 600), SOAK_CLIENTS (32), SOAK_THINK_MS (20), SOAK_LEADS (400),
    SOAK_DIR (where the server's, worker's and beat's logs go; a temporary folder by default)

The soak runs on its own throwaway database (soak_<name of DATABASE_URL's database>),
created and migrated like the benchmarks', dropped after a clean run and kept (with the
logs) after a failed one; the Redis database of REDIS_URL is
purged of queued tasks first, so give it one no other worker uses.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS = 600
DRAIN_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Processes:
    """gunicorn, a Celery worker and Celery beat, each logging to its own file."""

    def __init__(self, env: dict, workdir: Path, port: int):
        self.env = env
        self.workdir = workdir
        self.port = port
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = {name: workdir / f"{name}.log" for name in ("server", "worker", "beat")}

    def _start(self, name: str, command: list[str]) -> None:
        log = open(self.logs[name], "wb")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def start(self, timeout: float = 60) -> None:
        from tests.services import gunicorn_command

        python = sys.executable
        # The production shape (docker-compose.yml): gunicorn, worker and beat apart; the
        # server with production's config/gunicorn.conf.py (3 workers x 8 threads, keep-alive
        # 75 s as behind a proxy), its log level that of the image.
        self._start(
            "server",
            gunicorn_command(self.port, workers=3, threads=8, log_level="info"),
        )
        from config.celery import QUEUES, app

        worker_name = f"soak-{os.getpid()}@localhost"
        # One worker on both queues: the soak counts work done, not where it ran.
        self._start(
            "worker",
            [
                *(python, "-m", "celery", "-A", "config", "worker", "-n", worker_name),
                *("-Q", ",".join(QUEUES)),
                *("-c", "2", "-l", "INFO", "--without-gossip", "--without-mingle"),
            ],
        )
        schedule = self.workdir / "celerybeat-schedule"
        self._start(
            "beat",
            [python, "-m", "celery", "-A", "config", "beat", "-l", "INFO", "-s", str(schedule)],
        )
        deadline = time.monotonic() + timeout
        server_up = worker_up = False
        while time.monotonic() < deadline and not (server_up and worker_up):
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early; see {self.logs[name]}")
            if not server_up:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", self.port), timeout=1),
                ):
                    server_up = True
            if not worker_up:
                worker_up = bool(app.control.ping(destination=[worker_name], timeout=0.5))
            time.sleep(0.2)
        if not (server_up and worker_up):
            self.stop()
            raise RuntimeError(f"the server or the worker did not start; see {self.workdir}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _quiet(redis_client) -> dict:
    """What is still to do; all zero when the queues have drained."""
    from django.utils import timezone

    from campaigns.imports.models import ImportJob
    from campaigns.nurture.models import Enrollment
    from config.celery import QUEUES

    unfinished = ImportJob.objects.exclude(status__in=("done", "failed")).count()
    due = Enrollment.objects.filter(status="active", next_due_at__lte=timezone.now()).count()
    return {
        "queued_tasks": sum(redis_client.llen(queue) for queue in QUEUES),
        "unacked_tasks": redis_client.hlen("unacked"),
        "imports_unfinished": unfinished,
        "enrollments_due": due,
    }


def drain(redis_url: str, timeout: float = DRAIN_SECONDS) -> tuple[float, dict]:
    """Wait until no task is queued or running and no import or e-mail step is left."""
    import redis

    client = redis.Redis.from_url(redis_url)
    started = time.monotonic()
    quiet_polls = 0
    state = {}
    while time.monotonic() - started < timeout:
        state = _quiet(client)
        quiet_polls = quiet_polls + 1 if not any(state.values()) else 0
        if quiet_polls >= 3:
            break
        time.sleep(1)
    return time.monotonic() - started, state


def soak(
    *,
    database_url: str,
    redis_url: str,
    workdir: Path,
    seconds: float = 180,
    clients: int = 32,
    think_ms: float = 20,
    leads: int = 400,
    tick_seconds: int = 3,
) -> tuple[dict, list[str]]:
    """Run the soak against `database_url` (already migrated, and the Django connection of
    this process on it) and return (figures, violations)."""
    from django.db import connection

    from config.celery import app
    from tests.services import start_smtp

    from . import checks
    from .load import load_run
    from .setup import soak_setup

    seconds = min(float(seconds), MAX_SECONDS)
    workdir.mkdir(parents=True, exist_ok=True)
    phases = {}
    clock = time.monotonic()

    def phase(name: str) -> None:
        nonlocal clock
        phases[name] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    cast = soak_setup(leads=leads)
    phase("setup")
    connection.close()
    smtp, received = start_smtp()
    port = _free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",  # plain HTTP on loopback
        CSRF_COOKIE_SECURE="0",
        STATIC_MANIFEST="0",
        HANDOFF_VAR_DIR=str(workdir / "var"),
        HANDOFF_IMPORT_DIR=str(workdir / "imports"),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        # Every client posts from 127.0.0.1: the per-address limit would turn captures to 429.
        HANDOFF_CAPTURE_RATE_LIMIT="1000000000",
        HANDOFF_NURTURE_TICK_SECONDS=str(tick_seconds),
        HANDOFF_SLA_CHECK_SECONDS="10",
        LOG_LEVEL="WARNING",
    )
    env.setdefault("SECRET_KEY", "soak-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    app.control.purge()
    # Deliveries a killed worker never acknowledged (the fault tests leave some) would come
    # back after the visibility timeout and keep the drain below waiting for them.
    import redis

    redis.Redis.from_url(redis_url).delete("unacked", "unacked_index")
    processes = Processes(env, workdir, port)
    processes.start()
    phase("start")
    try:
        tally = load_run(
            base_url=f"http://127.0.0.1:{port}",
            cast=cast,
            clients=clients,
            seconds=seconds,
            think=think_ms / 1000,
        )
        phase("load")
        drained_in, left = drain(redis_url)
        phase("drain")
    finally:
        processes.stop()
        smtp.stop()
    phase("stop")
    figures = {
        "load": {
            "clients": clients,
            "seconds": seconds,
            "think_ms": think_ms,
            "leads_at_start": leads,
        },
        "drain": {"seconds": round(drained_in, 1), "left": left},
    }
    violations = []
    if any(left.values()):
        violations.append(f"the queues did not drain within {DRAIN_SECONDS} s: {left}")
    for name, check in (
        ("requests", lambda: checks.requests_check(tally)),
        ("logs", lambda: checks.logs_check(processes.logs)),
        ("imports", lambda: checks.imports_check(tally)),
        ("transition_log", lambda: checks.log_rows_check(tally)),
        ("nurture_messages", lambda: checks.messages_check(received.messages)),
        ("rollups", lambda: checks.rollups_check(list(cast.campaigns))),
    ):
        found, wrong = check()
        figures[name] = found
        violations.extend(f"{name}: {line}" for line in wrong)
        phase(f"check {name}")
    figures["phase_seconds"] = phases
    return figures, violations


def print_report(figures: dict, violations: list[str], out=sys.stdout) -> None:
    requests = figures["requests"]
    print("\n== Handoff soak ==", file=out)
    load = figures["load"]
    print(
        f"{load['clients']} clients for {requests['seconds']} s: {requests['requests']} requests, "
        f"{requests['requests_per_s']}/s; latency p50 {requests['latency']['p50_ms']} ms, "
        f"p95 {requests['latency']['p95_ms']} ms, p99 {requests['latency']['p99_ms']} ms",
        file=out,
    )
    print(f"{'kind':26} {'n':>6} {'p50':>8} {'p95':>8} {'p99':>8}  statuses", file=out)
    for kind, row in requests["by_kind"].items():
        print(
            f"{kind:26} {sum(row['statuses'].values()):6} {row['p50_ms']:8} {row['p95_ms']:8} "
            f"{row['p99_ms']:8}  {row['statuses']}",
            file=out,
        )
    print(json.dumps(figures, indent=2, default=str), file=out)
    if violations:
        print(f"\nFAILED: {len(violations)} violations", file=out)
        for line in violations:
            print(f"  - {line}", file=out)
    else:
        print("\nOK: no 5xx, nothing unexpected in the logs, the books balance.", file=out)


def main() -> int:
    import logging
    import tempfile

    sys.path.insert(0, str(ROOT))
    from benchmarks.harness import django_setup

    django_setup()
    # The clients' and the SMTP server's own chatter would bury the figures.
    for name in ("httpx", "httpcore", "mail.log"):
        logging.getLogger(name).setLevel(logging.WARNING)
    redis_url = os.environ.get("REDIS_URL")
    from django.db import connection, connections
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    if connection.vendor != "postgresql" or not redis_url:
        print(
            "The soak needs PostgreSQL and Redis: set DATABASE_URL=postgres://... and "
            "REDIS_URL=redis://127.0.0.1:6379/<a database no other worker uses>",
            file=sys.stderr,
        )
        return 2
    from tests.services import database_url

    # Not test_<name>: the test suite run beside a soak would drop the soak's database.
    test = connection.settings_dict.setdefault("TEST", {})
    test["NAME"] = test.get("NAME") or f"soak_{connection.settings_dict['NAME']}"
    setup_test_environment()
    state = setup_databases(verbosity=0, interactive=False, keepdb=False)
    workdir = Path(os.environ.get("SOAK_DIR") or tempfile.mkdtemp(prefix="handoff-soak-"))
    violations = ["did not finish"]
    try:
        figures, violations = soak(
            database_url=database_url(connection.settings_dict),
            redis_url=redis_url,
            workdir=workdir,
            seconds=float(os.environ.get("SOAK_SECONDS", 180)),
            clients=int(os.environ.get("SOAK_CLIENTS", 32)),
            think_ms=float(os.environ.get("SOAK_THINK_MS", 20)),
            leads=int(os.environ.get("SOAK_LEADS", 400)),
        )
        print_report(figures, violations)
    finally:
        connections.close_all()
        if violations:
            # Kept for a look; the next soak replaces the database.
            print(
                f"Kept for a look: the database {test['NAME']} and the logs in {workdir}.",
                file=sys.stderr,
            )
        else:
            teardown_databases(state, verbosity=0)
            if not os.environ.get("SOAK_DIR"):
                shutil.rmtree(workdir, ignore_errors=True)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
