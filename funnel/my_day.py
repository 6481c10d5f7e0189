"""A rep's day: overdue tasks, tasks due today and new MQLs, on the "My day" page and in the
morning digest e-mail (one per rep per day, claimed by a unique row before it is sent)."""

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead
from leads.stages import Stage

from .activities import day_bounds
from .assignment import active_reps
from .models import DigestSent, Task, WorkspaceSettings
from .sla import sla_clock

logger = logging.getLogger(__name__)

# The most rows of each kind a page or an e-mail lists; the counts stay exact.
LIST_LIMIT = 50
NEW_MQL_HOURS = 24


def my_day(user, *, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    _start, end = day_bounds(timezone.localdate(now))
    open_tasks = Task.objects.filter(owner=user, done_at__isnull=True).select_related("lead")
    overdue = open_tasks.filter(due_at__lt=now).order_by("due_at", "id")
    today = open_tasks.filter(due_at__gte=now, due_at__lt=end).order_by("due_at", "id")
    mqls = Lead.objects.filter(stage=Stage.MQL, owner=user).order_by("stage_changed_at", "id")
    hours = WorkspaceSettings.load().sla_hours
    fresh_since = now - dt.timedelta(hours=NEW_MQL_HOURS)
    mql_rows = [
        {
            "lead": lead,
            "clock": sla_clock(lead.stage_changed_at, hours=hours, now=now),
            "new": lead.stage_changed_at >= fresh_since,
        }
        for lead in mqls[:LIST_LIMIT]
    ]
    return {
        "overdue": list(overdue[:LIST_LIMIT]),
        "overdue_count": overdue.count(),
        "today": list(today[:LIST_LIMIT]),
        "today_count": today.count(),
        "mqls": mql_rows,
        "mql_count": mqls.count(),
        "new_mql_count": mqls.filter(stage_changed_at__gte=fresh_since).count(),
        "unassigned_mql_count": Lead.objects.filter(stage=Stage.MQL, owner__isnull=True).count(),
        "done_today": Task.objects.filter(done_by=user, done_at__gte=_start).count(),
    }


def _link(name: str, *args) -> str:
    return settings.SITE_URL + reverse(name, args=args)


def _digest_text(user, day: dt.date, content: dict) -> str:
    def task_line(task) -> str:
        due = timezone.localtime(task.due_at)
        return f"  - {due:%Y-%m-%d %H:%M}  {task.title} ({task.lead.display_name}): " + _link(
            "lead-detail", task.lead_id
        )

    lines = [f"Good morning {user.first_name or user.get_username()},", ""]
    lines.append(f"Overdue tasks: {content['overdue_count']}")
    lines += [task_line(task) for task in content["overdue"]]
    lines.append(f"Due today: {content['today_count']}")
    lines += [task_line(task) for task in content["today"]]
    lines.append(
        f"Your MQLs waiting for a decision: {content['mql_count']} "
        f"({content['new_mql_count']} new in the last {NEW_MQL_HOURS} h)"
    )
    for row in content["mqls"]:
        lead = row["lead"]
        mark = "new, " if row["new"] else ""
        lines.append(
            f"  - {lead.display_name} ({mark}{row['clock'].label}): "
            + _link("lead-detail", lead.pk)
        )
    if content["unassigned_mql_count"]:
        lines.append(f"Unassigned MQLs anyone may claim: {content['unassigned_mql_count']}")
    lines += ["", f"Your day: {_link('my-day')}", f"The queue: {_link('queue')}", ""]
    return "\n".join(lines)


def digest_send(*, user, day: dt.date, now: dt.datetime | None = None) -> bool:
    """One user's morning digest for `day`, at most once: the (user, day) row is claimed
    before the send; a failed send gives the claim back so a retry sends it. A day with no
    task due and no MQL waiting is claimed and not sent."""
    now = now or timezone.now()
    content = my_day(user, now=now)
    try:
        with transaction.atomic():
            claim = DigestSent.objects.create(
                user=user,
                day=day,
                claimed_at=now,
                tasks=content["overdue_count"] + content["today_count"],
                mqls=content["mql_count"],
            )
    except IntegrityError:
        return False  # another beat run (or a retry after a sent digest) has it
    if not claim.tasks and not claim.mqls:
        return False
    try:
        send_mail(
            subject=(
                f"Your day: {content['overdue_count']} overdue, {content['today_count']} due "
                f"today, {content['mql_count']} MQLs waiting"
            ),
            message=_digest_text(user, day, content),
            from_email=None,
            recipient_list=[user.email],
        )
    except Exception:
        claim.delete()
        raise
    DigestSent.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
    return True


def digests_send(*, day: dt.date | None = None) -> int:
    """Beat, each morning: every active rep with an e-mail address gets their digest once.
    A rep whose send failed is left unclaimed and the error raised after the others, so the
    task's retry sends only theirs."""
    day = day or timezone.localdate()
    sent, failed = 0, None
    for rep in active_reps():
        if not rep.email:
            continue
        try:
            sent += digest_send(user=rep, day=day)
        except OSError as exc:
            logger.warning("morning digest for %s not sent: %s", rep.get_username(), exc)
            failed = exc
    if failed is not None:
        raise failed
    return sent
