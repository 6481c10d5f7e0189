"""Send outbox rows again: the ones past their attempts (--all-dead) or chosen ones (--id)."""

from django.core.management.base import BaseCommand, CommandError

from outbox.models import PendingTask
from outbox.selectors import pending_tasks_dead
from outbox.services import ResendFailed, pending_tasks_resend


class Command(BaseCommand):
    help = (
        "Send task messages of the outbox again: every one past HANDOFF_OUTBOX_MAX_ATTEMPTS "
        "(--all-dead), or the rows given (--id, repeatable). Their attempts count from one "
        "again, so the sweep looks after them as after new ones."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--id",
            dest="ids",
            type=int,
            action="append",
            default=[],
            metavar="ID",
            help="a PendingTask id (repeat for several)",
        )
        parser.add_argument("--all-dead", action="store_true", help="every row past its attempts")

    def handle(self, *args, ids, all_dead, **options):
        if not ids and not all_dead:
            raise CommandError("Say which rows: --id ID (repeatable) or --all-dead.")
        chosen = set(ids)
        missing = sorted(
            chosen - set(PendingTask.objects.filter(pk__in=chosen).values_list("pk", flat=True))
        )
        if missing:
            raise CommandError(
                f"No outbox row with id {', '.join(map(str, missing))} (a done task's row is "
                "deleted)."
            )
        if all_dead:
            chosen |= set(pending_tasks_dead().values_list("pk", flat=True))
        try:
            sent = pending_tasks_resend(ids=sorted(chosen))
        except ResendFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Sent {sent} task message(s) again.")
