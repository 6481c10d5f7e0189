"""The work sales does on a lead: activities logged, follow-up tasks, and the lead's timeline
(moves, activities, tasks and field changes together).

Access is the lead's: whoever may act on a lead (`leads.selectors.can_act_on`) may log on it
and give it tasks; a rep on a colleague's lead is refused.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Min, OuterRef, QuerySet, Subquery
from django.utils import timezone

from leads.models import Lead
from leads.roles import SALES_REP, has_role, is_manager
from leads.selectors import can_act_on, lead_owner_candidates, ownership_refusal

from .errors import InvalidTransition, LeadNotFound, TransitionForbidden
from .models import Activity, LeadChange, Task, Transition

MAX_NOTE = 5000
MAX_DURATION = 24 * 60
# A clock a few minutes fast on the client is not a logged future.
FUTURE_SLACK = dt.timedelta(minutes=5)
DURATION_KINDS = (Activity.Kind.CALL, Activity.Kind.MEETING)


def _lead_to_act_on(lead_id, actor) -> Lead:
    lead = Lead.objects.select_related("owner").filter(pk=lead_id).first()
    if lead is None:
        raise LeadNotFound("No such lead.")
    if not can_act_on(actor, lead):
        raise TransitionForbidden(ownership_refusal(actor, lead))
    return lead


# --- activities ---------------------------------------------------------------------------


def activity_log(
    *,
    lead_id: int,
    actor,
    kind: str,
    outcome: str = "",
    at: dt.datetime | None = None,
    duration_minutes: int | None = None,
    note: str = "",
) -> Activity:
    """Log a call, e-mail, meeting or note on a lead. Raises a TransitionError when refused."""
    lead = _lead_to_act_on(lead_id, actor)
    errors: dict[str, list[str]] = {}
    if kind not in Activity.Kind.values:
        errors["kind"] = [f"Use one of: {', '.join(Activity.Kind.values)}."]
    outcome = (outcome or "").strip()
    if len(outcome) > 100:
        errors["outcome"] = ["Keep the outcome under 100 characters."]
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        errors["note"] = [f"Keep notes under {MAX_NOTE} characters."]
    now = timezone.now()
    at = at or now
    if at > now + FUTURE_SLACK:
        errors["at"] = ["An activity is logged once it happened; plan the future with a task."]
    if duration_minutes is not None:
        if kind not in DURATION_KINDS:
            errors["duration_minutes"] = ["Only calls and meetings have a duration."]
        elif not 0 <= duration_minutes <= MAX_DURATION:
            errors["duration_minutes"] = [f"Give 0 to {MAX_DURATION} minutes."]
    if kind == Activity.Kind.NOTE and not note:
        errors["note"] = ["A note needs its text."]
    if errors:
        raise InvalidTransition(next(iter(errors.values()))[0], errors=errors)
    return Activity.objects.create(
        lead=lead,
        kind=kind,
        outcome=outcome,
        at=at,
        duration_minutes=duration_minutes,
        note=note,
        actor=actor,
        created_at=now,
    )


# --- tasks --------------------------------------------------------------------------------


def _task_owner(actor, lead: Lead, owner):
    """The task's owner: the actor unless named. Managers give tasks to any rep or manager; a
    rep to themselves or to the lead's owner."""
    if owner in (None, ""):
        return actor
    if isinstance(owner, str):
        user = lead_owner_candidates().filter(username=owner).first()
        if user is None:
            raise InvalidTransition(
                f"{owner!r} is not an active sales rep or manager.",
                errors={"owner": ["Give the username of an active sales rep or manager."]},
            )
        owner = user
    if owner.pk != actor.pk and not is_manager(actor) and owner.pk != lead.owner_id:
        raise TransitionForbidden("A sales rep gives tasks to themselves or the lead's owner.")
    return owner


def task_create(*, lead_id: int, actor, title: str, due_at: dt.datetime, owner=None) -> Task:
    lead = _lead_to_act_on(lead_id, actor)
    title = (title or "").strip()
    if not title:
        raise InvalidTransition(
            "A task needs a title.", errors={"title": ["Give the task a title."]}
        )
    if len(title) > 200:
        raise InvalidTransition(
            "The title is too long.", errors={"title": ["Keep titles under 200 characters."]}
        )
    if due_at is None:
        raise InvalidTransition("A task needs a due time.", errors={"due_at": ["Say when."]})
    return Task.objects.create(
        lead=lead,
        title=title,
        due_at=due_at,
        owner=_task_owner(actor, lead, owner),
        created_by=actor,
    )


def can_change_task(user, task: Task) -> bool:
    return task.owner_id == user.pk or can_act_on(user, task.lead)


def task_update(*, task_id: int, actor, done: bool | None = None, title=None, due_at=None) -> Task:
    """Complete (or reopen), retitle or reschedule a task: its owner, or whoever may act on
    its lead. Completing a done task changes nothing."""
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("lead", "owner")
            .filter(pk=task_id)
            .first()
        )
        if task is None:
            raise LeadNotFound("No such task.")
        if not can_change_task(actor, task):
            owner = task.owner.get_username() if task.owner_id else "nobody"
            raise TransitionForbidden(
                f"Task {task.pk} belongs to {owner}; a sales rep changes their own tasks "
                "and those on their own leads."
            )
        fields = []
        if done is True and task.done_at is None:
            task.done_at, task.done_by = timezone.now(), actor
            fields += ["done_at", "done_by"]
        elif done is False and task.done_at is not None:
            task.done_at, task.done_by = None, None
            fields += ["done_at", "done_by"]
        if title is not None:
            title = title.strip()
            if not title or len(title) > 200:
                raise InvalidTransition(
                    "Give the task a title.", errors={"title": ["1 to 200 characters."]}
                )
            task.title = title
            fields.append("title")
        if due_at is not None:
            task.due_at = due_at
            fields.append("due_at")
        if fields:
            task.save(update_fields=fields)
    return task


