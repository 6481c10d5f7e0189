"""The leads list: sort by column, filters, CSV export of what is filtered, bulk actions."""

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Campaign, CampaignMembership
from leads.models import Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(db):
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def _ids(response):
    return [lead.pk for lead in response.context["page"]]


@pytest.fixture
def people(make_lead, rep, committed):
    ana = make_lead(
        "mql", owner=rep, first_name="Ana", last_name="Alpha", company="Zeta", source="webinar"
    )
    ben = make_lead(
        "sal", owner=rep, first_name="Ben", last_name="Beta", company="Acme", source="ads"
    )
    cy = make_lead("suspect", first_name="Cy", last_name="Gamma", company="Mid", source="webinar")
    Lead.objects.filter(pk=ana.pk).update(
        score=80, created_at=timezone.now() - dt.timedelta(days=40)
    )
    Lead.objects.filter(pk=ben.pk).update(
        score=20, created_at=timezone.now() - dt.timedelta(days=5)
    )
    Lead.objects.filter(pk=cy.pk).update(score=55)
    return ana, ben, cy


def test_it_sorts_by_each_column_both_ways(client_for, rep, people):
    ana, ben, cy = people
    client = client_for(rep)
    assert _ids(client.get("/leads/?sort=name")) == [ana.pk, ben.pk, cy.pk]
    assert _ids(client.get("/leads/?sort=-name")) == [cy.pk, ben.pk, ana.pk]
    assert _ids(client.get("/leads/?sort=company")) == [ben.pk, cy.pk, ana.pk]
    assert _ids(client.get("/leads/?sort=-score")) == [ana.pk, cy.pk, ben.pk]
    assert _ids(client.get("/leads/")) == [cy.pk, ben.pk, ana.pk]  # newest first
    html = client.get("/leads/?sort=score&stage=mql").content.decode()
    assert 'aria-sort="ascending"><a href="?stage=mql&amp;sort=-score"' in html
    response = client.get("/leads/?sort=password")
    assert response.status_code == 200
    assert "sort: Sort by one of name, company" in response.content.decode()


def test_it_filters_by_stage_owner_campaign_source_dates_and_score(client_for, rep, people):
    ana, ben, cy = people
    spring = Campaign.objects.create(name="Spring", slug="spring")
    CampaignMembership.objects.create(lead=cy, campaign=spring)
    client = client_for(rep)
    assert _ids(client.get("/leads/?stage=sal")) == [ben.pk]
    assert _ids(client.get("/leads/?owner=none")) == [cy.pk]
    assert _ids(client.get("/leads/?campaign=spring")) == [cy.pk]
    assert _ids(client.get("/leads/?source=WEBINAR&sort=name")) == [ana.pk, cy.pk]
    since = (timezone.localdate() - dt.timedelta(days=10)).isoformat()
    assert _ids(client.get(f"/leads/?created_after={since}&sort=name")) == [ben.pk, cy.pk]
    until = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    assert _ids(client.get(f"/leads/?created_before={until}")) == [ana.pk]
    assert _ids(client.get("/leads/?score_min=50&score_max=60")) == [cy.pk]
    response = client.get("/leads/?created_after=yesterday&score_min=lots")
    assert response.status_code == 200 and _ids(response) == []
    html = response.content.decode()
    assert "created_after: Enter a valid date." in html and "score_min: Enter a number." in html


def test_the_export_is_what_is_filtered_with_cells_escaped(client_for, rep, people):
    ana, _ben, cy = people
    Lead.objects.filter(pk=cy.pk).update(company='=HYPERLINK("http://x")', score=90)
    response = client_for(rep).get("/leads/export/?source=webinar&sort=-score")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["id"] for row in rows] == [str(cy.pk), str(ana.pk)]
    assert rows[0]["company"] == '\'=HYPERLINK("http://x")'
    assert rows[1]["owner"] == "rep" and rows[1]["stage"] == "mql"
    bad = client_for(rep).get("/leads/export/?score_min=lots")
    assert bad.status_code == 400 and "score_min: Enter a number." in bad.content.decode()


def test_a_manager_assigns_selected_leads(client_for, manager, rep, rep2, people):
    ana, _ben, cy = people
    response = client_for(manager).post(
        "/leads/bulk/",
        {"action": "assign", "owner": "rep2", "lead": [ana.pk, cy.pk], "back": "stage=mql"},
        follow=True,
    )
    assert response.redirect_chain == [("/leads/?stage=mql", 302)]
    assert "Assigned: 2 leads." in response.content.decode()
    assert set(Lead.objects.filter(owner=rep2).values_list("pk", flat=True)) == {ana.pk, cy.pk}


