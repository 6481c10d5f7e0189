import time

from django.core.management.base import BaseCommand

from reporting.services import rollups_rebuild


class Command(BaseCommand):
    help = "Recount the dashboards' rollups from the transition log (safe while the app runs)."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=5000, help="Leads per batch.")

    def handle(self, *args, chunk_size, verbosity, **options):
        started = time.monotonic()

        def progress(done: int) -> None:
            if verbosity > 1:
                self.stdout.write(f"{done} leads")

        result = rollups_rebuild(chunk_size=max(1, chunk_size), progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt the rollups of {result['leads']} leads "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
