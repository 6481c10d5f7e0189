"""The MQL queue at scale: the page's p95 with 100,000 waiting MQLs against its p95 with 1,000.

Target (issue 15): at most 2x, for each view a rep or a manager opens: a rep's default
(their own first, then the unassigned), "mine", "unassigned" filtered by SLA state, and a
manager's everyone's. The queue reads one page of leads through index-ordered queries and
every count in one aggregate over an index (leads.lead_stage_owner_since), so a hundred
times the MQLs must not make the page ten times slower.

HANDOFF_BENCH_QUEUE_SMALL (1000), HANDOFF_BENCH_QUEUE_LARGE (100000) and
HANDOFF_BENCH_QUEUE_REQUESTS (40 per view and size) change it.
"""

import os
import random

from benchmarks.harness import Timer, bench_database

SMALL = int(os.environ.get("HANDOFF_BENCH_QUEUE_SMALL", "1000"))
LARGE = int(os.environ.get("HANDOFF_BENCH_QUEUE_LARGE", "100000"))
REQUESTS = int(os.environ.get("HANDOFF_BENCH_QUEUE_REQUESTS", "40"))
OWN = 35  # the rep's own MQLs, as in the 8,000-row import
VIEWS = {
    "rep_default": ("rep", "/queue/"),
    "rep_mine": ("rep", "/queue/?owner=me"),
    "rep_unassigned_breached": ("rep", "/queue/?owner=none&sla=breached"),
    "manager_everyone": ("manager", "/queue/?owner=all"),
}


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _add_mqls(count: int, start: int, reps: list, campaigns: list) -> None:
    """Set-up only: leads written straight in MQL, as an import leaves them."""
    from django.utils import timezone

    from campaigns.models import CampaignMembership
    from leads.models import Lead

    now = timezone.now()
    rng = random.Random(start)
    batch = 5000
    for offset in range(0, count, batch):
        leads = Lead.objects.bulk_create(
            [
                Lead(
                    email=f"q{n}@{'gmail.com' if n % 3 else 'acme.io'}",
                    first_name=f"Lead{n}",
                    company=f"Company {n % 997}",
                    title="Head of IT" if n % 2 else "Engineer",
                    country="France" if n % 4 else "Spain",
                    company_size=n % 500,
                    source=("webinar", "ads", "referral", "import")[n % 4],
                    stage="mql",
                    stage_changed_at=now - timezone.timedelta(minutes=rng.randint(1, 60 * 24 * 30)),
                    owner=reps[n % len(reps)] if n % 10 == 0 else None,
                )
                for n in range(start + offset, start + min(offset + batch, count))
            ]
        )
        CampaignMembership.objects.bulk_create(
            [
                CampaignMembership(lead=lead, campaign=campaigns[lead.pk % len(campaigns)])
                for lead in leads
            ]
        )


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE leads_lead")
        cursor.execute("VACUUM ANALYZE campaigns_campaignmembership")


def _measure(clients: dict) -> dict:
    from django.core.cache import cache

    cache.clear()  # the list of sources is read again for each size (then kept a minute)
    figures = {}
    for name, (who, url) in VIEWS.items():
        client = clients[who]
        response = client.get(url)  # warm
        assert response.status_code == 200, (url, response.status_code)
        samples = []
        for _ in range(REQUESTS):
            with Timer() as timer:
                client.get(url)
            samples.append(timer.seconds)
        figures[name] = _p95(samples)
    return figures


def run() -> dict:
    with bench_database():
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from campaigns.models import Campaign
        from funnel.models import AcceptanceCriterion
        from leads.models import Lead

        users = get_user_model().objects
        reps = []
        for name in ("rep", "rep2", "rep3", "rep4"):
            user = users.create_user(f"bench-{name}", password="bench-password-1")
            user.groups.add(Group.objects.get_or_create(name="sales_rep")[0])
            reps.append(user)
        manager = users.create_user("bench-manager", password="bench-password-1")
        manager.groups.add(Group.objects.get_or_create(name="manager")[0])
        AcceptanceCriterion.objects.create(
            name="Territory", kind="in_list", field="country", values=["France", "Germany"]
        )
        campaigns = [
            Campaign.objects.create(name=f"Campaign {n}", slug=f"campaign-{n}") for n in range(8)
        ]
        rep = reps[0]
        _add_mqls(SMALL - OWN, 0, reps[1:], campaigns)
        _add_mqls(OWN, 10**7, [rep], campaigns)
        Lead.objects.filter(email__startswith="q1000").update(owner=rep)  # mixed ages
        clients = {"rep": Client(), "manager": Client()}
        clients["rep"].force_login(rep)
        clients["manager"].force_login(manager)

        _vacuum()
        small = _measure(clients)
        with CaptureQueriesContext(connection) as small_queries:
            clients["rep"].get("/queue/")

        _add_mqls(LARGE - SMALL, SMALL, reps[1:], campaigns)
        _vacuum()
        large = _measure(clients)
        with CaptureQueriesContext(connection) as large_queries:
            clients["rep"].get("/queue/")
        waiting = Lead.objects.filter(stage="mql").count()

    ratios = {name: round(large[name] / small[name], 2) for name in VIEWS}
    return {
        "mqls_small": SMALL,
        "mqls_large": waiting,
        "requests_per_view": REQUESTS,
        "p95_ms_small": {name: round(value * 1000, 1) for name, value in small.items()},
        "p95_ms_large": {name: round(value * 1000, 1) for name, value in large.items()},
        "p95_large_to_small": ratios,
        "ratio": max(ratios.values()),
        "queries_small": len(small_queries),
        "queries_large": len(large_queries),
        "meets_target": max(ratios.values()) <= 2 and len(small_queries) == len(large_queries),
    }
