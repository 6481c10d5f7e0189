"""`make run`: the web server, a Celery worker and beat, stopped together by one Ctrl-C."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PORT = os.environ.get("PORT", "8000")

COMMANDS = {
    "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{PORT}"],
    # Beat runs embedded in the worker (-B): one process fewer on a laptop.
    "worker": [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-B",
        "--loglevel",
        "INFO",
        "--concurrency",
        "2",
        "--schedule",
        str(ROOT / "var" / "celerybeat-schedule"),
    ],
}


def main() -> int:
    print(
        f"Handoff on http://127.0.0.1:{PORT}/  (users: marketer, rep, rep2, manager, admin;"
        " password handoff-demo). Ctrl-C stops everything.",
        flush=True,
    )
    procs = [subprocess.Popen(cmd, cwd=ROOT) for cmd in COMMANDS.values()]

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
