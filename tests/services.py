"""Real services for tests: an SMTP server, a Celery worker process, a headless browser."""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


class SMTPRecorder:
    """Keeps every message the server receives: (envelope sender, recipients, raw bytes)."""

    def __init__(self):
        self.messages = []
        self.fail_next = 0

    async def handle_DATA(self, server, session, envelope):
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


def database_url(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


class WorkerProcess:
    """`celery worker` in its own process, on the test database and the test Redis."""

    def __init__(self, env: dict, log_dir: Path, concurrency: int = 1, beat: bool = False):
        self.env = env
        self.log_dir = log_dir
        self.concurrency = concurrency
        self.beat = beat
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
