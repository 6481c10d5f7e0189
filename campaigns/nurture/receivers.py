"""Nurturing listens to the funnel: entering nurture enrolls, leaving it ends the enrollment.

The reaction runs on commit, in the process that made the move; a reaction lost to a
crash or an error is made up by beat's reconciler (`enrollment_ends_reconcile`,
`enrollments_reconcile`). Both enroll through `enrollment_start_once`, so a stay in nurture
gets one enrollment whichever runs first, and both end an enrollment only while it is active."""

import logging

from funnel.models import Transition
from leads.stages import Stage

from .models import ConsentRecord
from .services import enrollment_end, enrollment_end_status, enrollment_start_once

log = logging.getLogger(__name__)


def on_stage_changed(sender, *, lead_id, transition_id, from_stage, to_stage, reason="", **kw):
    if from_stage != Stage.NURTURE and to_stage != Stage.NURTURE:
        return
    try:
        at = Transition.objects.filter(pk=transition_id).values_list("at", flat=True).first()
        if from_stage == Stage.NURTURE:
            enrollment_end(lead_id=lead_id, status=enrollment_end_status(to_stage), at=at)
        if to_stage == Stage.NURTURE:
            enrollment_start_once(
                lead_id=lead_id, from_stage=from_stage, reason=reason or "", at=at
            )
    except Exception:
        # Runs after the transition committed: a failure here must not turn the rep's
        # reject into an error page. It is logged; beat's `nurture.reconcile` makes up for it
        # after the grace period: it ends an enrollment whose lead left nurture
        # (`enrollment_ends_reconcile`) and enrolls a lead left unenrolled
        # (`enrollments_reconcile`).
        log.exception(
            "nurture: could not follow lead %s from %s to %s", lead_id, from_stage, to_stage
        )


def on_consent_changed(sender, *, lead_id, do_not_email, actor=None, reason="", **kwargs):
    """A user changed a lead's consent to e-mail: logged in the same transaction as the edit."""
    ConsentRecord.objects.create(
        lead_id=lead_id,
        action=(
            ConsentRecord.Action.UNSUBSCRIBED if do_not_email else ConsentRecord.Action.RESUBSCRIBED
        ),
        how=ConsentRecord.How.STAFF,
        actor=actor,
        reason=(reason or "").strip()[:255],
    )
