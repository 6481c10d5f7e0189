"""Real services for tests: an SMTP server, a Celery worker process, a headless browser."""

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


class SMTPRecorder:
    """Keeps every message the server receives: (envelope sender, recipients, raw bytes)."""

    def __init__(self):
        self.messages = []
        self.fail_next = 0
        self.delay = 0.0  # seconds before each answer: a slow server keeps a batch in flight
        # hold_after = N: the message after the Nth is left unanswered (`holding` is set)
        # until `release` is set, then refused and not kept: a sender killed meanwhile is
        # killed with that message in flight, before any 250.
        self.hold_after: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold_after is not None and len(self.messages) >= self.hold_after:
            self.hold_after = None
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return "421 Held by the test and dropped"
        if self.fail_next:
            self.fail_next -= 1
            return "451 Try again later"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_smtp() -> tuple[Controller, SMTPRecorder]:
    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, recorder


GUNICORN = ["-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]


def gunicorn_command(port: int, *, workers: int, threads: int, **settings: str | int) -> list[str]:
    """gunicorn serving the app on 127.0.0.1:`port` as production does (the one
    config/gunicorn.conf.py), quietly: for the tests and benchmarks that need a real server.
    What differs from production is set in the environment the file reads (`env` adds it to
    the caller's), e.g. keep_alive=75 for HANDOFF_WEB_KEEP_ALIVE."""
    values = {
        "bind": f"127.0.0.1:{port}",
        "workers": workers,
        "threads": threads,
        "access_log": "",
        "log_level": "warning",
        **settings,
    }
    return [
        "env",
        *(f"HANDOFF_WEB_{name.upper()}={value}" for name, value in values.items()),
        sys.executable,
        *GUNICORN,
    ]


def database_url(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


class WorkerProcess:
    """`celery worker` in its own process, on the test database and the test Redis.

    It consumes every queue (config.celery.QUEUES), as `make run`'s worker does; `queues`
    names a few to start a dedicated one, as compose's `worker` and `importer` are."""

    def __init__(
        self,
        env: dict,
        log_dir: Path,
        concurrency: int = 1,
        beat: bool = False,
        queues: Sequence[str] | None = None,
    ):
        from config.celery import QUEUES

        self.env = env
        self.log_dir = log_dir
        self.concurrency = concurrency
        self.beat = beat
        self.queues = list(queues or QUEUES)
        self.proc = None
        self.name = ""

    def start(self, timeout: float = 60):
        from config.celery import app

        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        log = open(self.log_dir / f"{self.name}.log", "wb")  # noqa: SIM115
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-n",
            self.name,
            "-Q",
            ",".join(self.queues),
            "-c",
            str(self.concurrency),
            "--pool",
            "prefork",
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
        if self.beat:
            command += ["-B", "--schedule", str(self.log_dir / f"beat-{self.name}")]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; see {log.name}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return self
        raise RuntimeError(f"worker did not answer within {timeout}s; see {log.name}")

    def kill(self):
        """SIGKILL the whole worker (main process and pool children) as a crash would."""
        if self.proc and self.proc.poll() is None:
            subprocess.run(["pkill", "-KILL", "-P", str(self.proc.pid)], check=False)
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return (self.log_dir / f"{self.name}.log").read_text(errors="replace")


def worker_env(db_settings: dict, **extra) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url(db_settings), **{k: str(v) for k, v in extra.items()}})
    return env


def wait_for(condition, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll until condition() is truthy; return its value. Used only for cross-process waits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# --- private servers, for tests that stop and start them ------------------------------------


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence: stopping it
    loses whatever it held, as a restarted Redis without AOF does."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.log_dir = log_dir
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10):
        log = open(self.log_dir / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.log_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._answers, timeout=timeout, message=f"redis on {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own in a temporary folder, on a free port, so a
    test may stop and start it. As root the server runs as the `postgres` user (PostgreSQL
    refuses root)."""

    def __init__(self, bin_dir: Path):
        import tempfile

        self.bin = bin_dir
        self.port = free_port()
        # Not under pytest's tmp_path: that is root's, and closed to the postgres user.
        self.dir = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
        self.data = self.dir / "data"
        self.as_root = os.geteuid() == 0

    def _run(self, *command: str):
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def init(self):
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        return self

    def start(self):
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
            # No fsync: a stopped server's writes are still in the OS' cache. Commits stay
            # synchronous: an answered commit must survive the crash the tests inject.
            " -c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def stop(self, mode: str = "immediate"):
        """`immediate` is a crash: every connection is cut, the next start recovers."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self):
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def copy_database(self, source_url: str, name: str):
        """A new database here holding the schema and rows of `source_url` (the test db)."""
        self._run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            name,
        )
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "--no-owner", "--no-privileges", "-d", source_url],
            check=True,
            capture_output=True,
            timeout=120,
        ).stdout
        subprocess.run(
            [str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(name)],
            input=dump,
            check=True,
            capture_output=True,
            timeout=120,
        )


@contextlib.contextmanager
def broker_at(url: str):
    """Point this process's Celery app at another broker for a while (a private Redis)."""
    from config.celery import app

    def reset():
        app._pool = None
        app.amqp._producer_pool = None

    before = app.conf.broker_url
    app.conf.broker_url = url
    reset()
    try:
        yield
    finally:
        app.conf.broker_url = before
        reset()
