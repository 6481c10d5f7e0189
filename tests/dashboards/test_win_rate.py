"""The win rate: won over won plus lost, among the cohort's opportunities that were decided;
a lost deal is a lead that reached opportunity and went opportunity -> nurture (`lose`)."""

import pytest

from reporting.selectors import funnel_snapshot
from tests.conftest import move
from tests.dashboards.recount import recount

pytestmark = pytest.mark.django_db


def _walk(make_lead, manager, path):
    lead = make_lead("suspect")
    for stage in path:
        move(lead, stage, manager)
    return lead


@pytest.fixture
def deals(make_lead, manager, reasons, django_capture_on_commit_callbacks):
    to_opportunity = ["mql", "sal", "sql", "opportunity"]
    with django_capture_on_commit_callbacks(execute=True):
        _walk(make_lead, manager, [*to_opportunity, "customer"])  # won
        _walk(make_lead, manager, [*to_opportunity, "nurture"])  # lost
        _walk(make_lead, manager, [*to_opportunity, "nurture"])  # lost
        # Lost, recycled, and won the second time: a won deal, not a lost one.
        _walk(make_lead, manager, [*to_opportunity, "nurture", "mql", "sal", "sql",
                                    "opportunity", "customer"])  # fmt: skip
        _walk(make_lead, manager, to_opportunity)  # open: not decided
        _walk(make_lead, manager, ["mql", "nurture"])  # rejected: never an opportunity


def test_it_gives_the_win_rate_of_the_decided_opportunities(api, manager, deals):
    answer = api(manager).get("/api/funnel/").json()
    assert (answer["won_deals"], answer["lost_deals"]) == (2, 2)
    assert answer["win_rate"] == 0.5
    assert answer["reached"]["opportunity"] == 5
    assert answer["conversion"]["opportunity->customer"] == 0.4  # its meaning kept
    assert funnel_snapshot() == recount()


def test_it_has_no_win_rate_before_a_deal_is_decided(api, manager, make_lead):
    _walk(make_lead, manager, ["mql", "sal", "sql", "opportunity"])
    assert api(manager).get("/api/funnel/").json()["win_rate"] is None


def test_it_shows_the_win_rate_beside_conversion(client, manager, deals):
    client.force_login(manager)
    html = client.get("/dashboard/").content.decode()
    assert "data-win-rate>50.0%</span>" in html
    assert "(2 won, 2 lost)" in html
    assert html.index('data-conversion="customer"') < html.index("data-win-rate")
