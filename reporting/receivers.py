"""Keep the rollups in step with the log: every committed change to a lead refreshes its fact.

Transitions and lead creation send `stage_changed` on commit. Changes that move a lead
between dimensions without a transition (owner, source, a won deal's amount) are caught
from the models' own signals, campaign membership from campaigns' `membership_changed`;
they are refreshed on commit too. Anything written around these paths (raw SQL,
queryset.update) is put right by `rebuild_rollups`.
"""

import logging
import threading
from functools import partial

from django.db import connection, transaction
from django.db.models.signals import post_save

from campaigns.models import CampaignMembership
from campaigns.signals import import_batch_written, membership_changed
from funnel.imports import leads_importing
from funnel.models import Opportunity
from funnel.signals import stage_changed
from leads.models import Lead
from outbox.services import task_enqueue_on_commit

from .services import (
    counted_through,
    lead_dimensions_counted,
    lead_fact_refresh_quietly,
    lead_facts_refresh,
    lead_facts_refresh_quietly,
    leads_mark_pending,
)

logger = logging.getLogger(__name__)

DIMENSION_FIELDS = {"owner", "owner_id", "source"}


def on_stage_changed(sender, *, lead_id, transition_id=None, **kwargs):
    """A move, once committed: counted before the request that made it returns (or marked
    pending, should the refresh fail). Skipped when a refresh since then read its row."""
    if transition_id is not None and counted_through(lead_id, transition_id):
        return
    lead_fact_refresh_quietly(lead_id=lead_id)


def leads_count_now(lead_ids) -> None:
    """Count these leads in the caller's transaction (an import batch, a membership change):
    they commit counted, so an import job is `done` only when its leads are counted. Should
    the refresh fail, the batch still commits; its leads are marked pending and queued for a
    worker in the same transaction (nothing is lost, and `pending` says so)."""
    lead_ids = sorted(set(lead_ids))
    # In chunks: a merge range of tens of thousands of leads is counted in bounded memory
    # (PostgreSQL counts a whole range set-wise, in its own memory).
    size = COUNT_CHUNK_SETWISE if connection.vendor == "postgresql" else COUNT_CHUNK
    for start in range(0, len(lead_ids), size):
        chunk = lead_ids[start : start + size]
        try:
            with transaction.atomic():
                lead_facts_refresh(lead_ids=chunk)
        except Exception:
            logger.exception("could not count %d leads with their batch", len(chunk))
            from .tasks import refresh_facts

            leads_mark_pending(chunk)
            for first in range(0, len(chunk), REFRESH_CHUNK):
                task_enqueue_on_commit(
                    task=refresh_facts, args=[chunk[first : first + REFRESH_CHUNK]]
                )


REFRESH_CHUNK = 1000
COUNT_CHUNK = 2000
COUNT_CHUNK_SETWISE = 100_000


# An import batch's leads, gathered from its merge and membership announcements and counted
# together when the engine says the batch is written (all inside the batch's transaction).
_batch = threading.local()


def _open_batch() -> set | None:
    """The lead ids gathered for the current transaction's batch (None: no batch open)."""
    owner = connection.atomic_blocks[0] if connection.in_atomic_block else None
    if getattr(_batch, "owner", None) is not owner:  # another transaction: forget the last
        _batch.owner, _batch.ids = owner, None
    # A thread that never opened a batch and writes outside a transaction has neither.
    return getattr(_batch, "ids", None)


def on_leads_importing(sender, *, created, moved, **kwargs):
    """An import batch's merge, inside its transaction: its leads are counted when the
    batch is written (on_import_batch_written), or at its commit should nobody say so."""
    ids = _open_batch()
    if ids is None:
        ids = _batch.ids = set()
        transaction.on_commit(partial(_count_leftover, ids))
    ids.update(created)
    ids.update(moved)


def _count_leftover(ids: set) -> None:
    if ids:  # a merge outside an import engine: counted right after its commit
        lead_facts_refresh_quietly(lead_ids=sorted(ids))


def on_import_batch_written(sender, **kwargs):
    ids = _open_batch()
    _batch.ids = None  # closed: what follows in this transaction is counted as it comes
    if ids:
        leads_count_now(sorted(ids))
        ids.clear()


def _later(lead_id: int) -> None:
    transaction.on_commit(partial(lead_fact_refresh_quietly, lead_id=lead_id))


def on_lead_saved(sender, instance, created, update_fields=None, **kwargs):
    if created:
        return  # its first log row follows, with stage_changed
    if update_fields is not None:
        fields = set(update_fields)
        if "stage" in fields or not fields & DIMENSION_FIELDS:
            return  # a transition (stage_changed follows) or nothing the rollups key on
    transaction.on_commit(partial(_refresh_if_moved, instance.pk))


def _refresh_if_moved(lead_id: int) -> None:
    """An owner or source change, once committed: refreshed unless the lead's fact already
    has them (the move that made a new MQL refreshed it after the round robin's save)."""
    if not lead_dimensions_counted(lead_id):
        lead_fact_refresh_quietly(lead_id=lead_id)


def on_membership_changed(sender, *, lead_ids, **kwargs):
    """Leads that joined or left a campaign: their counts per campaign change as much as a
    move's would; counted in the transaction that changed the membership (with its import
    batch, when an import changed it)."""
    ids = _open_batch()
    if ids is not None:
        ids.update(lead_ids)
        return
    leads_count_now(lead_ids)


def on_opportunity_saved(sender, instance, created, **kwargs):
    if not created:  # a new deal comes with its convert transition
        _later(instance.lead_id)


def connect() -> None:
    stage_changed.connect(on_stage_changed, dispatch_uid="dashboards-stage-changed")
    leads_importing.connect(on_leads_importing, dispatch_uid="dashboards-leads-importing")
    post_save.connect(on_lead_saved, sender=Lead, dispatch_uid="dashboards-lead-saved")
    import_batch_written.connect(
        on_import_batch_written, sender=CampaignMembership, dispatch_uid="dashboards-import-batch"
    )
    membership_changed.connect(
        on_membership_changed, sender=CampaignMembership, dispatch_uid="dashboards-membership"
    )
    post_save.connect(
        on_opportunity_saved, sender=Opportunity, dispatch_uid="dashboards-opportunity-saved"
    )