def test_only_managers_assign_and_only_marketers_and_managers_add_to_campaigns(
    client_for, rep, marketer, people
):
    ana, _ben, _cy = people
    Campaign.objects.create(name="Spring", slug="spring")
    assign = {"action": "assign", "owner": "rep", "lead": [ana.pk]}
    assert client_for(rep).post("/leads/bulk/", assign).status_code == 403
    assert client_for(marketer).post("/leads/bulk/", assign).status_code == 403
    add = {"action": "campaign", "campaign": "spring", "lead": [ana.pk]}
    assert client_for(rep).post("/leads/bulk/", add).status_code == 403
    assert not CampaignMembership.objects.filter(lead=ana).exists()


def test_a_marketer_adds_selected_leads_to_a_campaign(client_for, marketer, people):
    ana, ben, _cy = people
    spring = Campaign.objects.create(name="Spring", slug="spring")
    CampaignMembership.objects.create(lead=ben, campaign=spring)
    response = client_for(marketer).post(
        "/leads/bulk/",
        {"action": "campaign", "campaign": "spring", "lead": [ana.pk, ben.pk, 999999]},
        follow=True,
    )
    html = response.content.decode()
    assert "Added to the campaign: 1 lead." in html
    assert "Refused: Ben Beta: already in Spring." in html
    assert "Refused: Lead 999999: No such lead." in html
    assert CampaignMembership.objects.filter(campaign=spring).count() == 2
    response = client_for(marketer).post(
        "/leads/bulk/", {"action": "campaign", "campaign": "nope", "lead": [ana.pk]}
    )
    assert response.status_code == 400
    assert "Choose a campaign to add the leads to." in response.content.decode()


def test_a_bulk_move_does_each_allowed_lead_and_says_why_for_each_refused(
    client_for, rep, rep2, people, make_lead
):
    ana, ben, _cy = people
    theirs = make_lead("mql", owner=rep2, first_name="Dee", last_name="Delta")
    response = client_for(rep).post(
        "/leads/bulk/",
        {"action": "move", "to": "sal", "lead": [ana.pk, ben.pk, theirs.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Moved: 1 lead." in html
    assert "Refused: Ben Beta:" in html  # already in SAL
    assert f"Refused: Dee Delta: Lead {theirs.pk} belongs to rep2" in html
    assert Lead.objects.get(pk=ana.pk).stage == "sal"
    assert Lead.objects.get(pk=theirs.pk).stage == "mql"


def test_bulk_refuses_nothing_selected_and_unknown_actions(client_for, rep, people):
    client = client_for(rep)
    response = client.post("/leads/bulk/", {"action": "move", "to": "sal"})
    assert response.status_code == 400
    assert "Select at least one lead first." in response.content.decode()
    response = client.post("/leads/bulk/", {"action": "delete", "lead": [people[0].pk]})
    assert response.status_code == 400
    assert "Choose Assign, Add to campaign or Move." in response.content.decode()
    response = client.post("/leads/bulk/", {"action": "move", "lead": [people[0].pk]})
    assert response.status_code == 400
    assert "Choose the stage to move the leads to." in response.content.decode()


def test_the_list_offers_the_bulk_actions_each_role_may_take(client_for, rep, manager, marketer):
    assert 'value="assign"' not in client_for(rep).get("/leads/").content.decode()
    assert 'value="campaign"' not in client_for(rep).get("/leads/").content.decode()
    assert 'value="assign"' in client_for(manager).get("/leads/").content.decode()
    html = client_for(marketer).get("/leads/").content.decode()
    assert 'value="campaign"' in html and 'value="assign"' not in html


def test_the_api_takes_the_new_filters_and_refuses_bad_values(api, rep, people):
    ana, _ben, cy = people
    client = api(rep)
    response = client.get("/api/leads/?score_min=50&ordering=id")
    assert response.status_code == 200
    assert sorted(row["id"] for row in response.json()["results"]) == sorted([ana.pk, cy.pk])
    response = client.get("/api/leads/?created_after=soon")
    assert response.status_code == 400
    assert "created_after" in response.json()["errors"]
