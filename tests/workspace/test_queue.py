"""The MQL queue page: contents per rep, decisions (plain and htmx), bulk, claim, refusals."""

import datetime as dt

import pytest
from django.utils import timezone

from funnel.models import AcceptanceCriterion, Transition, WorkspaceSettings
from leads.models import Lead
from tests.conftest import move

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _stage(lead):
    lead.refresh_from_db()
    return lead.stage


def _rows(response):
    return [row.lead.pk for row in response.context["rows"]]


def test_a_rep_sees_their_own_first_then_the_unassigned_oldest_first(
    client_for, make_lead, rep, rep2, manager
):
    mine = make_lead("mql", owner=rep)
    free = make_lead("mql")
    theirs = make_lead("mql", owner=rep2)
    make_lead("sal", owner=rep)
    Lead.objects.filter(pk=free.pk).update(stage_changed_at=timezone.now() - dt.timedelta(days=2))

    response = client_for(rep).get("/queue/")
    assert response.status_code == 200
    assert _rows(response) == [mine.pk, free.pk]
    assert _rows(client_for(rep2).get("/queue/")) == [theirs.pk, free.pk]
    assert _rows(client_for(manager).get("/queue/")) == [free.pk, mine.pk, theirs.pk]


def test_the_queue_shows_criteria_age_sla_source_and_campaign(client_for, make_lead, rep):
    from campaigns.models import Campaign, CampaignMembership

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 2})
    lead = make_lead("mql", owner=rep, email="ana@gmail.com", source="webinar")
    campaign = Campaign.objects.create(name="Spring webinar", slug="spring")
    CampaignMembership.objects.create(lead=lead, campaign=campaign)
    Lead.objects.filter(pk=lead.pk).update(stage_changed_at=timezone.now() - dt.timedelta(hours=3))

    html = client_for(rep).get("/queue/").content.decode()
    assert "gmail.com is a free-mail domain." in html
    assert "Business e-mail" in html and "failed." in html
    assert "SLA breached" in html
    assert "3\xa0hours" in html
    assert "webinar" in html and "Spring webinar" in html


def test_the_queue_page_takes_a_fixed_number_of_queries(
    client_for, make_lead, rep, django_assert_max_num_queries
):
    from campaigns.models import Campaign, CampaignMembership

    campaign = Campaign.objects.create(name="C", slug="c")
    AcceptanceCriterion.objects.create(name="Phone", kind="present", field="phone")
    for n in range(30):
        lead = make_lead("mql", owner=rep if n % 2 else None)
        CampaignMembership.objects.create(lead=lead, campaign=campaign)
    client = client_for(rep)
    # + the counts (one aggregate), own and other leads (two), campaigns and sources.
    with django_assert_max_num_queries(15):
        response = client.get("/queue/")
    assert len(response.context["rows"]) == 30


def test_people_without_a_sales_role_get_a_403(client_for, marketer, nobody):
    assert client_for(marketer).get("/queue/").status_code == 403
    assert client_for(nobody).get("/queue/").status_code == 403
    assert client_for(marketer).get("/pipeline/").status_code == 403


