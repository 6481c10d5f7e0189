"""Dates at the calendar's ends (0001-01-01, anything in 9999-12): a clear 400 on the API and a
page with a form error, never a 500; the rollups' date arithmetic itself holds there too."""

import datetime as dt

import pytest

from reporting.models import CohortCount, Grain
from reporting.periods import period_q

pytestmark = pytest.mark.django_db

ENDS = (
    "until=9999-12-31",
    "until=9999-12-01",
    "since=9999-12-15",
    "since=9999-12-31&until=9999-12-31",
    "since=0001-01-01",
    "since=0001-01-01&until=0001-01-01",
    "until=0001-01-01",
)
PAGES = ("/dashboard/", "/dashboard/campaigns/", "/dashboard/me/", "/dashboard/campaigns/mine/")


@pytest.mark.parametrize("query", ENDS)
def test_it_answers_the_api_with_400_at_the_calendar_ends(api, manager, small_funnel, query):
    response = api(manager).get(f"/api/funnel/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "1900-01-01" in body["detail"] and "2999-12-31" in body["detail"]
    field = query.split("=")[0]
    assert body["errors"][field]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("query", ENDS)
def test_it_shows_the_page_with_a_form_error_at_the_calendar_ends(
    client, manager, small_funnel, url, query
):
    client.force_login(manager)
    response = client.get(f"{url}?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "Give a date from 1900-01-01 to 2999-12-31" in html
    assert "<form" in html  # the whole page, its filters ready for another try


def test_it_gives_the_leads_behind_a_number_at_the_calendar_ends(client, manager, small_funnel):
    client.force_login(manager)
    response = client.get("/dashboard/leads/?reached=mql&until=9999-12-31")
    assert response.status_code == 400
    assert "Give a date from" in response.content.decode()
    export = client.get("/dashboard/?until=9999-12-31&export=funnel")
    assert export.status_code in (200, 400)
    assert b"Traceback" not in export.content


def test_it_accepts_the_last_and_first_dates_it_allows(api, manager, small_funnel):
    whole = api(manager).get("/api/funnel/").json()
    response = api(manager).get("/api/funnel/?since=1900-01-01&until=2999-12-31")
    assert response.status_code == 200
    assert response.json()["reached"] == whole["reached"]


def _rows(since, until):
    return set(CohortCount.objects.filter(period_q(since, until)).values_list("grain", "period"))


def test_it_reads_the_rollups_through_december_9999():
    """period_q itself: no OverflowError, and each day counted once at the calendar's end."""
    common = {"campaign_key": -1, "source_key": "", "owner_key": -1}
    for grain, period in (
        (Grain.DAY, dt.date(9999, 11, 30)),
        (Grain.DAY, dt.date(9999, 12, 30)),
        (Grain.MONTH, dt.date(9999, 11, 1)),
        (Grain.MONTH, dt.date(9999, 12, 1)),
        (Grain.DAY, dt.date(1, 1, 1)),
        (Grain.MONTH, dt.date(1, 1, 1)),
    ):
        CohortCount.objects.create(grain=grain, period=period, **common)
    assert _rows(dt.date(9999, 12, 1), dt.date(9999, 12, 31)) == {
        (Grain.MONTH, dt.date(9999, 12, 1))
    }
    assert _rows(None, dt.date(9999, 12, 31)) == {
        (Grain.MONTH, dt.date(9999, 11, 1)),
        (Grain.MONTH, dt.date(9999, 12, 1)),
        (Grain.MONTH, dt.date(1, 1, 1)),
    }
    assert _rows(dt.date(9999, 12, 15), None) == {(Grain.DAY, dt.date(9999, 12, 30))}
    assert _rows(dt.date(9999, 12, 15), dt.date(9999, 12, 31)) == {
        (Grain.DAY, dt.date(9999, 12, 30))
    }
    assert _rows(dt.date(9999, 11, 30), dt.date(9999, 12, 30)) == {
        (Grain.DAY, dt.date(9999, 11, 30)),
        (Grain.DAY, dt.date(9999, 12, 30)),
    }
    assert _rows(dt.date(1, 1, 1), dt.date(1, 1, 31)) == {(Grain.MONTH, dt.date(1, 1, 1))}
    assert _rows(dt.date(1, 1, 1), dt.date(1, 1, 1)) == {(Grain.DAY, dt.date(1, 1, 1))}
