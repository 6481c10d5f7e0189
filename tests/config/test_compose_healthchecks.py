"""Compose's worker healthchecks ping their own node, not any worker of the cluster.

No docker engine runs here: the command compose would run is taken from the file (with
compose's `$$` escape undone), then run against real workers on the test's Redis, with
HOSTNAME set as a container sets it."""

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.services import WorkerProcess, wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKERS = ("worker", "importer")


def _services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _healthcheck_shell(name: str) -> str:
    kind, command = _services()[name]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"  # the shell expands $HOSTNAME
    return command.replace("$$", "$")  # compose's interpolation


@pytest.mark.parametrize("name", WORKERS)
def test_a_worker_healthcheck_names_its_own_node(name):
    command = shlex.split(_healthcheck_shell(name))
    assert command[:5] == ["celery", "-A", "config", "inspect", "ping"]
    flag = "--destination" if "--destination" in command else "-d"
    # The worker's node name: Celery's default, celery@%h, unless its command names one.
    worker = _services()[name]["command"]
    assert "-n" not in worker and "--hostname" not in worker
    assert command[command.index(flag) + 1] == "celery@$HOSTNAME"


def _run_healthcheck(name: str, hostname: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HOSTNAME": hostname,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        ["sh", "-c", _healthcheck_shell(name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.redis
def test_the_healthcheck_passes_for_its_own_node_and_fails_for_another(tmp_path):
    from config.celery import app

    host = socket.gethostname()
    node = f"celery@{host}"  # what compose's `worker` is called in its container
    command = _services()["worker"]["command"]
    command = command[: command.index("--concurrency")]  # one process is enough here
    worker = WorkerProcess(dict(os.environ), tmp_path)
    worker.name = "compose-worker"
    with open(tmp_path / "compose-worker.log", "wb") as log:
        worker.proc = subprocess.Popen(
            [sys.executable, "-m", *command, "--concurrency", "1", "--without-gossip"],
            cwd=ROOT,
            env=worker.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: app.control.ping(destination=[node], timeout=0.5),
            timeout=60,
            message=f"{node} answering",
        )
        own = _run_healthcheck("worker", host)
        assert own.returncode == 0, own.stdout + own.stderr
        assert node in own.stdout
        # Another container's check, whose own worker died: it fails although this one answers.
        other = _run_healthcheck("worker", "a-container-whose-worker-died")
        assert other.returncode != 0
        assert node not in other.stdout
    finally:
        worker.stop()
