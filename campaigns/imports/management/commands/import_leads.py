"""`python manage.py import_leads FILE --campaign SLUG [--mapping JSON] [--stage STAGE] ...`

The same code path as the upload pages and the API: the file is stored and inspected, the
job recorded, then run here in-process (or queued for a worker with --queue)."""

import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from campaigns.imports.models import ImportJob
from campaigns.imports.services import ImportRefused, import_job_create, import_job_run
from campaigns.models import Campaign
from leads.stages import Stage


def _json_object(value: str, name: str) -> dict:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--{name} is not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise CommandError(f"--{name} must be a JSON object.")
    return parsed


class Command(BaseCommand):
    help = "Import leads from a CSV file (the same path as the upload pages and the API)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--campaign", help="the campaign's slug")
        parser.add_argument("--mapping", help='JSON {"field": "column header"}')
        parser.add_argument("--stage", default=Stage.SUSPECT, choices=Stage.values)
        parser.add_argument("--stage-values", help='JSON {"value in the file": "stage"}')
        dates = parser.add_mutually_exclusive_group()
        dates.add_argument("--dayfirst", action="store_true", default=None)
        dates.add_argument("--monthfirst", dest="dayfirst", action="store_false")
        parser.add_argument(
            "--on-duplicate", default="update", choices=ImportJob.OnDuplicate.values
        )
        parser.add_argument("--user", help="the username the import is recorded for")
        parser.add_argument(
            "--deal-owners", help='JSON {"owner name in the file": "username" or ""}'
        )
        parser.add_argument(
            "--assign-open-mqls",
            action="store_true",
            help="hand the file's open MQLs round robin when done",
        )
        parser.add_argument(
            "--enrol-nurture",
            action="store_true",
            help="enrol the file's leads that ended in nurture in their programme",
        )
        parser.add_argument(
            "--queue", action="store_true", help="queue it for a worker instead of running here"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        campaign = None
        if options["campaign"]:
            campaign = Campaign.objects.filter(slug=options["campaign"]).first()
            if campaign is None:
                raise CommandError(f"No campaign with the slug {options['campaign']!r}.")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
        mapping = _json_object(options["mapping"], "mapping") if options["mapping"] else None
        stage_values = (
            _json_object(options["stage_values"], "stage-values")
            if options["stage_values"]
            else None
        )
        started = time.perf_counter()
        try:
            with path.open("rb") as upload:
                job = import_job_create(
                    user=user,
                    upload=upload,
                    file_name=path.name,
                    campaign=campaign,
                    default_stage=options["stage"],
                    mapping=mapping,
                    stage_values=stage_values,
                    dayfirst=options["dayfirst"],
                    on_duplicate=options["on_duplicate"],
                    assign_open_mqls=options["assign_open_mqls"],
                    enrol_nurture=options["enrol_nurture"],
                    owner_choices=(
                        _json_object(options["deal_owners"], "deal-owners")
                        if options["deal_owners"]
                        else None
                    ),
                    start=options["queue"],
                )
        except ImportRefused as exc:
            raise CommandError(exc.message) from None
        if options["queue"]:
            self.stdout.write(f"import {job.pk} queued: {job.total} rows")
            return
        uploaded = time.perf_counter() - started
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        job = import_job_run(job_id=job.pk) or ImportJob.objects.get(pk=job.pk)
        self.stdout.write(
            f"import {job.pk} {job.status}: {job.total} rows, {job.created} created, "
            f"{job.updated} updated, {job.skipped} skipped ({job.merged} merged duplicates), "
            f"{job.failed} failed"
        )
        if options["verbosity"] > 1 and getattr(job, "seconds", None):
            seconds = {"upload": uploaded, **job.seconds}  # upload: stored and inspected
            phases = ", ".join(f"{phase} {value:.2f}s" for phase, value in seconds.items())
            self.stdout.write(f"phases: {phases}")
        for error in job.row_errors.all()[:20]:
            column = f" [{error.column}]" if error.column else ""
            self.stdout.write(f"  line {error.line}{column}: {error.message}")
