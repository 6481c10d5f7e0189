"""The dashboard pages: who may read them, that they show the API's numbers, sorting, links
to the leads behind a number, CSV downloads (formula-safe), bad input, query counts."""

import csv
import io
import re

import pytest

from reporting.exports import csv_cell

pytestmark = pytest.mark.django_db

PAGES = (
    "/dashboard/",
    "/dashboard/campaigns/",
    "/dashboard/me/",
    "/dashboard/campaigns/mine/",
    "/dashboard/leads/?reached=mql",
)
RANGE = "since=2025-01-06&until=2025-01-31"


def _numbers(html: str, attribute: str) -> dict:
    found = re.findall(rf'data-{attribute}="([\w-]+)"[^>]*>([^<]*)<', html)
    return {name: value.strip() for name, value in found}


@pytest.mark.parametrize("url", PAGES)
def test_it_refuses_a_user_without_a_role(client, nobody, url):
    client.force_login(nobody)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", PAGES)
def test_it_sends_visitors_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_it_keeps_my_numbers_for_sales_and_my_campaigns_for_marketing(client, marketer, rep):
    client.force_login(marketer)
    assert client.get("/dashboard/me/").status_code == 403
    assert client.get("/dashboard/campaigns/mine/").status_code == 200
    client.force_login(rep)
    assert client.get("/dashboard/campaigns/mine/").status_code == 403
    assert client.get("/dashboard/me/").status_code == 200


@pytest.mark.parametrize("query", ["", RANGE, "campaign=spring", "source=web&owner=none"])
def test_it_shows_the_numbers_the_api_gives(client, api, manager, small_funnel, query):
    client.force_login(manager)
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    numbers = api(manager).get(f"/api/funnel/?{query}").json()
    assert _numbers(html, "bucket") == {
        b: str(numbers[b]) for b in ("tofu", "mofu", "bofu", "won", "nurture", "closed")
    }
    assert _numbers(html, "stage") == {s: str(n) for s, n in numbers["stages"].items()}
    assert _numbers(html, "reached") == {s: str(n) for s, n in numbers["reached"].items()}
    assert _numbers(html, "days-to") == {
        s: "—" if v is None else str(v) for s, v in numbers["days_to"].items()
    } | {"suspect": "—"}
    # The chart writes the same numbers on its bars.
    for stage, count in numbers["reached"].items():
        assert re.search(rf'data-chart-stage="{stage}">.*?>{count}</text>', html, re.S)
    assert "UTC time zone" in html


def test_it_states_the_time_zone(client, manager, settings):
    settings.TIME_ZONE = "Europe/Paris"
    client.force_login(manager)
    assert "Europe/Paris time zone" in client.get("/dashboard/").content.decode()


def test_it_shows_a_reps_own_numbers(client, rep, small_funnel):
    client.force_login(rep)
    html = client.get("/dashboard/me/").content.decode()
    assert _numbers(html, "reached")["customer"] == "1"
    assert _numbers(html, "bucket")["won"] == "1"
    assert _numbers(html, "reached")["suspect"] == "1"  # A only: the rep owns nothing else


def test_it_shows_a_marketers_campaigns_only(client, marketer, small_funnel):
    client.force_login(marketer)
    html = client.get("/dashboard/campaigns/mine/").content.decode()
    assert 'data-campaign="spring"' in html
    assert 'data-campaign="evil"' not in html


def test_it_scores_campaigns(client, manager, small_funnel):
    client.force_login(manager)
    html = client.get(f"/dashboard/campaigns/?{RANGE}").content.decode()
    spring = html[html.index('data-campaign="spring"') :].split("</tr>")[0]
    scores = _numbers(spring, "score")
    assert (scores["leads"], scores["mqls"], scores["sqls"]) == ("2", "2", "2")
    assert (scores["opportunities"], scores["customers"]) == ("1", "1")
    assert scores["won_amount"] == "12,000.00"
    evil = html[html.index('data-campaign="evil"') :].split("</tr>")[0]
    assert "no_budget: 1" in evil  # C's rejection reason
    assert "50.0%" in evil  # one accepted, one rejected


def test_it_sorts_the_scoreboard(client, manager, small_funnel):
    client.force_login(manager)
    by_name = client.get("/dashboard/campaigns/?sort=name&dir=asc").content.decode()
    assert by_name.index('data-campaign="evil"') < by_name.index('data-campaign="spring"')
    by_sqls = client.get("/dashboard/campaigns/?sort=sqls&dir=desc").content.decode()
    assert by_sqls.index('data-campaign="spring"') < by_sqls.index('data-campaign="evil"')
    assert client.get("/dashboard/campaigns/?sort=password&dir=up").status_code == 200


