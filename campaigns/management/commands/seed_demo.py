"""Demo users, campaigns and a few hundred leads with believable history. Idempotent."""

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from funnel.models import Activity, ReasonCode, Task, Transition
from funnel.services import lead_create, transition_lead
from leads.models import Lead
from leads.roles import ADMIN, MANAGER, MARKETER, SALES_REP

from ...models import Campaign, CampaignMembership, ScoringRule, Segment
from ...scoring import scores_recompute
from ...services import membership_touch

PASSWORD = "handoff-demo"  # noqa: S105 (the documented demo password)
USERS = [
    ("marketer", "Maya", "Marketer", MARKETER),
    ("rep", "Ravi", "Rep", SALES_REP),
    ("rep2", "Rosa", "Rep", SALES_REP),
    ("manager", "Mona", "Manager", MANAGER),
    ("admin", "Ada", "Admin", ADMIN),
]
CAMPAIGNS = [
    ("Spring webinar: pipeline hygiene", "spring-webinar", "webinar"),
    ("Google Ads — CRM migration", "google-ads-crm", "paid_search"),
    ("Berlin trade show", "berlin-trade-show", "event"),
    ("Buyer's guide brochure", "buyers-guide", "brochure"),
]
FIRST = [
    "Anna",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Marco",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rui",
    "Sofia",
    "Tariq",
]
LAST = [
    "Adler",
    "Bauer",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hansen",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Silva",
]
COMPANIES = [
    ("Acme Logistics", "logistics", 420),
    ("Brightwave", "software", 85),
    ("Cobalt Health", "healthcare", 1200),
    ("Dunmore Foods", "retail", 300),
    ("Eastgate Bank", "finance", 5000),
    ("Fjord Energy", "energy", 760),
    ("Globex", "manufacturing", 2300),
    ("Helix Labs", "biotech", 140),
    ("Ironclad Security", "software", 60),
    ("Juniper Travel", "travel", 35),
]
COUNTRIES = [
    ("Germany", "Berlin"),
    ("France", "Paris"),
    ("Netherlands", "Amsterdam"),
    ("Spain", "Madrid"),
    ("United Kingdom", "London"),
    ("Portugal", "Lisbon"),
]
TITLES = [
    "Head of Sales",
    "Marketing Manager",
    "VP Operations",
    "Director of IT",
    "CFO",
    "Sales Operations Analyst",
    "Founder",
    "Student",
]
SOURCES = ["google", "linkedin", "webinar", "event", "referral", "website"]


