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

        from django.db.models.signals import post_delete, post_save

        from .models import CampaignMembership
        from .signals import _announce_one

        for signal in (post_save, post_delete):
            signal.connect(
                _announce_one,
                sender=CampaignMembership,
                dispatch_uid=f"campaigns-membership-{id(signal)}",
            )
