"""Managers set the criteria, the SLA and the territories on pages, not only in the admin."""

import pytest

from funnel.criteria import FREE_MAIL_DOMAINS
from funnel.models import AcceptanceCriterion, TerritoryRule, WorkspaceSettings

pytestmark = pytest.mark.django_db


def test_a_manager_adds_edits_and_deletes_a_criterion(client_for, manager):
    client = client_for(manager)
    assert client.get("/criteria/new/").status_code == 200
    response = client.post(
        "/criteria/new/",
        {
            "name": "Senior title",
            "kind": "contains_any",
            "field": "title",
            "values": "Head\nDirector, VP\n\nDirector",
            "required": "on",
            "is_active": "on",
            "order": "20",
        },
    )
    assert response.status_code == 302
    criterion = AcceptanceCriterion.objects.get(name="Senior title")
    assert criterion.values == ["Head", "Director", "VP"]
    assert "Senior title" in client.get("/criteria/").content.decode()

    response = client.post(
        f"/criteria/{criterion.pk}/",
        {
            "name": "Senior title",
            "kind": "contains_any",
            "field": "title",
            "values": "Chief",
            "order": "20",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    criterion.refresh_from_db()
    assert (criterion.values, criterion.required) == (["Chief"], False)

    client.post(f"/criteria/{criterion.pk}/", {"delete": "1"})
    assert not AcceptanceCriterion.objects.filter(pk=criterion.pk).exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "in_list", "field": "country", "values": ""}, "values"),
        ({"kind": "at_least", "field": "company_size"}, "number"),
        ({"kind": "at_least", "field": "title", "number": "5"}, "field"),
        ({"kind": "present", "field": ""}, "field"),
        ({"kind": "nonsense", "field": "title"}, "kind"),
    ],
)
def test_a_criterion_with_missing_parts_is_refused(client_for, manager, data, field):
    response = client_for(manager).post(
        "/criteria/new/", {"name": "Bad", "order": "1", "is_active": "on", **data}
    )
    assert response.status_code == 400
    assert response.context["form"].errors.get(field)
    assert not AcceptanceCriterion.objects.filter(name="Bad").exists()


def test_a_business_email_criterion_keeps_an_editable_domain_list(client_for, manager):
    client = client_for(manager)
    base = {"name": "Work e-mail", "kind": "business_email", "order": "1", "is_active": "on"}
    client.post("/criteria/new/", {**base, "values": ""})
    assert AcceptanceCriterion.objects.get(name="Work e-mail").values == FREE_MAIL_DOMAINS
    criterion = AcceptanceCriterion.objects.get(name="Work e-mail")
    client.post(f"/criteria/{criterion.pk}/", {**base, "values": "@Gmail.com\nexample.org"})
    criterion.refresh_from_db()
    assert (criterion.field, criterion.values) == ("email", ["gmail.com", "example.org"])


def test_reps_read_the_criteria_but_only_managers_edit(client_for, rep, marketer):
    criterion = AcceptanceCriterion.objects.first()
    client = client_for(rep)
    assert client.get("/criteria/").status_code == 200
    assert client.get("/criteria/new/").status_code == 403
    assert client.post(f"/criteria/{criterion.pk}/", {"delete": "1"}).status_code == 403
    assert AcceptanceCriterion.objects.filter(pk=criterion.pk).exists()
    assert client_for(marketer).get("/criteria/").status_code == 403


def test_a_manager_sets_the_sla_and_a_territory(client_for, manager, rep, rep2):
    client = client_for(manager)
    assert client.get("/queue/settings/").status_code == 200
    data = {
        "sla_hours": "8",
        "round_robin": "on",
        "territory-TOTAL_FORMS": "1",
        "territory-INITIAL_FORMS": "0",
        "territory-MIN_NUM_FORMS": "0",
        "territory-MAX_NUM_FORMS": "1000",
        "territory-0-name": "DACH",
        "territory-0-countries": "DE, AT\nCH",
        "territory-0-reps": [str(rep2.pk)],
        "territory-0-order": "1",
        "territory-0-is_active": "on",
    }
    assert client.post("/queue/settings/", data).status_code == 302
    assert WorkspaceSettings.load().sla_hours == 8
    territory = TerritoryRule.objects.get(name="DACH")
    assert territory.countries == ["DE", "AT", "CH"]
    assert list(territory.reps.all()) == [rep2]

    assert client.post("/queue/settings/", {**data, "sla_hours": "0"}).status_code == 400
    assert WorkspaceSettings.load().sla_hours == 8
    assert client_for(rep).post("/queue/settings/", data).status_code == 403
