"""The Celery app. Time limits, retries and the beat schedule live here, in code."""

import os

from celery import Celery
from celery.schedules import crontab
from django.conf import settings
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Two queues. An import of a million rows holds a worker process for minutes, so imports have
# a queue of their own, and a burst of uploads never delays a nurture tick, a send, a rollup
# refresh or the outbox sweep on the default queue. Every worker command consumes both
# (bin/run.py, tests, soak) except compose's dedicated `worker` and `importer` services.
DEFAULT_QUEUE = "celery"
IMPORTS_QUEUE = "imports"
QUEUES = (DEFAULT_QUEUE, IMPORTS_QUEUE)

# Every periodic task, in one place. Intervals come from settings, where the environment is
# parsed once. A run not started within its interval is dropped where the next one finds the
# same work (`expires`).
BEAT_SCHEDULE = {
    # Lead imports whose worker died are queued again; they resume where they were.
    "imports-resume-stalled": {"task": "imports.resume_stalled", "schedule": 60.0},
    # Marketing: engagement decays, so every lead is rescored nightly.
    "campaigns-rescore-nightly": {
        "task": "campaigns.scores_recompute_all",
        "schedule": crontab(hour=3, minute=15),
    },
    # The sales workspace: MQLs waiting past the SLA.
    "funnel-find-sla-breaches": {
        "task": "funnel.find_sla_breaches",
        "schedule": float(settings.HANDOFF_SLA_CHECK_SECONDS),
    },
    # MQLs whose on-commit round-robin assignment was lost get their owner.
    "funnel-reconcile-assignments": {
        "task": "funnel.reconcile_assignments",
        "schedule": float(settings.HANDOFF_ASSIGNMENT_RECONCILE_SECONDS),
        "options": {"expires": float(settings.HANDOFF_ASSIGNMENT_RECONCILE_SECONDS)},
    },
    # Nurturing: the tick hands due enrollments to workers (campaigns.nurture.tasks).
    "nurture-tick": {
        "task": "nurture.tick",
        "schedule": float(settings.HANDOFF_NURTURE_TICK_SECONDS),
        "options": {"expires": float(settings.HANDOFF_NURTURE_TICK_SECONDS)},
    },
    # Leads in nurture whose on-commit enrollment was lost (a crash between the move's commit
    # and its reaction) are enrolled, and enrollments of leads that left nurture whose end was
    # lost are ended.
    "nurture-reconcile": {
        "task": "nurture.reconcile",
        "schedule": float(settings.HANDOFF_NURTURE_RECONCILE_SECONDS),
        "options": {"expires": float(settings.HANDOFF_NURTURE_RECONCILE_SECONDS)},
    },
    # The outbox (outbox.services): task messages the broker never took or lost are sent again.
    "outbox-send-pending": {
        "task": "outbox.send_pending",
        "schedule": float(settings.HANDOFF_OUTBOX_SWEEP_SECONDS),
        "options": {"expires": float(settings.HANDOFF_OUTBOX_SWEEP_SECONDS)},
    },
    # Predictive scoring: a new model every night from the day's outcomes (queued on the
    # heavy queue by `predictive.train`); new and changed leads scored every few minutes.
    "predictive-train-nightly": {
        "task": "predictive.train_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    "predictive-score-pending": {
        "task": "predictive.score_pending",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    # A rep's working day: one morning digest per rep (funnel.my_day), claimed per rep and
    # day, so a second run of the entry on the same day sends nothing.
    "funnel-morning-digests": {
        "task": "funnel.send_morning_digests",
        "schedule": crontab(
            hour=settings.HANDOFF_DIGEST_HOUR, minute=settings.HANDOFF_DIGEST_MINUTE
        ),
    },
}

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
    # Declared, not only created on first use: a worker started without -Q consumes both,
    # and `app.control.purge()` empties both. Each with its own exchange and key, as Celery
    # creates a missing queue: a bare Queue(name) would be bound to the default exchange
    # with the default key, and every default task would be copied into it.
    task_default_queue=DEFAULT_QUEUE,
    task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
    # Applied by apply_async and by send_task alike, so the outbox's sends by name
    # (outbox.services) land where a direct call would. `imports.resume_stalled` stays on
    # the default queue: a quick sweep that only queues jobs again.
    task_routes={
        "imports.run": {"queue": IMPORTS_QUEUE},
        # Predictive scoring: a training reads every lead and fits for minutes.
        "predictive.train": {"queue": IMPORTS_QUEUE},
    },
    beat_schedule=BEAT_SCHEDULE,
)
app.autodiscover_tasks()
