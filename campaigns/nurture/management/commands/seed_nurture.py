"""Demo content, one nurture programme per exit, and enrollments for leads already in
nurture. Idempotent: run it again and it adds nothing."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F

from funnel.models import Transition
from leads.models import Lead
from leads.stages import Stage

from ...models import ContentAsset, Exit, Programme, Step
from ...services import enrollment_start, step_add

ASSETS = [
    ("What a lead lifecycle is, in five minutes", "blog_post", "awareness"),
    ("The buyer's guide to CRM migration", "brochure", "interest"),
    ("Pipeline hygiene: the webinar recording", "webinar", "interest"),
    ("FAQ: moving from spreadsheets", "faq", "interest"),
    ("How Fjord Energy halved its lead response time", "case_study", "desire"),
    ("Sales and marketing SLAs that hold", "article", "desire"),
    ("Book a 20-minute walkthrough", "video", "action"),
    ("The funnel at a glance", "infographic", "awareness"),
]

PROGRAMMES = [
    (Exit.MQL, "Rejected MQLs: stay helpful", "Rejected MQLs"),
    (Exit.SAL, "Disqualified SALs: come back when ready", "Disqualified SALs"),
    (Exit.SQL, "Disqualified SQLs: proof and peers", "Disqualified SQLs"),
    (Exit.OPPORTUNITY, "Lost opportunities: win-back", "Lost opportunities"),
]

FIRST_BODY = """Hi {{ lead.first_name|default:"there" }},

Thanks for your time with us. No pressure: here is something teams like
{{ lead.company|default:"yours" }} found useful.

{{ asset.summary }}"""

LATER_BODY = """Hi {{ lead.first_name|default:"there" }},

A quick follow-up with one more thing worth a look when you have a minute."""


class Command(BaseCommand):
    help = "Load demo content and one nurture programme per exit; enroll leads in nurture."

    def handle(self, *args, **options):
        with transaction.atomic():
            assets = self._assets()
            made = self._programmes(assets)
        enrolled = self._enroll_waiting_leads()
        self.stdout.write(
            self.style.SUCCESS(f"Nurture: {made} programmes added; {enrolled} leads enrolled.")
        )

    def _assets(self):
        assets = {}
        for title, kind, aida in ASSETS:
            slug = title.lower().split(":")[0].replace(" ", "-")[:40]
            assets[title] = ContentAsset.objects.get_or_create(
                title=title,
                defaults={
                    "kind": kind,
                    "aida_stage": aida,
                    "url": f"https://handoff.example/content/{slug}",
                    "summary": f"{title}: a short read for teams who want a cleaner handoff.",
                },
            )[0]
        return assets

    def _programmes(self, assets) -> int:
        made = 0
        for priority, (exit_stage, name, audience) in enumerate(PROGRAMMES, start=10):
            programme, created = Programme.objects.get_or_create(
                name=name, defaults={"exits": [exit_stage.value], "priority": priority}
            )
            if not created or programme.steps.exists():
                continue
            made += 1
            step_add(
                programme=programme,
                kind=Step.Kind.EMAIL,
                subject="{{ lead.first_name|default:'Hello' }}, {{ asset.title }}",
                body=FIRST_BODY,
            )
            step_add(programme=programme, kind=Step.Kind.AUDIENCE, audience_name=audience)
            step_add(programme=programme, kind=Step.Kind.WAIT, wait_days=14)
            step_add(
                programme=programme,
                kind=Step.Kind.EMAIL,
                subject="One more idea for {{ lead.company|default:'your team' }}",
                body=LATER_BODY,
                asset=assets["Book a 20-minute walkthrough"],
            )
        return made

    def _enroll_waiting_leads(self) -> int:
        """Leads in nurture with no enrollment for their current lap (e.g. from before
        the programmes existed)."""
        enrolled = 0
        waiting = Lead.objects.filter(stage=Stage.NURTURE).exclude(
            enrollments__enrolled_at__gte=F("stage_changed_at")
        )
        for lead in waiting.iterator():
            entry = (
                Transition.objects.filter(lead=lead, to_stage=Stage.NURTURE)
                .select_related("reason")
                .order_by("-at", "-id")
                .first()
            )
            if entry is None:
                continue
            reason = entry.reason.code if entry.reason else ""
            if enrollment_start(lead_id=lead.pk, from_stage=entry.from_stage, reason=reason):
                enrolled += 1
        return enrolled
