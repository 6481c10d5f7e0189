from django.apps import AppConfig


class NurtureConfig(AppConfig):
    name = "campaigns.nurture"
    label = "nurture"
    verbose_name = "Nurturing"

    def ready(self) -> None:
        from funnel.signals import stage_changed

        from .receivers import on_stage_changed

        stage_changed.connect(on_stage_changed, dispatch_uid="nurture.on_stage_changed")

        from leads.signals import lead_erased

        from .erasure import erase_nurture_data

        lead_erased.connect(erase_nurture_data, dispatch_uid="nurture.erase")

        from leads.signals import lead_consent_changed

        from .receivers import on_consent_changed

        lead_consent_changed.connect(on_consent_changed, dispatch_uid="nurture.consent")
