from campaigns.nurture.tasks import retry_countdown, send_batch
from config.celery import app


def test_the_send_task_is_acked_late_and_time_limited():
    assert send_batch.acks_late is True
    assert send_batch.reject_on_worker_lost is True
    assert 0 < send_batch.soft_time_limit < send_batch.time_limit


def test_retries_back_off_but_never_past_half_the_visibility_timeout(settings):
    settings.HANDOFF_NURTURE_RETRY_BASE_SECONDS = 10
    settings.HANDOFF_NURTURE_RETRY_MAX_SECONDS = 100_000
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    assert [retry_countdown(n) for n in range(4)] == [10, 20, 40, 80]
    assert retry_countdown(30) == 1800


def test_beat_ticks_every_minute_by_default():
    entry = app.conf.beat_schedule["nurture-tick"]
    assert entry["task"] == "nurture.tick"
    assert entry["schedule"] == 60.0
