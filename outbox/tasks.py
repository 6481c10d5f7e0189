from celery import shared_task

from .services import pending_tasks_send


@shared_task(name="outbox.send_pending", ignore_result=True)
def send_pending() -> int:
    """Beat: send again what the broker never took or lost."""
    return pending_tasks_send()
