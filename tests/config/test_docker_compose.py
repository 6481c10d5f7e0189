"""No docker engine runs here: the compose file is checked by reading it."""

import importlib
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "importer", "beat")


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_has_the_production_services_with_health_checks():
    services = _compose()["services"]
    assert {"web", "worker", "importer", "beat", "postgres", "redis", "mailpit"} <= set(services)
    for name in ("web", "worker", "importer", "postgres", "redis", "mailpit"):
        assert "healthcheck" in services[name], name
    images = {services[name].get("image") for name in APP_SERVICES}
    assert images == {"handoff:latest"}, "web, the workers and beat share one image"


def test_every_app_command_exists_in_the_project():
    services = _compose()["services"]
    for name in (*APP_SERVICES, "migrate"):
        command = services[name]["command"]
        program = command[0]
        if program == "gunicorn":
            assert command[1:3] == ["-c", "config/gunicorn.conf.py"]
            assert (ROOT / command[2]).exists()
            assert hasattr(importlib.import_module(command[3]), "application")
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
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")


def test_the_dockerfile_installs_the_project_and_serves_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "pip install ." in dockerfile
    assert "collectstatic" in dockerfile
    assert 'CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]' in dockerfile


def _consumed(command: list[str], declared: set[str]) -> set[str]:
    """The queues a `celery worker` command consumes: its -Q, or every declared queue."""
    for flag in ("-Q", "--queues"):
        if flag in command:
            return set(command[command.index(flag) + 1].split(","))
    return declared


def test_the_worker_services_together_consume_every_queue_a_task_is_routed_to():
    from config.celery import app

    app.loader.import_default_modules()
    declared = {queue.name for queue in app.conf.task_queues}
    routed = {
        app.amqp.router.route({}, name)["queue"].name
        for name in app.tasks
        if not name.startswith("celery.")
    }
    assert routed <= declared, "every route names a declared queue"
    workers = {
        name: _consumed(service["command"], declared)
        for name, service in _compose()["services"].items()
        if service.get("command", [])[:4] == ["celery", "-A", "config", "worker"]
    }
    assert set().union(*workers.values()) >= routed | declared
    # Imports have processes of their own; the default worker never runs one.
    assert workers["importer"] == {"imports"}
    assert workers["worker"] == {"celery"}


def test_the_importer_is_the_worker_on_another_queue():
    services = _compose()["services"]
    worker, importer = services["worker"], services["importer"]
    for key in ("image", "env_file", "environment", "depends_on", "restart", "healthcheck"):
        assert importer[key] == worker[key], key
    command = importer["command"]
    assert command[command.index("--concurrency") + 1] == "2"
