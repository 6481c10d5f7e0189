"""The MQL queue page and bulk decisions, as ratios to baselines measured in the same run.

- queue_vs_lead_list: rendering /queue/ (one page of MQLs with criteria, SLA clock and
  campaign) against rendering /leads/?stage=mql (the same number of rows, no criteria).
  Target: at most 3x, with the queue's query count independent of the number of MQLs.
- bulk_vs_single: one bulk accept of BULK leads against the same number of single accepts
  through the transition service. Target: at most 1.5x (bulk adds nothing per lead).

HANDOFF_BENCH_QUEUE_LEADS (default 5000) and HANDOFF_BENCH_BULK (default 200) shrink it.
"""

import os
import statistics

from benchmarks.harness import Timer, bench_database

LEADS = int(os.environ.get("HANDOFF_BENCH_QUEUE_LEADS", "5000"))
BULK = int(os.environ.get("HANDOFF_BENCH_BULK", "200"))
ROUNDS = 7


def _median_time(fn, rounds=ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        with Timer() as timer:
            fn()
        times.append(timer.seconds)
    return statistics.median(times)


def _make_mqls(count: int, prefix: str, owner=None) -> list[int]:
    from django.utils import timezone

    from leads.models import Lead

    now = timezone.now()
    # Set-up only: the leads are written straight in MQL, as an import would leave them.
    leads = Lead.objects.bulk_create(
        [
            Lead(
                email=f"{prefix}{n}@{'gmail.com' if n % 3 else 'acme.io'}",
                first_name=f"Lead{n}",
                title="Head of IT" if n % 2 else "Engineer",
                country="France" if n % 4 else "Spain",
                company_size=n % 500,
                stage="mql",
                stage_changed_at=now - timezone.timedelta(minutes=n),
                owner=owner,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    return [lead.pk for lead in leads]


def run() -> dict:
    with bench_database():
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from funnel.models import AcceptanceCriterion
        from funnel.queue import leads_decide
        from funnel.services import transition_lead

        rep = get_user_model().objects.create_user("bench-rep", password="bench-password-1")
        rep.groups.add(Group.objects.get_or_create(name="sales_rep")[0])
        AcceptanceCriterion.objects.create(
            name="Territory", kind="in_list", field="country", values=["France", "Germany"]
        )
        AcceptanceCriterion.objects.create(
            name="Senior", kind="contains_any", field="title", values=["head", "director"]
        )
        AcceptanceCriterion.objects.create(
            name="Size", kind="at_least", field="company_size", number=50
        )
        _make_mqls(LEADS, "q", owner=None)

        client = Client()
        client.force_login(rep)
        client.get("/queue/")  # warm templates and connections
        queue = _median_time(lambda: client.get("/queue/"))
        listing = _median_time(lambda: client.get("/leads/?stage=mql"))
        with CaptureQueriesContext(connection) as queries:
            client.get("/queue/")
        queue_queries = len(queries)

        bulk_ids = _make_mqls(BULK, "b", owner=rep)
        single_ids = _make_mqls(BULK, "s", owner=rep)
        with Timer() as bulk:
            outcome = leads_decide(lead_ids=bulk_ids, to="sal", actor=rep, expected_from="mql")
        with Timer() as single:
            for lead_id in single_ids:
                transition_lead(lead_id=lead_id, to="sal", actor=rep, expected_from="mql")

    queue_ratio = round(queue / listing, 2)
    bulk_ratio = round(bulk.seconds / single.seconds, 2)
    return {
        "mqls": LEADS,
        "bulk_leads": BULK,
        "queue_vs_lead_list": queue_ratio,
        "queue_queries": queue_queries,
        "bulk_vs_single": bulk_ratio,
        "bulk_done": len(outcome.done),
        "meets_target": queue_ratio <= 3 and bulk_ratio <= 1.5 and len(outcome.done) == BULK,
    }
