"""The Celery app. Time limits, retries and the beat schedule live here, in code."""

import os

from celery import Celery
from celery.schedules import crontab

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
    beat_schedule={
        # Lead imports whose worker died are queued again; they resume where they were.
        "imports-resume-stalled": {"task": "imports.resume_stalled", "schedule": 60.0},
    },
)
# Marketing (issue 6): engagement decays, so every lead is rescored nightly.
app.conf.beat_schedule["campaigns-rescore-nightly"] = {
    "task": "campaigns.scores_recompute_all",
    "schedule": crontab(hour=3, minute=15),
}
app.autodiscover_tasks()

# Beat entries read their intervals from settings, where the environment is parsed once.
from django.conf import settings  # noqa: E402

# --- sales workspace: MQL SLA breaches -------------------------------------------------------
app.conf.beat_schedule["funnel-find-sla-breaches"] = {
    "task": "funnel.find_sla_breaches",
    "schedule": float(settings.HANDOFF_SLA_CHECK_SECONDS),
}

# Nurturing: the tick hands due enrollments to workers (campaigns.nurture.tasks). A tick
# not started within one interval is dropped: the next one finds the same due work.
app.conf.beat_schedule["nurture-tick"] = {
    "task": "nurture.tick",
    "schedule": float(settings.HANDOFF_NURTURE_TICK_SECONDS),
    "options": {"expires": float(settings.HANDOFF_NURTURE_TICK_SECONDS)},
}

# The outbox (outbox.services): task messages the broker never took or lost are sent again.
app.conf.beat_schedule["outbox-send-pending"] = {
    "task": "outbox.send_pending",
    "schedule": float(settings.HANDOFF_OUTBOX_SWEEP_SECONDS),
    "options": {"expires": float(settings.HANDOFF_OUTBOX_SWEEP_SECONDS)},
}
