"""Writes for nurturing: enrollments start and end, the tick hands due enrollments to
workers, a worker sends each e-mail step exactly once, opens and clicks count as
engagement, unsubscribes are recorded and stop everything.

The sending itself, exactly once per (enrollment, step), is in `sending`.
"""

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns.scoring import engagement_record
from funnel.lifecycle import RULES
from funnel.models import Transition
from leads.models import Lead
from leads.stages import Stage
from outbox.services import task_enqueue_on_commit

from .models import (
    Audience,
    ConsentRecord,
    ContentAsset,
    Enrollment,
    Message,
    Programme,
    Step,
    TrackingEvent,
)

# --- enrollments --------------------------------------------------------------------------


def programme_for(*, from_stage: str, reason: str) -> Programme | None:
    for programme in Programme.objects.filter(is_active=True).order_by("priority", "id"):
        if programme.matches(from_stage=from_stage, reason=reason):
            return programme
    return None


def enrollment_start(
    *, lead_id: int, from_stage: str, reason: str = "", at: dt.datetime | None = None
) -> Enrollment | None:
    """Enroll a lead that entered nurture in the first programme whose rule matches.

    Its first step is due at once, so a first e-mail goes out on the next tick.
    """
    at = at or timezone.now()
    programme = programme_for(from_stage=from_stage, reason=reason)
    if programme is None:
        return None
    with transaction.atomic():
        # A lead has one active enrollment: a new lap in nurture ends any left over.
        Enrollment.objects.filter(lead_id=lead_id, status=Enrollment.Status.ACTIVE).update(
            status=Enrollment.Status.COMPLETED, ended_at=at, next_due_at=None
        )
        return Enrollment.objects.create(
            lead_id=lead_id,
            programme=programme,
            from_stage=from_stage,
            reason=reason or "",
            enrolled_at=at,
            next_position=0,
            next_due_at=at,
        )


def enrollment_start_once(
    *, lead_id: int, from_stage: str, reason: str = "", at: dt.datetime | None = None
) -> Enrollment | None:
    """`enrollment_start` for one stay in nurture, at most once.

    Under the lead's row lock, nothing when an enrollment already started at or after `at`
    (the move into nurture): the on-commit reaction and the reconciler, whichever comes
    second, find the other's enrollment and leave it.
    """
    at = at or timezone.now()
    with transaction.atomic():
        # NO KEY UPDATE: waits for a move of the lead (FOR UPDATE) and for the other path,
        # but not for a worker that holds this lead's enrollment and inserts its message (the
        # foreign key check takes KEY SHARE on the lead): that order would deadlock.
        Lead.objects.select_for_update(no_key=True, of=("self",)).filter(pk=lead_id).first()
        if Enrollment.objects.filter(lead_id=lead_id, enrolled_at__gte=at).exists():
            return None
        return enrollment_start(lead_id=lead_id, from_stage=from_stage, reason=reason, at=at)


# The moves into nurture whose on-commit reaction enrolls: an import's moves (verb "import")
# are history and never enroll, so the reconciler leaves them too.
NURTURE_VERBS = tuple(sorted({rule.verb for rule in RULES if rule.target == Stage.NURTURE}))


def _programmes_match() -> Q | None:
    """What the active programmes catch, as a filter on transitions; None when nothing."""
    match = None
    for programme in Programme.objects.filter(is_active=True):
        rule = Q(from_stage__in=list(programme.exits))
        if programme.reasons:
            reasons = Q(reason__code__in=list(programme.reasons))
            if "" in programme.reasons:
                reasons |= Q(reason__isnull=True)
            rule &= reasons
        match = rule if match is None else match | rule
    return match


