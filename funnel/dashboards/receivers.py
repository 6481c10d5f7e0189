"""Keep the rollups in step with the log: every committed change to a lead refreshes its fact.

Transitions and lead creation send `stage_changed` on commit. Changes that move a lead
between dimensions without a transition (owner, source, campaign membership, a won deal's
amount) are caught from the models' own signals and refreshed on commit too. Anything
written around these paths (raw SQL, queryset.update) is put right by `rebuild_rollups`.
"""

from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from funnel.models import Opportunity
from funnel.signals import stage_changed
from leads.models import Lead

from .services import lead_fact_refresh_quietly

DIMENSION_FIELDS = {"owner", "owner_id", "source"}


def on_stage_changed(sender, *, lead_id, **kwargs):
    lead_fact_refresh_quietly(lead_id=lead_id)


def _later(lead_id: int) -> None:
    transaction.on_commit(partial(lead_fact_refresh_quietly, lead_id=lead_id))


def on_lead_saved(sender, instance, created, update_fields=None, **kwargs):
    if created:
        return  # its first log row follows, with stage_changed
    if update_fields is not None:
        fields = set(update_fields)
        if "stage" in fields or not fields & DIMENSION_FIELDS:
            return  # a transition (stage_changed follows) or nothing the rollups key on
    _later(instance.pk)


def on_membership_changed(sender, instance, **kwargs):
    _later(instance.lead_id)


def on_opportunity_saved(sender, instance, created, **kwargs):
    if not created:  # a new deal comes with its convert transition
        _later(instance.lead_id)


def connect() -> None:
    stage_changed.connect(on_stage_changed, dispatch_uid="dashboards-stage-changed")
    post_save.connect(on_lead_saved, sender=Lead, dispatch_uid="dashboards-lead-saved")
    # A lazy sender: funnel does not import campaigns.
    for signal in (post_save, post_delete):
        signal.connect(
            on_membership_changed,
            sender="campaigns.CampaignMembership",
            dispatch_uid=f"dashboards-membership-{id(signal)}",
        )
    post_save.connect(
        on_opportunity_saved, sender=Opportunity, dispatch_uid="dashboards-opportunity-saved"
    )