def day_bounds(day: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The start and end of a day in the installation's time zone."""
    day = day or timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def tasks_filter(queryset: QuerySet[Task], *, user, owner="", lead=None, due="", done=None):
    """The API's and My day's filters: owner me/username, lead id, due overdue/today, done."""
    owner = (owner or "").strip()
    if owner == "me":
        queryset = queryset.filter(owner=user)
    elif owner:
        queryset = queryset.filter(owner__username=owner)
    if lead is not None:
        queryset = queryset.filter(lead_id=lead)
    now = timezone.now()
    start, end = day_bounds()
    if due == "overdue":
        queryset = queryset.filter(done_at__isnull=True, due_at__lt=now)
    elif due == "today":
        queryset = queryset.filter(due_at__gte=start, due_at__lt=end)
    if done is not None:
        queryset = queryset.filter(done_at__isnull=not done)
    return queryset


def task_list() -> QuerySet[Task]:
    return Task.objects.select_related("lead", "owner", "created_by", "done_by").order_by(
        "due_at", "id"
    )


# --- the lead's timeline ------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # "move", "activity", "task", "change"
    at: dt.datetime
    item: object


def lead_timeline(lead: Lead) -> list[TimelineEntry]:
    """Moves, activities, tasks (at their creation) and field changes, oldest first."""
    entries = [
        TimelineEntry("move", row.at, row)
        for row in lead.transitions.select_related("actor", "reason", "campaign")
    ]
    entries += [
        TimelineEntry("activity", row.at, row) for row in lead.activities.select_related("actor")
    ]
    entries += [
        TimelineEntry("task", row.created_at, row)
        for row in lead.tasks.select_related("owner", "created_by", "done_by")
    ]
    entries += [
        TimelineEntry("change", row.at, row) for row in lead.changes.select_related("actor")
    ]
    order = {"move": 0, "change": 1, "activity": 2, "task": 3}
    entries.sort(key=lambda entry: (entry.at, order[entry.kind], entry.item.pk))
    return entries


def open_tasks_of_lead(lead: Lead) -> QuerySet[Task]:
    return lead.tasks.filter(done_at__isnull=True).select_related("owner").order_by("due_at", "id")


# --- speed to first touch -----------------------------------------------------------------


def first_touch_by_rep(*, since: dt.date | None = None, until: dt.date | None = None) -> list:
    """MQL accepted -> first activity logged on the lead after it, per rep who accepted.

    One row per rep: accepts, how many were touched, the median hours to the touch, and how
    many are still untouched. The accepts counted are those made between since and until.
    """
    accepts = Transition.objects.filter(verb="accept", actor__isnull=False)
    if since:
        accepts = accepts.filter(at__gte=day_bounds(since)[0])
    if until:
        accepts = accepts.filter(at__lt=day_bounds(until)[1])
    first = (
        Activity.objects.filter(lead=OuterRef("lead_id"), at__gte=OuterRef("at"))
        .values("lead")
        .annotate(first=Min("at"))
        .values("first")
    )
    rows = accepts.annotate(first_touch=Subquery(first)).values_list(
        "actor_id", "at", "first_touch"
    )
    per_rep: dict[int, list] = {}
    for actor_id, accepted_at, touched_at in rows.iterator(chunk_size=2000):
        hours = None if touched_at is None else (touched_at - accepted_at).total_seconds() / 3600
        per_rep.setdefault(actor_id, []).append(hours)
    names = dict(get_user_model().objects.filter(pk__in=per_rep).values_list("pk", "username"))
    result = []
    for actor_id, durations in per_rep.items():
        touched = sorted(hours for hours in durations if hours is not None)
        result.append(
            {
                "rep": names.get(actor_id, f"user {actor_id}"),
                "accepted": len(durations),
                "touched": len(touched),
                "untouched": len(durations) - len(touched),
                "median_hours": round(_median(touched), 1) if touched else None,
            }
        )
    result.sort(key=lambda row: row["rep"])
    return result


def _median(values: list[float]) -> float:
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


# --- who a rep's day is for ---------------------------------------------------------------


def works_a_day(user) -> bool:
    """Reps and managers have a day of tasks and MQLs."""
    return has_role(user, SALES_REP) or is_manager(user)


# --- GDPR erasure ---------------------------------------------------------------------------


def lead_work_erase(*, lead_id: int) -> None:
    """`lead_erased` receiver: the person's data goes from the work on the lead too. The
    activities stay counted (kind, time, who, minutes), notes and outcomes go; task titles are
    replaced; logged changes of personal fields lose their values."""
    from leads.services import ERASED_VALUES

    Activity.objects.filter(lead_id=lead_id).update(note="", outcome="")
    Task.objects.filter(lead_id=lead_id).update(title="(erased)")
    LeadChange.objects.filter(lead_id=lead_id, field__in=[*ERASED_VALUES, "external_id"]).update(
        old="", new=""
    )
