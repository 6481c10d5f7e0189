"""Reads for lead imports: access, lists, the preview of a mapping."""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404

from leads.models import Lead
from leads.roles import MANAGER, MARKETER, has_role

from .engine import cleaner_for
from .models import ImportJob

IMPORT_ROLES = (MARKETER, MANAGER)
PREVIEW_ROWS = 20


def can_import(user) -> bool:
    return has_role(user, *IMPORT_ROLES)


def require_importer(user) -> None:
    if not can_import(user):
        raise PermissionDenied("Imports are for marketers and managers.")


def import_for_user(user, pk) -> ImportJob:
    require_importer(user)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such import.") from None
    job = ImportJob.objects.select_related("created_by", "campaign").filter(pk=pk).first()
    if job is None:
        raise Http404("No such import.")
    return job


def imports_list():
    return ImportJob.objects.select_related("created_by", "campaign").order_by("-created_at")


@dataclass
class PreviewCell:
    column: str
    target: str
    value: str
    error: str = ""


@dataclass
class PreviewRow:
    line: int
    cells: list[PreviewCell]
    error: str = ""  # a problem with the row as a whole


@dataclass
class Preview:
    rows: list[PreviewRow] = field(default_factory=list)
    sample_size: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0


def import_preview(job: ImportJob) -> Preview:
    """The first rows as they will be imported, each problem on its cell, and what the
    sample (the first rows of the file, up to 1,000) would do."""
    cleaner = cleaner_for(job)
    preview = Preview(sample_size=len(job.sample))
    mapped = [(i, c, t) for i, c, t, _ in cleaner.plan]
    idents: dict[str, dict] = {}
    for number, (line, cells) in enumerate(job.sample):
        row = cleaner.clean(line, cells)
        if row.errors:
            preview.failed += 1
        elif row.ident in idents:
            preview.skipped += 1
        else:
            idents[row.ident] = row.values
        if number >= PREVIEW_ROWS:
            continue
        errors = dict(row.errors)
        shown = PreviewRow(line=line, cells=[], error=errors.get("", ""))
        for index, column, target in mapped:
            value = cells[index] if index < len(cells) else ""
            shown.cells.append(PreviewCell(column, target, value, errors.get(column, "")))
        preview.rows.append(shown)
    emails = [v["email"] for v in idents.values() if v.get("email")]
    externals = [v["external_id"] for v in idents.values() if v.get("external_id")]
    existing_emails = set(Lead.objects.filter(email__in=emails).values_list("email", flat=True))
    existing_ext = set(
        Lead.objects.filter(external_id__in=externals).values_list("external_id", flat=True)
    )
    for values in idents.values():
        exists = values.get("email") in existing_emails or (
            values.get("external_id") in existing_ext
        )
        if not exists:
            preview.created += 1
        elif job.on_duplicate == ImportJob.OnDuplicate.UPDATE:
            preview.updated += 1
        else:
            preview.skipped += 1
    return preview


def limits() -> dict:
    return {
        "max_mb": round(settings.HANDOFF_IMPORT_MAX_BYTES / 1024 / 1024),
        "max_rows": settings.HANDOFF_IMPORT_MAX_ROWS,
    }
