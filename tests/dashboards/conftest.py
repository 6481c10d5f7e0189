import datetime as dt
from functools import partial

import pytest
from django.db import transaction

from campaigns.services import campaign_create, membership_touch
from funnel.models import Transition
from funnel.services import lead_create, stage_changed_arguments
from funnel.signals import stage_changed
from leads.models import Lead
from tests.conftest import move

T0 = dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.UTC)  # a Monday


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def import_into(lead, stage: str, at: dt.datetime):
    """What an import does for a row in a late stage: one log row, forward, and the event."""
    with transaction.atomic():
        from_stage = Lead.objects.get(pk=lead.pk).stage
        Lead.objects.filter(pk=lead.pk).update(stage=stage, stage_changed_at=at)
        row = Transition.objects.create(
            lead=lead, from_stage=from_stage, to_stage=stage, verb="import", system_actor="import",
            at=at,
        )  # fmt: skip
        transaction.on_commit(
            partial(stage_changed.send, sender=Transition, **stage_changed_arguments(row))
        )
    lead.refresh_from_db()
    return row


@pytest.fixture
def small_funnel(db, manager, rep, marketer, django_capture_on_commit_callbacks):
    """The hand-computed funnel of test_funnel.py (times from T0, 2025-01-06 10:00 UTC):

    A  suspect d0 -> mql d2 -> sal d3 -> sql d5 -> opportunity d6 -> customer d10  (rep owns)
    B  suspect d1, imported straight to sql d4 (skips mql and sal)
    C  created as mql d0 -> rejected to nurture d1 -> recycled to mql d20 -> sal d21
    D  suspect d2 -> junk d3
    E  suspect d-10 (before the range) -> mql d1
    F  suspect d40 (after the range)
    Campaigns: spring = A, B; "=evil" = C.
    """
    from funnel.models import WorkspaceSettings

    # Owners are the fixture's to set: no round-robin assignment of the new MQLs.
    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"round_robin": False})
    with django_capture_on_commit_callbacks(execute=True):
        spring = campaign_create(
            name="Spring webinar", channel="webinar", slug="spring", created_by=marketer
        )
        evil = campaign_create(name="=HYPERLINK(1)", channel="other", slug="evil")
        leads = {}

        def new(name, at, stage="suspect", **fields):
            lead = lead_create(
                system_actor="test",
                fields={"email": f"{name.lower()}@example.com", "first_name": name, **fields},
                stage=stage,
                at=at,
            )
            leads[name] = lead
            return lead

        a = new("A", day(0), source="Web")
        a.owner = rep
        a.save(update_fields=["owner"])
        for n, stage in ((2, "mql"), (3, "sal"), (5, "sql"), (6, "opportunity"), (10, "customer")):
            move(a, stage, manager, at=day(n))
        b = new("B", day(1), source="web")
        import_into(b, "sql", day(4))
        c = new("C", day(0), stage="mql", source="event")
        move(c, "nurture", manager, at=day(1))
        move(c, "mql", manager, at=day(20))
        move(c, "sal", manager, at=day(21))
        d = new("D", day(2))
        move(d, "junk", manager, at=day(3))
        e = new("E", day(-10))
        move(e, "mql", manager, at=day(1))
        new("F", day(40))
        for lead in (a, b):
            membership_touch(lead=lead, campaign=spring, how="manual", at=day(0))
        membership_touch(lead=c, campaign=evil, how="manual", at=day(0))
    for lead in leads.values():
        lead.refresh_from_db()
    leads["spring"], leads["evil"] = spring, evil
    return leads
