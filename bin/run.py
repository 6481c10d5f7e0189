"""`make run`: the web server, a Celery worker and beat, stopped together by one Ctrl-C."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PORT = os.environ.get("PORT", "8000")
VAR_DIR = Path(os.environ.get("HANDOFF_VAR_DIR") or ROOT / "var")

COMMANDS = {
    "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{PORT}"],
    # Beat runs embedded in the worker (-B): one process fewer on a laptop. One worker for
    # both queues here (config.celery); production runs a worker per queue.
    "worker": [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-B",
        "-Q",
        "celery,imports",
        "--loglevel",
        "INFO",
        "--concurrency",
        "2",
        "--schedule",
        str(ROOT / "var" / "celerybeat-schedule"),
    ],
}


def _mail_catcher() -> list[str] | None:
    """With no EMAIL_HOST of its own, the demo's e-mails (nurture, SLA alerts) go over SMTP to
    a local catcher that keeps them in var/mail, a maildir any mail client can open."""
    if os.environ.get("EMAIL_HOST") or os.environ.get("EMAIL_PORT"):
        return None
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 1025)) == 0:
            return None  # something already listens there, e.g. Mailpit
    return [
        PYTHON,
        "-m",
        "aiosmtpd",
        "-n",
        "-l",
        "127.0.0.1:1025",
        "-c",
        "aiosmtpd.handlers.Mailbox",
        str(VAR_DIR / "mail"),
    ]


def main() -> int:
    print(
        f"Handoff on http://127.0.0.1:{PORT}/  (users: marketer, rep, rep2, manager, admin;"
        " password handoff-demo). Ctrl-C stops everything.",
        flush=True,
    )
    commands = list(COMMANDS.values())
    catcher = _mail_catcher()
    if catcher:
        print(
            "E-mail goes to a local SMTP catcher on 127.0.0.1:1025; messages land in var/mail/.",
            flush=True,
        )
        commands.append(catcher)
    procs = [subprocess.Popen(cmd, cwd=ROOT) for cmd in commands]

    def stop(*_):
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(proc.poll() is None for proc in procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                procs[0].wait(timeout=1)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