def enrollments_reconcile(
    *,
    now: dt.datetime,
    grace: dt.timedelta | None = None,
    window: dt.timedelta | None = None,
    limit: int | None = None,
) -> int:
    """Enroll leads in nurture whose on-commit reaction was lost; returns how many.

    The reaction runs after the move's commit, in the process that made it: a process that
    died in between, or a reaction that raised, leaves the lead in nurture and unenrolled.
    Candidates are the latest moves into nurture of leads still there, older than `grace`
    (a reaction still in flight is not raced) and younger than `window` (old history is not
    enrolled again, and the scan stays on the (to_stage, at) index), with no enrollment
    started since, caught by an active programme, `limit` per run, oldest first. Each is
    checked again under the lead's row lock, as the reaction checks, then enrolled as the
    reaction would have enrolled it.
    """
    if grace is None:
        grace = dt.timedelta(seconds=settings.HANDOFF_NURTURE_RECONCILE_GRACE_SECONDS)
    if window is None:
        window = dt.timedelta(days=settings.HANDOFF_NURTURE_RECONCILE_WINDOW_DAYS)
    limit = limit or settings.HANDOFF_NURTURE_RECONCILE_MAX
    match = _programmes_match()
    if match is None:
        return 0
    later_entry = Transition.objects.filter(
        lead_id=OuterRef("lead_id"), to_stage=Stage.NURTURE
    ).filter(Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), id__gt=OuterRef("id")))
    enrolled_since = Enrollment.objects.filter(
        lead_id=OuterRef("lead_id"), enrolled_at__gte=OuterRef("at")
    )
    candidates = list(
        Transition.objects.filter(
            match,
            to_stage=Stage.NURTURE,
            verb__in=NURTURE_VERBS,
            at__gt=now - window,
            at__lte=now - grace,
            lead__stage=Stage.NURTURE,
        )
        .exclude(Exists(later_entry))
        .exclude(Exists(enrolled_since))
        # An import's lose or disqualify rows are history: enrolled only when asked.
        .exclude(data__has_key="imported")
        .order_by("at", "id")
        .values_list("id", "lead_id", "from_stage", "reason__code", "at")[:limit]
    )
    repaired = 0
    for transition_id, lead_id, from_stage, reason, at in candidates:
        with transaction.atomic():
            # The lead may have moved on, or been enrolled, since the read: look again with
            # its row locked (a move locks it too), as the reaction does.
            lead = (
                Lead.objects.select_for_update(no_key=True, of=("self",))
                .filter(pk=lead_id, stage=Stage.NURTURE)
                .first()
            )
            entry = (
                Transition.objects.filter(lead_id=lead_id, to_stage=Stage.NURTURE)
                .order_by("-at", "-id")
                .values_list("id", flat=True)
                .first()
            )
            if lead is None or entry != transition_id:
                continue
            if enrollment_start_once(
                lead_id=lead_id, from_stage=from_stage, reason=reason or "", at=at
            ):
                repaired += 1
    return repaired


# How an enrollment ends when its lead leaves nurture for a stage (the reaction's table).
END_STATUS = {Stage.MQL: Enrollment.Status.RECYCLED, Stage.JUNK: Enrollment.Status.JUNKED}


def enrollment_end_status(to_stage: str) -> str:
    return END_STATUS.get(to_stage, Enrollment.Status.COMPLETED)


def enrollment_ends_reconcile(
    *, now: dt.datetime, grace: dt.timedelta | None = None, limit: int | None = None
) -> int:
    """End active enrollments whose lead left nurture and whose on-commit end was lost;
    returns how many. Left alone, such an enrollment keeps e-mailing a lead that a rep is
    now working, or that became a customer or junk.

    Candidates are active enrollments with a move out of nurture made since they started,
    older than `grace` (a reaction still in flight is not raced), `limit` per run, oldest
    first. Each is ended under the lead's row lock as the reaction would have ended it: with
    the status for the stage the lead left for, at the time of that move.
    """
    if grace is None:
        grace = dt.timedelta(seconds=settings.HANDOFF_NURTURE_RECONCILE_GRACE_SECONDS)
    limit = limit or settings.HANDOFF_NURTURE_RECONCILE_MAX
    left = Transition.objects.filter(
        lead_id=OuterRef("lead_id"),
        from_stage=Stage.NURTURE,
        at__gte=OuterRef("enrolled_at"),
        at__lte=now - grace,
    )
    candidates = list(
        Enrollment.objects.filter(Exists(left), status=Enrollment.Status.ACTIVE)
        .order_by("enrolled_at", "id")
        .values_list("id", "lead_id")[:limit]
    )
    ended = 0
    for enrollment_id, lead_id in candidates:
        with transaction.atomic():
            Lead.objects.select_for_update(no_key=True, of=("self",)).filter(pk=lead_id).first()
            enrollment = Enrollment.objects.filter(
                pk=enrollment_id, status=Enrollment.Status.ACTIVE
            ).first()
            if enrollment is None:
                continue
            exit_move = (
                Transition.objects.filter(
                    lead_id=lead_id, from_stage=Stage.NURTURE, at__gte=enrollment.enrolled_at
                )
                .order_by("at", "id")
                .values_list("to_stage", "at")
                .first()
            )
            if exit_move is None:
                continue
            to_stage, at = exit_move
            ended += Enrollment.objects.filter(
                pk=enrollment_id, status=Enrollment.Status.ACTIVE
            ).update(
                status=enrollment_end_status(to_stage),
                ended_at=at,
                next_due_at=None,
                queued_until=None,
            )
    return ended


