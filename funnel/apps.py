from django.apps import AppConfig


class FunnelConfig(AppConfig):
    name = "funnel"
    verbose_name = "Funnel"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .permissions import grant_role_permissions

        post_migrate.connect(grant_role_permissions, sender=self)
