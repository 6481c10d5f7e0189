"""Reads for nurturing: programme and step figures, a lead's nurture timeline, audiences."""

import csv
import hashlib
import io
from collections import defaultdict

from django.db.models import Count, Exists, OuterRef, Q

from leads.normalise import normalise_email

from .models import (
    Audience,
    AudienceMember,
    ConsentRecord,
    Enrollment,
    Message,
    Programme,
    Step,
    TrackingEvent,
)

FIGURES = ("enrolled", "sent", "opened", "clicked", "recycled", "unsubscribed")


def _event_exists(kind: str):
    return Exists(TrackingEvent.objects.filter(message=OuterRef("pk"), kind=kind))


def _message_figures(messages, group_by: str) -> dict:
    rows = (
        messages.filter(status=Message.Status.SENT)
        .annotate(was_opened=_event_exists("open"), was_clicked=_event_exists("click"))
        .values(group_by)
        .annotate(
            sent=Count("pk"),
            opened=Count("pk", filter=Q(was_opened=True)),
            clicked=Count("pk", filter=Q(was_clicked=True)),
        )
    )
    return {row[group_by]: row for row in rows}


def programme_stats(programmes) -> dict[int, dict]:
    """Per programme: enrolled, sent, opened, clicked, recycled, unsubscribed."""
    ids = [programme.pk for programme in programmes]
    figures: dict[int, dict] = {pk: dict.fromkeys(FIGURES, 0) for pk in ids}
    enrollments = (
        Enrollment.objects.filter(programme_id__in=ids)
        .values("programme_id")
        .annotate(
            enrolled=Count("pk"),
            recycled=Count("pk", filter=Q(status=Enrollment.Status.RECYCLED)),
            unsubscribed=Count("pk", filter=Q(status=Enrollment.Status.UNSUBSCRIBED)),
        )
    )
    for row in enrollments:
        figures[row["programme_id"]].update(
            {key: row[key] for key in ("enrolled", "recycled", "unsubscribed")}
        )
    messages = Message.objects.filter(step__programme_id__in=ids)
    for pk, row in _message_figures(messages, "step__programme_id").items():
        figures[pk].update({key: row[key] for key in ("sent", "opened", "clicked")})
    return figures


def step_stats(programme: Programme) -> list[tuple[Step, dict]]:
    """Per step: enrolled (reached it), sent, opened, clicked, recycled (after engaging
    with this step's e-mail), unsubscribed (from this step's e-mail)."""
    steps = list(programme.steps.select_related("asset", "audience").order_by("position"))
    figures = {step.pk: dict.fromkeys(FIGURES, 0) for step in steps}
    messages = Message.objects.filter(step__programme=programme)
    for pk, row in _message_figures(messages, "step_id").items():
        figures[pk].update({key: row[key] for key in ("sent", "opened", "clicked")})
    unsubscribed = (
        ConsentRecord.objects.filter(message__step__programme=programme)
        .values("message__step_id")
        .annotate(n=Count("lead_id", distinct=True))
    )
    for row in unsubscribed:
        figures[row["message__step_id"]]["unsubscribed"] = row["n"]
    recycled = (
        TrackingEvent.objects.filter(
            message__step__programme=programme,
            message__enrollment__status=Enrollment.Status.RECYCLED,
        )
        .values("message__step_id")
        .annotate(n=Count("message__enrollment_id", distinct=True))
    )
    for row in recycled:
        figures[row["message__step_id"]]["recycled"] = row["n"]
    positions = list(
        Enrollment.objects.filter(programme=programme).values_list("next_position", flat=True)
    )
    for step in steps:
        figures[step.pk]["enrolled"] = sum(1 for position in positions if position > step.position)
    return [(step, figures[step.pk]) for step in steps]


def lead_timeline(lead) -> list[dict]:
    """The lead's nurture history, oldest first: enrollments, messages, opens, clicks, consent."""
    entries = []
    for enrollment in Enrollment.objects.filter(lead=lead).select_related("programme"):
        name = enrollment.programme.name
        entries.append(
            {
                "at": enrollment.enrolled_at,
                "what": "enrolled",
                "text": f"Enrolled in {name} ({enrollment.get_status_display()})",
            }
        )
        if enrollment.ended_at:
            entries.append(
                {
                    "at": enrollment.ended_at,
                    "what": "ended",
                    "text": f"Left {enrollment.programme.name}: {enrollment.get_status_display()}",
                }
            )
    for message in Message.objects.filter(lead=lead):
        verb = "Sent" if message.status == Message.Status.SENT else "Suppressed"
        entries.append(
            {"at": message.sent_at, "what": "message", "text": f"{verb}: {message.subject}"}
        )
    for event in TrackingEvent.objects.filter(lead=lead).select_related("message"):
        text = f"{event.get_kind_display()}: {event.message.subject}"
        if event.url:
            text += f" ({event.url})"
        entries.append({"at": event.at, "what": event.kind, "text": text})
    for record in ConsentRecord.objects.filter(lead=lead).select_related("actor"):
        entries.append(
            {
                "at": record.at,
                "what": "consent",
                "text": f"{record.get_action_display()} ({record.get_how_display()})"
                + (f" by {record.actor.get_username()}" if record.actor_id else "")
                + (f": {record.reason}" if record.reason else ""),
            }
        )
    return sorted(entries, key=lambda entry: entry["at"])


# --- audiences ----------------------------------------------------------------------------


def email_hash(email: str | None) -> str | None:
    """SHA-256 of the normalised (trimmed, lower-cased) e-mail, as ad platforms take it."""
    normalised = normalise_email(email)
    return hashlib.sha256(normalised.encode()).hexdigest() if normalised else None


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def audience_counts(audiences) -> dict[int, dict]:
    """Per audience: members, exportable (an e-mail and consent), left out."""
    ids = [audience.pk for audience in audiences]
    counts = {pk: {"members": 0, "exported": 0, "left_out": 0} for pk in ids}
    for audience_id, email, do_not_email in AudienceMember.objects.filter(
        audience_id__in=ids
    ).values_list("audience_id", "lead__email", "lead__do_not_email"):
        counts[audience_id]["members"] += 1
        if email and not do_not_email:
            counts[audience_id]["exported"] += 1
        else:
            counts[audience_id]["left_out"] += 1
    return counts


def audience_export(audience: Audience) -> tuple[str, dict]:
    """The CSV (header `email_sha256`) and its counts. Leads without an e-mail or who
    unsubscribed are left out."""
    hashes = set()
    counts: dict = defaultdict(int)
    members = AudienceMember.objects.filter(audience=audience).values_list(
        "lead__email", "lead__do_not_email"
    )
    for email, do_not_email in members.iterator(chunk_size=2000):
        counts["members"] += 1
        digest = email_hash(email)
        if digest is None or do_not_email:
            counts["left_out"] += 1
            continue
        hashes.add(digest)
    counts["exported"] = len(hashes)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell("email_sha256")])
    for digest in sorted(hashes):
        writer.writerow([csv_cell(digest)])
    return out.getvalue(), dict(counts)