def enrollment_end(
    *, lead_id: int, status: str, at: dt.datetime | None = None
) -> int:  # how many ended
    at = at or timezone.now()
    return Enrollment.objects.filter(lead_id=lead_id, status=Enrollment.Status.ACTIVE).update(
        status=status, ended_at=at, next_due_at=None, queued_until=None
    )


# --- the tick -----------------------------------------------------------------------------


def enrollments_queue_due(*, now: dt.datetime, limit: int | None = None) -> list[list[int]]:
    """Hand due enrollments to workers in batches; returns the batches handed out.

    A conditional update marks each enrollment queued for a lease, under SKIP LOCKED, so
    two beats ticking at once hand out disjoint batches; after the lease (a worker died)
    the next tick hands it out again.
    """
    from .tasks import send_batch  # tasks import services: import here, not at the top

    limit = limit or settings.HANDOFF_NURTURE_MAX_PER_TICK
    lease = now + dt.timedelta(seconds=settings.HANDOFF_NURTURE_LEASE_SECONDS)
    not_queued = Q(queued_until__isnull=True) | Q(queued_until__lt=now)
    # One pass over the due-time index, then each batch claimed by primary key.
    due = list(
        Enrollment.objects.filter(
            not_queued,
            status=Enrollment.Status.ACTIVE,
            next_due_at__lte=now,
            failures__lt=settings.HANDOFF_NURTURE_MAX_FAILURES,
            programme__is_active=True,
        )
        .order_by("next_due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    batches: list[list[int]] = []
    size = settings.HANDOFF_NURTURE_BATCH_SIZE
    for start in range(0, len(due), size):
        with transaction.atomic():
            ids = _batch_mark_queued(due[start : start + size], now=now, lease=lease)
            if not ids:
                continue
            task_enqueue_on_commit(task=send_batch, args=[ids, now.isoformat()])
        batches.append(ids)
    return batches


_MARK_QUEUED = """
    UPDATE {table} SET queued_until = %s
    WHERE id IN (
        SELECT id FROM {table}
        WHERE id = ANY(%s) AND (queued_until IS NULL OR queued_until < %s)
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
"""


def _batch_mark_queued(ids: list[int], *, now: dt.datetime, lease: dt.datetime) -> list[int]:
    """Mark the ids still free queued until `lease`; returns those marked, in order.

    Rows another beat holds are skipped (SKIP LOCKED), not waited for: two beats hand out
    disjoint batches. On PostgreSQL one statement (the tick's time competes with the
    workers' for the CPU); elsewhere the same through the ORM.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_MARK_QUEUED.format(table=Enrollment._meta.db_table), [lease, ids, now])
            return sorted(row[0] for row in cursor.fetchall())
    not_queued = Q(queued_until__isnull=True) | Q(queued_until__lt=now)
    marked = list(
        Enrollment.objects.filter(not_queued, pk__in=ids)
        .select_for_update(skip_locked=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    Enrollment.objects.filter(pk__in=marked).update(queued_until=lease)
    return marked


# --- engagement ---------------------------------------------------------------------------


def tracking_record(
    *, message_id: int, kind: str, url: str = "", at: dt.datetime | None = None
) -> TrackingEvent | None:
    """Record an open or a click; the first of each (message, kind, link) is engagement."""
    at = at or timezone.now()
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return None
    with transaction.atomic():
        seen = TrackingEvent.objects.filter(message=message, kind=kind, url=url).exists()
        event = TrackingEvent.objects.create(
            message=message, lead_id=message.lead_id, kind=kind, url=url[:500], at=at
        )
        if not seen:
            engagement_record(
                lead_id=message.lead_id,
                kind="email_opened" if kind == TrackingEvent.Kind.OPEN else "link_clicked",
                at=at,
                detail=f"nurture message {message.pk}: {message.subject}",
            )
    return event


# --- consent ------------------------------------------------------------------------------


def consent_unsubscribe(
    *, message_id: int, how: str, at: dt.datetime | None = None
) -> ConsentRecord | None:
    """Unsubscribe the message's lead from every e-mail; idempotent."""
    at = at or timezone.now()
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return None
    with transaction.atomic():
        lead = Lead.objects.select_for_update(of=("self",)).get(pk=message.lead_id)
        existing = ConsentRecord.objects.filter(
            lead=lead, action=ConsentRecord.Action.UNSUBSCRIBED
        ).first()
        if existing is not None and lead.do_not_email:
            return existing
        record = ConsentRecord.objects.create(
            lead=lead,
            action=ConsentRecord.Action.UNSUBSCRIBED,
            how=how,
            message=message,
            at=at,
        )
        # A field, not the stage: the transition service's monopoly is on `stage`.
        Lead.objects.filter(pk=lead.pk).update(do_not_email=True, updated_at=at)
        enrollment_end(lead_id=lead.pk, status=Enrollment.Status.UNSUBSCRIBED, at=at)
    return record


# --- programmes and content ---------------------------------------------------------------


def programme_create(
    *,
    name: str,
    exits: list[str],
    reasons: list[str],
    priority: int = 100,
    is_active: bool = True,
    created_by=None,
) -> Programme:
    return Programme.objects.create(
        name=name,
        exits=list(exits),
        reasons=list(reasons),
        priority=priority,
        is_active=is_active,
        created_by=created_by,
    )


def programme_update(*, programme: Programme, **changes) -> Programme:
    for field, value in changes.items():
        setattr(programme, field, value)
    programme.save()
    return programme


def step_add(
    *,
    programme: Programme,
    kind: str,
    subject: str = "",
    body: str = "",
    asset: ContentAsset | None = None,
    wait_days: int = 0,
    audience_name: str = "",
) -> Step:
    """Append a step to the programme."""
    with transaction.atomic():
        Programme.objects.select_for_update().filter(pk=programme.pk).first()
        last = programme.steps.order_by("-position").values_list("position", flat=True).first()
        audience = None
        if kind == Step.Kind.AUDIENCE:
            audience = Audience.objects.get_or_create(name=audience_name.strip())[0]
        return Step.objects.create(
            programme=programme,
            position=0 if last is None else last + 1,
            kind=kind,
            subject=subject if kind == Step.Kind.EMAIL else "",
            body=body if kind == Step.Kind.EMAIL else "",
            asset=asset if kind == Step.Kind.EMAIL else None,
            wait_days=wait_days if kind == Step.Kind.WAIT else 0,
            audience=audience,
        )


class StepInUse(Exception):
    pass


def step_remove(*, step: Step) -> None:
    """Remove a step nobody was sent yet; a sent step stays for its history."""
    if step.messages.exists():
        raise StepInUse("This step has sent messages; it stays for their history.")
    step.delete()


def asset_create(*, created_by=None, **fields) -> ContentAsset:
    return ContentAsset.objects.create(created_by=created_by, **fields)


def asset_update(*, asset: ContentAsset, **changes) -> ContentAsset:
    for field, value in changes.items():
        setattr(asset, field, value)
    asset.save()
    return asset
