"""No docker engine runs here: the compose file is checked by reading it."""

import importlib
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_has_the_production_services_with_health_checks():
    services = _compose()["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "mailpit"} <= set(services)
    for name in ("web", "worker", "postgres", "redis", "mailpit"):
        assert "healthcheck" in services[name], name
    images = {services[name].get("image") for name in ("web", "worker", "beat")}
    assert images == {"handoff:latest"}, "web, worker and beat share one image"


def test_every_app_command_exists_in_the_project():
    services = _compose()["services"]
    for name in ("web", "worker", "beat", "migrate"):
        command = services[name]["command"]
        program = command[0]
        if program == "gunicorn":
            module, attribute = command[1].split(":")
            assert hasattr(importlib.import_module(module), attribute)
        elif program == "celery":
            assert command[1:3] == ["-A", "config"]
            assert command[3] in ("worker", "beat")
            assert importlib.import_module("config.celery").app.main == "handoff"
        elif program == "python":
            assert command[1] == "manage.py" and (ROOT / "manage.py").exists()
            from django.core.management import get_commands

            assert command[2] in get_commands()
        else:
            raise AssertionError(f"{name}: unexpected program {program}")
        # The programs are installed by the image's `pip install .`, as in the venv here.
        assert (
            program == "python" or shutil.which(program) or (ROOT / ".venv/bin" / program).exists()
        )


def test_the_app_services_wait_for_healthy_databases():
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")


def test_the_dockerfile_installs_the_project_and_serves_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "pip install ." in dockerfile
    assert "collectstatic" in dockerfile
    assert '"gunicorn", "config.wsgi:application"' in dockerfile