def test_it_links_each_number_to_the_leads_behind_it(client, manager, small_funnel):
    client.force_login(manager)
    html = client.get(f"/dashboard/?{RANGE}").content.decode()
    link = re.search(r'<a data-score="sqls" href="([^"]+)">(\d+)</a>', html)
    behind = client.get(link.group(1).replace("&amp;", "&"))
    assert behind.status_code == 200
    page = behind.content.decode()
    assert f"{link.group(2)} leads" in page
    assert ">A<" in page and ">B<" in page and ">C<" not in page
    mql_link = re.search(r'<a data-reached="mql" href="([^"]+)">(\d+)</a>', html)
    mqls = client.get(mql_link.group(1).replace("&amp;", "&")).content.decode()
    assert f"{mql_link.group(2)} leads" in mqls


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        (12, "12"),
        (None, ""),
    ],
)
def test_it_escapes_formulas_in_csv_cells(text, safe):
    assert csv_cell(text) == safe


@pytest.mark.parametrize(
    "table", ["stages", "funnel", "velocity", "handoff", "nurture", "trends", "scoreboard"]
)
def test_it_downloads_every_table_as_csv(client, manager, small_funnel, table):
    client.force_login(manager)
    response = client.get(f"/dashboard/?{RANGE}&export={table}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"handoff-{table}.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) > 1


def test_it_escapes_a_campaign_named_like_a_formula(client, manager, small_funnel):
    client.force_login(manager)
    content = client.get("/dashboard/campaigns/?export=scoreboard").content.decode()
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[[r[1] for r in rows].index("evil")][:2] == ["'=HYPERLINK(1)", "evil"]
    leads = client.get("/dashboard/leads/?campaign=spring&export=leads").content.decode()
    assert len(list(csv.reader(io.StringIO(leads)))) == 3  # header, A, B


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/?since=yesterday",
        "/dashboard/?since=2025-02-01&until=2025-01-01",
        "/dashboard/campaigns/?until=2025-13-01",
        "/dashboard/leads/?stage=bogus",
        "/dashboard/leads/?reached=nurture",
        "/dashboard/me/?since=%00",
    ],
)
def test_it_answers_bad_filters_with_400(client, manager, url):
    client.force_login(manager)
    response = client.get(url)
    assert response.status_code == 400
    assert b'role="alert"' in response.content


def test_it_answers_bad_api_filters_with_400(api, manager):
    response = api(manager).get("/api/funnel/?since=not-a-date")
    assert response.status_code == 400
    assert "since" in str(response.json())


@pytest.mark.parametrize(
    ("url", "most"),
    [
        # Exact medians: one query reads the middle values of every median's bin; one
        # counts the MQL decisions made after the SLA; one reads speed to first touch by rep.
        ("/dashboard/", 20),
        (f"/dashboard/?{RANGE}&campaign=spring&owner=rep", 21),
        ("/dashboard/?per=month", 20),
        ("/dashboard/campaigns/", 12),
        ("/dashboard/campaigns/mine/", 12),
        ("/dashboard/me/", 16),
        ("/dashboard/leads/?reached=mql", 12),
        ("/api/funnel/", 10),  # + as_of and pending
    ],
)
def test_it_reads_each_page_in_a_fixed_number_of_queries(
    client, manager, small_funnel, django_assert_max_num_queries, url, most
):
    client.force_login(manager)
    client.get(url)  # warm the session
    with django_assert_max_num_queries(most):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_it_says_when_the_numbers_are_still_catching_up(client, manager, url):
    """Refreshes queued for workers (an import's leads, a thousand per task) and not yet
    done: every dashboard page says how many leads they still have to count."""
    from outbox.models import PendingTask
    from reporting.tasks import refresh_facts

    client.force_login(manager)
    assert 'id="catching-up"' not in client.get(url).content.decode()
    PendingTask.objects.create(task=refresh_facts.name, args=[list(range(1, 1001))])
    PendingTask.objects.create(task=refresh_facts.name, args=[[1001, 1002], 200])
    PendingTask.objects.create(task="nurture.tick", args=[[5, 6, 7]])  # not a refresh
    html = client.get(url).content.decode()
    assert "Counting 1002 recently imported or changed leads" in html
    PendingTask.objects.filter(task=refresh_facts.name).delete()  # the workers are done
    assert 'id="catching-up"' not in client.get(url).content.decode()
