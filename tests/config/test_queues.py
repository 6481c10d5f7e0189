"""Imports have a queue of their own; everything else stays on the default one, and every
command that starts a worker for everything consumes both."""

import pytest

from config.celery import DEFAULT_QUEUE, IMPORTS_QUEUE, QUEUES, app


@pytest.fixture(scope="module")
def route():
    """The app's own router, as apply_async and send_task use it: task name -> queue name."""
    app.loader.import_default_modules()
    return lambda name: app.amqp.router.route({}, name)["queue"].name


def test_it_routes_an_import_to_the_imports_queue(route):
    assert route("imports.run") == IMPORTS_QUEUE == "imports"


@pytest.mark.parametrize(
    "name",
    [
        "imports.resume_stalled",  # a quick sweep that only queues jobs again
        "nurture.tick",
        "nurture.send_batch",
        "nurture.reconcile",
        "campaigns.scores_recompute_all",
        "dashboards.refresh_facts",
        "funnel.find_sla_breaches",
        "funnel.notify_sla_breach",
        "funnel.notify_sla_digest",
        "outbox.send_pending",
    ],
)
def test_it_routes_everything_else_to_the_default_queue(route, name):
    assert name in app.tasks
    assert route(name) == DEFAULT_QUEUE == "celery"


def test_every_task_lands_on_a_declared_queue(route):
    names = [name for name in app.tasks if not name.startswith("celery.")]
    assert {route(name) for name in names} == set(QUEUES)


def test_each_queue_has_a_binding_of_its_own():
    # A queue bound with another's key would receive a copy of every message sent to it.
    bindings = [(queue.exchange.name, queue.routing_key) for queue in app.amqp.queues.values()]
    assert sorted(bindings) == sorted((name, name) for name in QUEUES)


def test_make_run_and_the_test_workers_consume_every_queue(tmp_path):
    from bin.run import COMMANDS
    from tests.services import WorkerProcess

    command = COMMANDS["worker"]
    assert set(command[command.index("-Q") + 1].split(",")) == set(QUEUES)
    assert WorkerProcess({}, tmp_path).queues == list(QUEUES)
    assert WorkerProcess({}, tmp_path, queues=[IMPORTS_QUEUE]).queues == ["imports"]
