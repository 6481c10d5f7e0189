"""The queue's filters: whose, campaign, source, age and SLA state, with counts, own first."""

import datetime as dt

import pytest
from django.utils import timezone

from funnel.models import WorkspaceSettings
from leads.models import Lead

pytestmark = pytest.mark.django_db


def _rows(response):
    return [row.lead.pk for row in response.context["rows"]]


def _age(lead, **delta):
    Lead.objects.filter(pk=lead.pk).update(stage_changed_at=timezone.now() - dt.timedelta(**delta))


@pytest.fixture
def waiting(make_lead, rep, rep2):
    mine_old = make_lead("mql", owner=rep, source="webinar")
    mine_new = make_lead("mql", owner=rep, source="ads")
    free = make_lead("mql", source="Webinar")
    theirs = make_lead("mql", owner=rep2, source="webinar")
    Lead.objects.filter(pk=free.pk).update(owner=None)
    _age(mine_old, days=3)
    _age(mine_new, hours=1)
    _age(free, days=10)
    _age(theirs, days=2)
    return {"mine_old": mine_old, "mine_new": mine_new, "free": free, "theirs": theirs}


def test_it_honours_owner_me_and_counts_each_tab(client_for, rep, waiting):
    response = client_for(rep).get("/queue/?owner=me")
    assert response.status_code == 200
    assert _rows(response) == [waiting["mine_old"].pk, waiting["mine_new"].pk]
    tabs = {value: count for value, _label, count, _link in response.context["owner_tabs"]}
    assert tabs == {"me": 2, "none": 1, "all": 3}
    html = response.content.decode()
    assert 'aria-current="page">Mine <span class="count">2</span>' in html
    assert "2 MQLs waiting" in html


def test_it_shows_a_reps_own_first_then_the_unassigned(client_for, rep, waiting):
    rows = _rows(client_for(rep).get("/queue/"))
    assert rows == [waiting["mine_old"].pk, waiting["mine_new"].pk, waiting["free"].pk]
    assert _rows(client_for(rep).get("/queue/?owner=none")) == [waiting["free"].pk]


def test_it_gives_managers_everyones_and_one_reps(client_for, manager, waiting):
    client = client_for(manager)
    everyone = _rows(client.get("/queue/?owner=all"))
    assert everyone == [waiting[k].pk for k in ("free", "mine_old", "theirs", "mine_new")]
    assert _rows(client.get("/queue/?owner=rep2")) == [waiting["theirs"].pk]


def test_it_refuses_another_reps_name_from_a_rep(client_for, rep, waiting):
    response = client_for(rep).get("/queue/?owner=rep2")
    assert response.status_code == 200
    assert "owner: Choose mine, unassigned or all." in response.content.decode()
    assert waiting["theirs"].pk not in _rows(response)


def test_it_filters_by_source_age_and_sla_with_counts(client_for, rep, waiting):
    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 48})
    client = client_for(rep)
    by_source = _rows(client.get("/queue/?owner=all&source=webinar"))
    assert by_source == [waiting["mine_old"].pk, waiting["free"].pk]  # any case
    assert _rows(client.get("/queue/?age=day")) == [waiting["mine_new"].pk]
    assert _rows(client.get("/queue/?age=older")) == [waiting["free"].pk]
    response = client.get("/queue/?sla=breached")
    assert _rows(response) == [waiting["mine_old"].pk, waiting["free"].pk]
    sla = {value: count for value, _label, count in response.context["sla_choices"]}
    assert sla == {"ok": 1, "due_soon": 0, "breached": 2}
    age = {value: count for value, _label, count in response.context["age_choices"]}
    assert age == {"day": 0, "week": 1, "older": 1}  # within the SLA filter chosen


def test_it_filters_by_campaign(client_for, rep, waiting):
    from campaigns.models import Campaign, CampaignMembership

    spring = Campaign.objects.create(name="Spring webinar", slug="spring")
    CampaignMembership.objects.create(lead=waiting["mine_new"], campaign=spring)
    response = client_for(rep).get("/queue/?campaign=spring")
    assert _rows(response) == [waiting["mine_new"].pk]
    assert '<option value="spring" selected>Spring webinar</option>' in response.content.decode()


def test_bad_filter_values_are_reported_not_a_500(client_for, rep, waiting):
    response = client_for(rep).get("/queue/?age=forever&sla=late&page=zz")
    assert response.status_code == 200
    html = response.content.decode()
    assert "age: Choose one of day, week, older." in html
    assert "sla: Choose one of ok, due_soon, breached." in html


def test_pages_run_on_from_the_reps_own_into_the_others(client_for, rep, make_lead, settings):
    settings.HANDOFF_QUEUE_PAGE_SIZE = 2
    mine = [make_lead("mql", owner=rep) for _ in range(3)]
    free = [make_lead("mql") for _ in range(2)]
    Lead.objects.filter(pk__in=[lead.pk for lead in free]).update(owner=None)
    client = client_for(rep)
    pages = [_rows(client.get(f"/queue/?page={n}")) for n in (1, 2, 3)]
    assert pages == [
        [mine[0].pk, mine[1].pk],
        [mine[2].pk, free[0].pk],
        [free[1].pk],
    ]


def test_work_my_mqls_opens_the_queue_filtered_to_mine(client_for, rep):
    html = client_for(rep).get("/").content.decode()
    assert 'href="/queue/?owner=me">Work my MQLs</a>' in html
    assert 'href="/queue/?owner=none">Unassigned MQLs</a>' in html


def test_a_decision_without_javascript_comes_back_to_the_same_filters(client_for, rep, waiting):
    client = client_for(rep)
    assert 'name="query" value="owner=me&amp;sla=breached"' in (
        client.get("/queue/?owner=me&sla=breached").content.decode()
    )
    response = client.post(
        f"/queue/{waiting['mine_old'].pk}/decide/",
        {"verb": "accept", "from_stage": "mql", "query": "owner=me&sla=breached"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/queue/?owner=me&sla=breached"
    response = client.post(
        "/queue/bulk/",
        {"verb": "accept", "lead": [waiting["mine_new"].pk], "query": "owner=me"},
    )
    assert response["Location"] == "/queue/?owner=me"