def test_accept_makes_an_unassigned_lead_the_reps_and_records_the_criteria(
    client_for, make_lead, rep
):
    lead = make_lead("mql")
    response = client_for(rep).post(
        f"/queue/{lead.pk}/decide/", {"verb": "accept", "from_stage": "mql"}
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == ("sal", rep)
    row = Transition.objects.filter(lead=lead).last()
    assert row.data["criteria"][0]["name"] == "Business e-mail"


def test_accept_with_htmx_answers_the_row_in_place(client_for, make_lead, rep):
    lead = make_lead("mql", owner=rep, first_name="Ana")
    response = client_for(rep).post(
        f"/queue/{lead.pk}/decide/", {"verb": "accept", "from_stage": "mql"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="lead-{lead.pk}"')
    assert "Accepted: Ana is now SAL." in html
    assert "<html" not in html


def test_reject_needs_a_reason(client_for, make_lead, rep):
    lead = make_lead("mql", owner=rep)
    client = client_for(rep)
    response = client.post(f"/queue/{lead.pk}/decide/", {"verb": "reject", "from_stage": "mql"})
    assert response.status_code == 400
    assert "Reject needs a reason." in response.content.decode()
    assert _stage(lead) == "mql"

    response = client.post(
        f"/queue/{lead.pk}/decide/", {"verb": "reject", "from_stage": "mql"}, **HTMX
    )
    assert "Reject needs a reason." in response.content.decode()
    assert _stage(lead) == "mql"

    client.post(
        f"/queue/{lead.pk}/decide/",
        {"verb": "reject", "from_stage": "mql", "reason": "no_budget", "note": "Tiny shop"},
    )
    assert _stage(lead) == "nurture"
    row = Transition.objects.filter(lead=lead).last()
    assert (row.verb, row.reason.code, row.note) == ("reject", "no_budget", "Tiny shop")


def test_junk_takes_a_junk_reason(client_for, make_lead, rep):
    lead = make_lead("mql", owner=rep)
    client = client_for(rep)
    response = client.post(
        f"/queue/{lead.pk}/decide/", {"verb": "junk", "from_stage": "mql", "reason": "no_budget"}
    )
    assert response.status_code == 400
    assert "not used to junk" in response.content.decode()
    client.post(
        f"/queue/{lead.pk}/decide/", {"verb": "junk", "from_stage": "mql", "reason": "spam"}
    )
    assert _stage(lead) == "junk"


def test_a_colleagues_lead_is_a_403_on_every_queue_action(client_for, make_lead, rep, rep2):
    lead = make_lead("mql", owner=rep2)
    client = client_for(rep)
    for url, data in [
        (f"/queue/{lead.pk}/decide/", {"verb": "accept", "from_stage": "mql"}),
        (f"/queue/{lead.pk}/reassign/", {"owner": "rep"}),
        (f"/leads/{lead.pk}/move/", {"to": "sal", "from_stage": "mql"}),
    ]:
        assert client.post(url, data).status_code == 403, url
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == ("mql", rep2)


def test_a_lead_another_rep_just_took_is_a_409_saying_who_and_what(
    client_for, make_lead, rep, rep2
):
    lead = make_lead("mql")
    move(lead, "sal", rep2)
    lead.owner = None  # the colleague's accept would own it; keep it open to show the 409
    Lead.objects.filter(pk=lead.pk).update(owner=None)
    response = client_for(rep).post(
        f"/queue/{lead.pk}/decide/", {"verb": "accept", "from_stage": "mql"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "no longer in mql: it is in sal now (accept by rep2" in html


def test_a_rep_claims_from_the_queue_and_a_second_claim_is_a_409(client_for, make_lead, rep, rep2):
    lead = make_lead("mql")
    assert client_for(rep).post(f"/queue/{lead.pk}/claim/").status_code == 302
    lead.refresh_from_db()
    assert lead.owner == rep
    # The colleague, a moment late, gets a 409 saying who took it.
    response = client_for(rep2).post(f"/queue/{lead.pk}/claim/")
    assert response.status_code == 409
    assert f"rep already took lead {lead.pk}." in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner == rep


def test_accepting_a_lead_a_colleague_took_since_the_page_opened_is_a_409(
    client_for, make_lead, rep, rep2
):
    lead = make_lead("mql", first_name="Dora")
    page = client_for(rep).get("/queue/").content.decode()
    assert 'name="seen_owner" value=""' in page
    client_for(rep2).post(f"/queue/{lead.pk}/claim/")
    response = client_for(rep).post(
        f"/queue/{lead.pk}/decide/", {"verb": "accept", "from_stage": "mql", "seen_owner": ""}
    )
    assert response.status_code == 409
    assert "rep2 took Dora after you opened this page" in response.content.decode()
    response = client_for(rep).post(
        f"/queue/{lead.pk}/decide/",
        {"verb": "accept", "from_stage": "mql", "seen_owner": ""},
        **HTMX,
    )
    assert "rep2 took Dora after you opened this page" in response.content.decode()
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == ("mql", rep2)


def test_a_manager_reassigns_from_the_queue(client_for, make_lead, rep, rep2, manager):
    lead = make_lead("mql", owner=rep)
    response = client_for(manager).post(f"/queue/{lead.pk}/reassign/", {"owner": "rep2"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == rep2
    response = client_for(manager).post(f"/queue/{lead.pk}/reassign/", {"owner": "ghost"})
    assert response.status_code == 400


def test_bulk_accept_does_the_allowed_ones_and_reports_each_refusal(
    client_for, make_lead, rep, rep2
):
    mine, free = make_lead("mql", owner=rep), make_lead("mql")
    theirs, moved = make_lead("mql", owner=rep2), make_lead("sal", owner=rep)
    response = client_for(rep).post(
        "/queue/bulk/",
        {"verb": "accept", "lead": [mine.pk, free.pk, theirs.pk, moved.pk]},
        follow=True,
    )
    assert [_stage(x) for x in (mine, free, theirs, moved)] == ["sal", "sal", "mql", "sal"]
    html = response.content.decode()
    assert "Accepted 2 leads." in html
    assert f"Lead {theirs.pk} not accepted: Lead {theirs.pk} belongs to rep2" in html
    assert f"Lead {moved.pk} not accepted: This lead is no longer in mql" in html


def test_bulk_reject_needs_a_reason_for_every_lead(client_for, make_lead, rep):
    leads = [make_lead("mql", owner=rep) for _ in range(2)]
    client = client_for(rep)
    client.post("/queue/bulk/", {"verb": "reject", "lead": [x.pk for x in leads]})
    assert [_stage(x) for x in leads] == ["mql", "mql"]
    client.post(
        "/queue/bulk/",
        {"verb": "reject", "lead": [x.pk for x in leads], "bulk_reason": "not_in_segment"},
    )
    assert [_stage(x) for x in leads] == ["nurture", "nurture"]


def test_bulk_refuses_nothing_selected_and_unknown_verbs(client_for, rep):
    client = client_for(rep)
    assert client.post("/queue/bulk/", {"verb": "accept"}).status_code == 400
    assert client.post("/queue/bulk/", {"verb": "win", "lead": ["1"]}).status_code == 400
    assert client.post("/queue/bulk/", {"verb": "accept", "lead": ["x"]}).status_code == 400


def test_an_unknown_decision_is_refused_without_a_500(client_for, make_lead, rep):
    lead = make_lead("mql", owner=rep)
    client = client_for(rep)
    response = client.post(f"/queue/{lead.pk}/decide/", {"verb": "win", "from_stage": "mql"})
    assert response.status_code == 302
    assert _stage(lead) == "mql"
    response = client.post(f"/queue/{lead.pk}/decide/", {"verb": "accept", "from_stage": "bogus"})
    assert response.status_code == 302
    assert client.post("/queue/999999/decide/", {"verb": "accept"}).status_code == 404
    assert client.get(f"/queue/{lead.pk}/decide/").status_code == 405
