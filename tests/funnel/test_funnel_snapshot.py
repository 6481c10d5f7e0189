import datetime as dt

import pytest
from django.utils import timezone

from funnel.services import lead_create, transition_lead
from tests.conftest import move

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("committed")]


def _lead(email, at):
    return lead_create(system_actor="test", fields={"email": email}, at=at)


def test_it_counts_buckets_stages_and_the_cohort_by_hand(api, manager, rep):
    start = timezone.now() - dt.timedelta(days=30)
    a = _lead("a@x.io", start)  # suspect -> mql -> sal -> sql -> opportunity -> customer
    for days, to in enumerate(["mql", "sal", "sql", "opportunity", "customer"], start=1):
        move(a, to, manager, at=start + dt.timedelta(days=days * 2))
    b = _lead("b@x.io", start)  # suspect -> mql -> nurture (rejected)
    move(b, "mql", manager, at=start + dt.timedelta(days=4))
    move(b, "nurture", rep, at=start + dt.timedelta(days=5))
    _lead("c@x.io", start)  # stays a suspect
    d = _lead("d@x.io", start)  # junk
    move(d, "junk", manager, at=start + dt.timedelta(days=1))

    body = api(rep).get("/api/funnel/").json()
    assert {k: body[k] for k in ("tofu", "mofu", "bofu", "won", "nurture", "closed")} == {
        "tofu": 1,
        "mofu": 0,
        "bofu": 0,
        "won": 1,
        "nurture": 1,
        "closed": 1,
    }
    assert body["stages"]["customer"] == 1 and sum(body["stages"].values()) == 4
    assert body["reached"] == {
        "suspect": 4,
        "mql": 2,
        "sal": 1,
        "sql": 1,
        "opportunity": 1,
        "customer": 1,
    }
    assert body["conversion"] == {
        "suspect->mql": 0.5,
        "mql->sal": 0.5,
        "sal->sql": 1.0,
        "sql->opportunity": 1.0,
        "opportunity->customer": 1.0,
    }
    # a reached mql after 2 days and b after 4: the median is 3.
    assert body["days_to"]["mql"] == 3.0
    assert body["days_to"]["customer"] == 10.0


def test_reached_never_grows_down_the_path_and_counts_skipped_stages(api, manager):
    lead = _lead("skip@x.io", timezone.now())
    transition_lead(lead_id=lead.pk, to="mql", system_actor="form")
    lead.refresh_from_db()
    for to in ("sal", "sql"):
        move(lead, to, manager)
    body = api(manager).get("/api/funnel/").json()
    counts = [body["reached"][s] for s in ("suspect", "mql", "sal", "sql", "opportunity")]
    assert counts == [1, 1, 1, 1, 0]
    assert counts == sorted(counts, reverse=True)


def test_since_and_until_select_the_cohort_that_entered(api, manager):
    now = timezone.now()
    _lead("old@x.io", now - dt.timedelta(days=100))
    _lead("new@x.io", now - dt.timedelta(days=2))
    since = (timezone.localdate() - dt.timedelta(days=10)).isoformat()
    body = api(manager).get(f"/api/funnel/?since={since}").json()
    assert body["reached"]["suspect"] == 1 and body["tofu"] == 1
    until = (timezone.localdate() - dt.timedelta(days=50)).isoformat()
    assert api(manager).get(f"/api/funnel/?until={until}").json()["tofu"] == 1


@pytest.mark.parametrize(
    "query", ["since=yesterday", "since=2026-05-01&until=2026-04-01", "until=2026-13-01"]
)
def test_bad_funnel_filters_are_400(api, manager, query):
    response = api(manager).get(f"/api/funnel/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_owner_and_source_filters(api, rep, make_lead):
    make_lead("mql", owner=rep, source="google")
    make_lead("mql", source="event")
    assert api(rep).get("/api/funnel/?owner=me").json()["mofu"] == 1
    assert api(rep).get("/api/funnel/?source=EVENT").json()["mofu"] == 1
    assert api(rep).get("/api/funnel/").json()["mofu"] == 2
