"""The Celery app. Time limits, retries and the beat schedule live here, in code."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("handoff")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_time_limit=600,
    task_soft_time_limit=540,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    timezone="UTC",
    beat_schedule={},
)
app.autodiscover_tasks()

# Nurturing: the tick hands due enrollments to workers (campaigns.nurture.tasks). A tick
# not started within one interval is dropped: the next one finds the same due work.
from django.conf import settings  # noqa: E402

app.conf.beat_schedule["nurture-tick"] = {
    "task": "nurture.tick",
    "schedule": float(settings.HANDOFF_NURTURE_TICK_SECONDS),
    "options": {"expires": float(settings.HANDOFF_NURTURE_TICK_SECONDS)},
}
