from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "reporting"
    label = "dashboards"
    verbose_name = "Dashboards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
