"""Nurturing listens to the funnel: entering nurture enrolls, leaving it ends the enrollment.

The reaction runs on commit, in the process that made the move; a reaction lost to a
crash or an error is made up by `enrollments_reconcile`, run by beat. Both enroll through
`enrollment_start_once`, so a stay in nurture gets one enrollment whichever runs first."""

import logging

from funnel.models import Transition
from leads.stages import Stage

from .models import ConsentRecord, Enrollment
from .services import enrollment_end, enrollment_start_once

log = logging.getLogger(__name__)

END_STATUS = {Stage.MQL: Enrollment.Status.RECYCLED, Stage.JUNK: Enrollment.Status.JUNKED}


def on_stage_changed(sender, *, lead_id, transition_id, from_stage, to_stage, reason="", **kw):
    if from_stage != Stage.NURTURE and to_stage != Stage.NURTURE:
        return
    try:
        at = Transition.objects.filter(pk=transition_id).values_list("at", flat=True).first()
        if from_stage == Stage.NURTURE:
            status = END_STATUS.get(to_stage, Enrollment.Status.COMPLETED)
            enrollment_end(lead_id=lead_id, status=status, at=at)
        if to_stage == Stage.NURTURE:
            enrollment_start_once(
                lead_id=lead_id, from_stage=from_stage, reason=reason or "", at=at
            )
    except Exception:
        # Runs after the transition committed: a failure here must not turn the rep's
        # reject into an error page. It is logged; a lead left unenrolled is enrolled by
        # beat's `nurture.reconcile` (`enrollments_reconcile`) after the grace period.
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
