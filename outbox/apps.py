from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import task_postrun

        from .services import pending_task_done

        task_postrun.connect(pending_task_done, dispatch_uid="outbox.pending_task_done")
