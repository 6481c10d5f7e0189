"""Timeouts and leases, checked by reading the configuration: the broker's visibility
timeout outlasts every task's time limit (or Redis hands a running import to a second
worker), and the outbox does not send a task again while it may still be running."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from outbox.models import PendingTask
from outbox.selectors import lease_over, task_lease_seconds

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.utils.module_loading import autodiscover_modules
from config.celery import app
autodiscover_modules("tasks")
limits = {name: task.time_limit or app.conf.task_time_limit for name, task in app.tasks.items()
          if not name.startswith("celery.")}
print(json.dumps({
    "broker": app.conf.broker_url,
    "visibility": app.conf.broker_transport_options.get("visibility_timeout"),
    "limits": limits,
    "soft": app.tasks["imports.run"].soft_time_limit,
    "outbox_lease": settings.HANDOFF_OUTBOX_LEASE_SECONDS,
}))
"""


def _probe(tmp_path, **env) -> dict:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Redis is named, never reached: only the configuration is read.
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "HANDOFF_VAR_DIR": str(tmp_path),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_visibility_timeout_outlasts_every_tasks_time_limit(tmp_path):
    config = _probe(tmp_path)
    assert config["broker"].startswith("redis://")
    limits = config["limits"]
    assert limits["imports.run"] == 6 * 3600  # the longest: a lead import
    assert max(limits.values()) == limits["imports.run"]
    assert config["visibility"] > max(limits.values())
    assert config["soft"] < limits["imports.run"]


def test_the_visibility_timeout_follows_the_imports_time_limit(tmp_path):
    config = _probe(tmp_path, HANDOFF_IMPORT_TIME_LIMIT_SECONDS="36000")
    assert config["limits"]["imports.run"] == 36000
    assert config["visibility"] > 36000


@pytest.mark.django_db
def test_the_outbox_does_not_send_an_import_again_while_it_may_still_run(settings):
    now = timezone.now()
    limit = settings.HANDOFF_IMPORT_TIME_LIMIT_SECONDS
    assert task_lease_seconds("imports.run") > limit
    assert task_lease_seconds("dashboards.refresh_facts") == settings.HANDOFF_OUTBOX_LEASE_SECONDS

    def sent(task, seconds_ago):
        return PendingTask.objects.create(
            task=task, sent_at=now - dt.timedelta(seconds=seconds_ago), attempts=1
        )

    rows = {
        "import running for two hours": sent("imports.run", 2 * 3600),
        "import past its time limit": sent("imports.run", limit + 61),
        "refresh lost two hours ago": sent("dashboards.refresh_facts", 2 * 3600),
        "refresh sent a minute ago": sent("dashboards.refresh_facts", 60),
    }
    due = set(PendingTask.objects.filter(lease_over(now)))
    assert due == {rows["import past its time limit"], rows["refresh lost two hours ago"]}


def test_a_nurture_batch_is_not_handed_out_again_while_its_task_may_run(settings):
    from campaigns.nurture.tasks import send_batch

    assert send_batch.time_limit < settings.HANDOFF_NURTURE_LEASE_SECONDS
    assert send_batch.time_limit < settings.HANDOFF_BROKER_VISIBILITY_TIMEOUT
