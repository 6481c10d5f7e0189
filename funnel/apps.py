from django.apps import AppConfig


class FunnelConfig(AppConfig):
    name = "funnel"
    verbose_name = "Funnel"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .assignment import assign_new_mql
        from .permissions import grant_role_permissions
        from .signals import stage_changed

        post_migrate.connect(grant_role_permissions, sender=self)

        from leads.signals import lead_erased

        from .models import Transition

        def erase_log_notes(sender, *, lead_id, **kwargs):
            Transition.objects.filter(lead_id=lead_id).erase_personal_data()

        lead_erased.connect(erase_log_notes, dispatch_uid="funnel-erase-log-notes", weak=False)

        def erase_work(sender, *, lead_id, **kwargs):
            from .activities import lead_work_erase

            lead_work_erase(lead_id=lead_id)

        lead_erased.connect(erase_work, dispatch_uid="funnel-erase-work", weak=False)
        stage_changed.connect(assign_new_mql, dispatch_uid="funnel.assign_new_mql")
