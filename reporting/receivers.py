"""Keep the rollups in step with the log: every committed change to a lead refreshes its fact.

Transitions and lead creation send `stage_changed` on commit. Changes that move a lead
between dimensions without a transition (owner, source, a won deal's amount) are caught
from the models' own signals, campaign membership from campaigns' `membership_changed`;
they are refreshed on commit too. Anything written around these paths (raw SQL,
queryset.update) is put right by `rebuild_rollups`.
"""

from functools import partial

from django.db import transaction
from django.db.models.signals import post_save

from campaigns.models import CampaignMembership
from campaigns.signals import membership_changed
from funnel.imports import leads_imported, leads_importing
from funnel.models import Opportunity
from funnel.signals import stage_changed
from leads.models import Lead
from outbox.services import task_enqueue_on_commit

from .services import lead_fact_refresh_quietly, lead_facts_refresh_quietly

DIMENSION_FIELDS = {"owner", "owner_id", "source"}


def on_stage_changed(sender, *, lead_id, **kwargs):
    lead_fact_refresh_quietly(lead_id=lead_id)


# An import batch (up to tens of thousands of leads) sends one `leads_imported`: a small one
# is refreshed at once, a large one by workers in chunks, off the import's own path.
SYNC_REFRESH_LIMIT = 1000
REFRESH_CHUNK = 1000


def on_leads_importing(sender, *, created, moved, joined=(), **kwargs):
    """A large batch: its refresh is queued in the batch's own transaction, so the message
    (an outbox row) commits with the leads and no crash after the commit can lose it."""
    lead_ids = sorted(set(created) | set(moved) | set(joined))
    if len(lead_ids) <= SYNC_REFRESH_LIMIT:
        return
    from .tasks import refresh_facts

    for start in range(0, len(lead_ids), REFRESH_CHUNK):
        task_enqueue_on_commit(task=refresh_facts, args=[lead_ids[start : start + REFRESH_CHUNK]])


def on_leads_imported(sender, *, created, moved, joined=(), **kwargs):
    lead_ids = sorted(set(created) | set(moved) | set(joined))
    if len(lead_ids) > SYNC_REFRESH_LIMIT:
        return  # queued for workers with the batch (on_leads_importing)
    lead_facts_refresh_quietly(lead_ids=lead_ids)


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


def on_membership_changed(sender, *, lead_ids, **kwargs):
    """Leads that joined or left a campaign: their counts per campaign change as much as a
    move's would (a large import batch's by workers, as on_leads_importing)."""
    on_leads_importing(sender, created=lead_ids, moved=())
    transaction.on_commit(partial(on_leads_imported, sender, created=lead_ids, moved=()))


def on_opportunity_saved(sender, instance, created, **kwargs):
    if not created:  # a new deal comes with its convert transition
        _later(instance.lead_id)


def connect() -> None:
    stage_changed.connect(on_stage_changed, dispatch_uid="dashboards-stage-changed")
    leads_importing.connect(on_leads_importing, dispatch_uid="dashboards-leads-importing")
    leads_imported.connect(on_leads_imported, dispatch_uid="dashboards-leads-imported")
    post_save.connect(on_lead_saved, sender=Lead, dispatch_uid="dashboards-lead-saved")
    membership_changed.connect(
        on_membership_changed, sender=CampaignMembership, dispatch_uid="dashboards-membership"
    )
    post_save.connect(
        on_opportunity_saved, sender=Opportunity, dispatch_uid="dashboards-opportunity-saved"
    )
