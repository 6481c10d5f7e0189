from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from funnel.criteria import register_segment_check

        from .criteria import lead_in_campaign_segment

        register_segment_check(lead_in_campaign_segment)

        from leads.signals import lead_erased

        from .erasure import erase_marketing_data

        lead_erased.connect(erase_marketing_data, dispatch_uid="campaigns-erase")
