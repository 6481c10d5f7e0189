"""The MQL queue at scale: the page's p95 with 100,000 waiting MQLs against its p95 with 1,000.

The two sizes are two databases (the large one a copy of the small one with 99,000 more
MQLs), timed in alternating blocks so that other load on the machine falls on both alike.

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


def _use(name: str) -> None:
    """Point the default connection at another database of the same server."""
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def _measure(clients: dict, databases: dict) -> dict:
    """p95 per view and size. The two sizes live in two databases and are timed in
    alternating blocks, so the load of other processes falls on both alike."""
    from django.core.cache import cache

    samples = {(size, view): [] for size in databases for view in VIEWS}
    blocks = 4
    for block in range(blocks):
        for size, name in databases.items():
            _use(name)
            cache.clear()  # each size reads its own list of sources (then kept a minute)
            for view, (who, url) in VIEWS.items():
                client = clients[who]
                response = client.get(url)  # warm, untimed
                assert response.status_code == 200, (url, response.status_code)
                count = REQUESTS // blocks + (block < REQUESTS % blocks)
                for _ in range(count):
                    with Timer() as timer:
                        client.get(url)
                    samples[size, view].append(timer.seconds)
    return {key: _p95(values) for key, values in samples.items()}


def _queries(client) -> int:
    """The page's queries once warm (the list of sources cached, as most requests find it)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/queue/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/queue/")
    return len(queries)


def run() -> dict:
    with bench_database():
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db import connection
        from django.test import Client

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
        clients = {"rep": Client(), "manager": Client()}
        clients["rep"].force_login(rep)
        clients["manager"].force_login(manager)
        _vacuum()

        small_db = connection.settings_dict["NAME"]
        large_db = f"{small_db}_large"
        _use(small_db)
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{large_db}"')
        connection.close()
        with connection._nodb_cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{large_db}" TEMPLATE "{small_db}"')
        try:
            _use(large_db)
            _add_mqls(LARGE - SMALL, SMALL, reps[1:], campaigns)
            _vacuum()
            waiting = Lead.objects.filter(stage="mql").count()
            queries_large = _queries(clients["rep"])
            _use(small_db)
            queries_small = _queries(clients["rep"])
            p95 = _measure(clients, {"small": small_db, "large": large_db})
        finally:
            _use(small_db)
            connection.close()
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{large_db}"')

    small = {view: p95["small", view] for view in VIEWS}
    large = {view: p95["large", view] for view in VIEWS}
    ratios = {name: round(large[name] / small[name], 2) for name in VIEWS}
    return {
        "mqls_small": SMALL,
        "mqls_large": waiting,
        "requests_per_view": REQUESTS,
        "p95_ms_small": {name: round(value * 1000, 1) for name, value in small.items()},
        "p95_ms_large": {name: round(value * 1000, 1) for name, value in large.items()},
        "p95_large_to_small": ratios,
        "ratio": max(ratios.values()),
        "queries_small": queries_small,
        "queries_large": queries_large,
        "meets_target": max(ratios.values()) <= 2 and queries_small == queries_large,
    }