# What the demo campaigns' links carried, for the leads' first and last touch.
DEMO_TRACKING = {
    "google-ads-crm": {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "crm-migration",
    },
    "spring-webinar": {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"},
    "buyers-guide": {
        "utm_source": "linkedin",
        "utm_medium": "paid_social",
        "utm_campaign": "guide",
    },
}


class Command(BaseCommand):
    help = "Load demo users (password handoff-demo), campaigns and leads. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=320)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, leads: int, seed: int, **options):
        users = self._users()
        campaigns = self._campaigns(users["marketer"])
        self._marketing(users["marketer"])
        call_command("seed_nurture", stdout=self.stdout)  # before the leads: they enroll
        if Lead.objects.filter(external_id__startswith="demo-").exists():
            self.stdout.write("Demo leads are there already; nothing added.")
            return
        rng = random.Random(seed)
        now = timezone.now()
        for number in range(leads):
            with transaction.atomic():
                self._lead(number, rng, now, users, campaigns)
        self._workday(rng, now)
        scores_recompute()
        self.stdout.write(
            self.style.SUCCESS(f"Loaded {leads} demo leads in {len(campaigns)} campaigns.")
        )

    def _users(self):
        User = get_user_model()
        users = {}
        for username, first, last, role in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@handoff.test",
                },
            )
            if created:
                user.set_password(PASSWORD)
                user.is_staff = role in (ADMIN, MANAGER)
                user.is_superuser = role == ADMIN
                user.save()
            user.groups.add(Group.objects.get_or_create(name=role)[0])
            users[username] = user
        return users

    def _campaigns(self, marketer):
        return [
            Campaign.objects.get_or_create(
                slug=slug, defaults={"name": name, "channel": channel, "created_by": marketer}
            )[0]
            for name, slug, channel in CAMPAIGNS
        ]

    def _marketing(self, marketer):
        """A segment, a fit rule on it, and the Google Ads campaign's published landing page."""
        segment, _ = Segment.objects.get_or_create(
            slug="mid-market-software",
            defaults={
                "name": "Mid-market software",
                "conditions": [
                    {"field": "industry", "operator": "equals", "value": "software"},
                    {"field": "company_size", "operator": "at_least", "value": 50},
                ],
                "created_by": marketer,
            },
        )
        ScoringRule.objects.get_or_create(
            name="Mid-market software fit", defaults={"segment": segment, "points": 20}
        )
        Campaign.objects.filter(slug="google-ads-crm", capture_published=False).update(
            segment=segment,
            positioning="For mid-market software teams moving off spreadsheets: "
            "one place where marketing and sales agree on every lead.",
            utm_source="google",
            utm_medium="cpc",
            utm_campaign="crm-migration",
            owner=marketer,
            capture_published=True,
            capture_headline="Move your CRM in a week",
            capture_fields=["first_name", "last_name", "company", "company_size"],
            consent_text="I agree to be contacted about Handoff.",
        )

    def _lead(self, number, rng, now, users, campaigns):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company, industry, size = rng.choice(COMPANIES)
        country, city = rng.choice(COUNTRIES)
        domain = company.lower().replace(" ", "") + ".example"
        at = now - dt.timedelta(days=rng.uniform(2, 150))
        campaign = rng.choice(campaigns)
        fields = {
            "email": f"{slugify(first)}.{slugify(last)}.{number}@{domain}",
            "external_id": f"demo-{number:04d}",
            "first_name": first,
            "last_name": last,
            "company": company,
            "title": rng.choice(TITLES),
            "country": country,
            "city": city,
            "industry": industry,
            "company_size": size,
            "website": f"https://www.{domain}",
            "source": rng.choice(SOURCES),
            "phone": f"+49 30 {rng.randint(1000000, 9999999)}",
        }
        lead = lead_create(
            system_actor="demo data", fields=fields, campaign=campaign, at=at, note="Demo lead"
        )
        membership_touch(
            lead=lead,
            campaign=campaign,
            how=CampaignMembership.How.DEMO,
            at=at,
            # The tracking values its links carried (the trade show's leads came by hand).
            attribution={
                **DEMO_TRACKING.get(campaign.slug, {}),
                **(
                    {"gclid": f"demo-gclid-{number:04d}"}
                    if campaign.slug == "google-ads-crm"
                    else {}
                ),
            },
        )
        if rng.random() < 0.25:
            Lead.objects.filter(pk=lead.pk).update(owner=users[rng.choice(["rep", "rep2"])])
        self._journey(lead, rng, now, at, users, campaign)

    def _journey(self, lead, rng, now, at, users, campaign):
        marketer = users["marketer"]
        reasons = {r.code: r for r in ReasonCode.objects.all()}

        def step(to, actor, hours=(2, 240), **kwargs):
            nonlocal at
            nxt = at + dt.timedelta(hours=rng.uniform(*hours))
            if nxt >= now:
                return False
            at = nxt
            lead.refresh_from_db()
            transition_lead(lead_id=lead.pk, to=to, actor=actor, at=at, **kwargs)
            lead.refresh_from_db()
            return True

        def rep():
            lead.refresh_from_db()
            return lead.owner or users[rng.choice(["rep", "rep2"])]

        roll = rng.random()
        if roll < 0.08:
            step("junk", marketer, reason=reasons["bounced"])
            return
        if roll < 0.35:
            return  # stays a suspect
        if not step(
            "mql",
            None if rng.random() < 0.5 else marketer,
            system_actor="score over 50",
            campaign=campaign,
        ):
            return
        for _lap in range(2):
            roll = rng.random()
            if roll < 0.25:
                return  # waits in the queue
            if roll < 0.40:
                step(
                    "nurture",
                    rep(),
                    reason=reasons[rng.choice(["not_in_segment", "no_budget", "not_ready_yet"])],
                )
            elif roll < 0.45:
                step("junk", rep(), reason=reasons["spam"])
                return
            else:
                if not step("sal", rep(), note="Looks like a fit."):
                    return
                if rng.random() < 0.3:
                    step("nurture", rep(), reason=reasons["no_authority"])
                elif rng.random() < 0.2:
                    return
                else:
                    answers = {
                        "budget": "Approved for this year",
                        "authority": "Signs off",
                        "need": "Replacing spreadsheets",
                        "timeline": "This quarter",
                    }
                    if not step("sql", rep(), fields=answers) or rng.random() < 0.2:
                        return
                    close = (at + dt.timedelta(days=45)).date()
                    if not step(
                        "opportunity",
                        rep(),
                        fields={"amount": rng.randrange(5, 120) * 1000, "expected_close": close},
                    ):
                        return
                    roll = rng.random()
                    if roll < 0.45:
                        step("customer", rep(), hours=(48, 900))
                        return
                    if roll < 0.8:
                        step(
                            "nurture", rep(), hours=(48, 900), reason=reasons["lost_to_competitor"]
                        )
                    else:
                        return
            lead.refresh_from_db()
            if lead.stage != "nurture" or rng.random() < 0.6:
                return
            if not step(
                "mql", None, hours=(200, 1500), system_actor="re-engaged: clicked nurture e-mail"
            ):
                return

    def _workday(self, rng, now):
        """Calls, meetings and follow-up tasks on the reps' accepted leads: speed to first
        touch on the dashboard, and a My day with something overdue and due today."""
        accepts = Transition.objects.filter(verb="accept", lead__owner__isnull=False)
        for accept in accepts.select_related("lead").order_by("id"):
            lead = accept.lead
            if rng.random() < 0.8:
                at = min(accept.at + dt.timedelta(hours=rng.uniform(0.2, 72)), now)
                kind = rng.choice(["call", "call", "email", "meeting"])
                Activity.objects.create(
                    lead=lead,
                    kind=kind,
                    outcome={"call": "Connected", "email": "Sent", "meeting": "Held"}[kind],
                    at=at,
                    duration_minutes=rng.randint(5, 45) if kind != "email" else None,
                    note="Walked through their lead handoff today.",
                    actor=accept.actor or lead.owner,
                    created_at=at,
                )
            if lead.stage in ("sal", "sql", "opportunity") and rng.random() < 0.5:
                Task.objects.create(
                    lead=lead,
                    title=rng.choice(["Call back", "Send the proposal", "Book a demo"]),
                    due_at=now + dt.timedelta(hours=rng.uniform(-72, 96)),
                    owner=lead.owner,
                    created_by=lead.owner,
                    created_at=now - dt.timedelta(days=1),
                )
