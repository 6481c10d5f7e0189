"""The gunicorn command line is written once: every server (the image, compose's `web`, the
tests' and benchmarks' servers, the soak) starts `gunicorn -c config/gunicorn.conf.py
config.wsgi`, and what differs between them comes from the environment that file reads."""

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.services import GUNICORN, database_url, free_port, gunicorn_command, wait_for

ROOT = Path(__file__).resolve().parents[2]
# gunicorn's own flags for what the file sets: none of them may appear anywhere else
# (--bind and --timeout are left out: redis-server and celery have their own).
FLAGS = re.compile(
    r"--(workers|threads|worker-class|keep-alive|access-logfile|log-level)\b"
    r"|config\.wsgi:application"
)


def _sources() -> list[Path]:
    files = [ROOT / "Dockerfile", ROOT / "docker-compose.yml", ROOT / "Makefile"]
    for folder in ("tests", "benchmarks", "soak", "bin", "config", ".ci"):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix != ".pyc"]
    return [p for p in files if p.name != "test_gunicorn.py"]


def test_no_file_but_the_config_sets_gunicorns_options():
    found = []
    for path in _sources():
        text = path.read_text(errors="replace")
        for line in text.splitlines():
            if FLAGS.search(line):
                found.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert found == []


def test_the_image_and_compose_start_the_one_command():
    line = 'CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]'
    assert line in (ROOT / "Dockerfile").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert 'command: ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]' in compose
    assert GUNICORN == ["-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]


def _printed(command: list[str], **env) -> dict[str, str]:
    done = subprocess.run(
        [*command, "--print-config"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    values = {}
    for line in done.stdout.splitlines():
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    return values


def test_production_gets_threaded_workers_and_a_proxys_keep_alive():
    config = _printed([sys.executable, *GUNICORN], PORT="8000")
    assert config["bind"] == "['0.0.0.0:8000']"
    assert (config["workers"], config["worker_class"], config["threads"]) == ("3", "gthread", "8")
    assert (config["timeout"], config["keepalive"]) == ("60", "75")
    assert config["accesslog"] == "-"


def test_a_test_server_differs_only_by_the_environment():
    config = _printed(gunicorn_command(8123, workers=2, threads=4))
    assert config["bind"] == "['127.0.0.1:8123']"
    assert (config["workers"], config["worker_class"], config["threads"]) == ("2", "gthread", "4")
    assert (config["accesslog"], config["loglevel"]) == ("None", "warning")
    assert config["keepalive"] == "75"


def test_a_bad_value_is_named():
    done = subprocess.run(
        [sys.executable, *GUNICORN, "--print-config"],
        cwd=ROOT,
        env={**os.environ, "HANDOFF_WEB_WORKERS": "many"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "HANDOFF_WEB_WORKERS='many' is not a whole number" in done.stdout + done.stderr


@pytest.mark.postgres
def test_the_command_serves_the_app(db):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict)}
    server = subprocess.Popen(gunicorn_command(port, workers=1, threads=2), cwd=ROOT, env=env)
    try:

        def login_page() -> bool:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/accounts/login/", timeout=5
                ) as response:
                    return response.status == 200 and b"password" in response.read().lower()
            except OSError:
                return False

        wait_for(login_page, timeout=60, message="gunicorn serving the login page")
    finally:
        server.terminate()
        server.wait(timeout=30)
