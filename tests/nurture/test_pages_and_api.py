import datetime as dt
import hashlib

import pytest

from campaigns.nurture.models import Audience, AudienceMember, Message, Programme, Step
from campaigns.nurture.selectors import csv_cell

from .conftest import T0

pytestmark = pytest.mark.django_db


# --- audiences ----------------------------------------------------------------------------


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_audience_downloads_as_hashes_of_normalised_emails(
    make_programme, to_nurture, tick, smtp_server, client, marketer
):
    make_programme(["mql"])
    kept = to_nurture(email="  Nadia.Novak@Example.COM ")
    left_out = to_nurture(email="gone@example.com", do_not_email=True)
    tick(T0 + dt.timedelta(minutes=1))
    audience = Audience.objects.get(name="Warm leads")
    assert AudienceMember.objects.filter(audience=audience).count() == 2

    client.force_login(marketer)
    response = client.get(f"/nurture/audiences/{audience.pk}/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines == ["email_sha256", sha("nadia.novak@example.com")]
    assert sha(left_out.email) not in response.content.decode()
    assert (response["X-Audience-Members"], response["X-Audience-Exported"]) == ("2", "1")
    assert kept.email == "nadia.novak@example.com"
    listing = client.get("/nurture/audiences/")
    assert b"Warm leads" in listing.content


def test_audience_downloads_are_for_marketers_and_managers(client, rep, db):
    audience = Audience.objects.create(name="Anyone")
    client.force_login(rep)
    assert client.get(f"/nurture/audiences/{audience.pk}/export.csv").status_code == 403
    assert client.get("/nurture/audiences/999/export.csv").status_code == 403


def test_csv_cells_never_start_a_formula():
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("+1") == "'+1"
    assert csv_cell("@x") == "'@x"
    assert csv_cell("ab12") == "ab12"


# --- pages --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nurture/", "/content/", "/nurture/audiences/"])
def test_marketing_pages_refuse_sales_reps_and_people_without_a_role(client, rep, nobody, path):
    for user in (rep, nobody):
        client.force_login(user)
        assert client.get(path).status_code == 403


def test_a_marketer_creates_a_programme_and_steps_with_a_form(client, marketer, manager):
    client.force_login(marketer)
    response = client.post(
        "/nurture/", {"name": "Lost deals", "exits": ["opportunity"], "priority": 5}
    )
    programme = Programme.objects.get(name="Lost deals")
    assert response.status_code == 302
    assert programme.exits == ["opportunity"]
    bad = client.post(
        f"/nurture/{programme.pk}/steps/",
        {"kind": "email", "subject": "Hi {% if lead.first_name %}", "body": "x"},
    )
    assert bad.status_code == 400
    assert b"does not compile" in bad.content
    ok = client.post(
        f"/nurture/{programme.pk}/steps/", {"kind": "wait", "wait_days": "7"}, follow=True
    )
    assert ok.status_code == 200
    assert programme.steps.get().describe() == "Wait 7 days"
    client.force_login(manager)
    page = client.get(f"/nurture/{programme.pk}/")
    assert page.status_code == 200
    assert b"Wait 7 days" in page.content


def test_a_step_with_sent_messages_cannot_be_removed(
    make_programme, to_nurture, tick, smtp_server, client, marketer
):
    programme = make_programme(["mql"])
    to_nurture()
    tick(T0 + dt.timedelta(minutes=1))
    step = Message.objects.get().step
    client.force_login(marketer)
    assert client.post(f"/nurture/{programme.pk}/steps/{step.pk}/remove/").status_code == 409
    unused = programme.steps.filter(kind=Step.Kind.WAIT).get()
    assert client.post(f"/nurture/{programme.pk}/steps/{unused.pk}/remove/").status_code == 302
    assert not Step.objects.filter(pk=unused.pk).exists()


def test_the_programme_list_shows_figures(
    make_programme, to_nurture, tick, smtp_server, client, manager
):
    make_programme(["mql"], name="Rejected MQLs programme")
    to_nurture()
    tick(T0 + dt.timedelta(minutes=1))
    client.force_login(manager)
    page = client.get("/nurture/").content.decode()
    assert "Rejected MQLs programme" in page
    assert "<td>1</td><td>1</td><td>0</td>" in page  # enrolled, sent, opened


def test_a_content_asset_is_added_by_a_marketer(client, marketer):
    client.force_login(marketer)
    response = client.post(
        "/content/",
        {
            "title": "FAQ",
            "kind": "faq",
            "url": "https://example.com/faq",
            "summary": "",
            "aida_stage": "interest",
        },
    )
    assert response.status_code == 302
    assert b"FAQ" in client.get("/content/").content
    assert client.post("/content/", {"title": ""}).status_code == 400


def test_a_leads_nurture_timeline_lists_messages(
    make_programme, to_nurture, tick, smtp_server, client, rep
):
    make_programme(["mql"])
    lead = to_nurture()
    tick(T0 + dt.timedelta(minutes=1))
    client.force_login(rep)
    page = client.get(f"/nurture/leads/{lead.pk}/").content.decode()
    assert "Enrolled in Programme for mql" in page
    assert "Sent: Hi Nadia" in page
    assert client.get("/nurture/leads/999999/").status_code == 404


# --- API ----------------------------------------------------------------------------------


def test_the_api_lists_programmes_with_steps_and_figures(make_programme, api, marketer, rep):
    programme = make_programme(["mql"])
    body = api(marketer).get("/api/nurture/programmes/").json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["id"] == programme.pk
    assert [step["kind"] for step in item["steps"]] == ["email", "audience", "wait", "email"]
    assert item["stats"]["enrolled"] == 0
    assert api(rep).get("/api/nurture/programmes/").status_code == 403
    assert api().get("/api/nurture/programmes/").status_code in (401, 403)


def test_the_api_creates_a_programme_with_steps(api, marketer, rep):
    payload = {
        "name": "Win-back",
        "exits": ["opportunity"],
        "reasons": ["lost_to_competitor"],
        "steps": [
            {"kind": "email", "subject": "Hi {{ lead.first_name }}", "body": "Hello"},
            {"kind": "wait", "wait_days": 14},
            {"kind": "audience", "audience": "Win-back"},
        ],
    }
    created = api(marketer).post("/api/nurture/programmes/", payload, format="json")
    assert created.status_code == 201, created.content
    assert [step["audience"] for step in created.json()["steps"]] == ["", "", "Win-back"]
    assert api(rep).post("/api/nurture/programmes/", payload, format="json").status_code == 403
    bad = api(marketer).post(
        "/api/nurture/programmes/", {**payload, "exits": ["customer"]}, format="json"
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    unknown = api(marketer).post(
        "/api/nurture/programmes/", {**payload, "reasons": ["nope"]}, format="json"
    )
    assert unknown.status_code == 400
    assert api(marketer).get("/api/nurture/programmes/999/").status_code == 404


def test_the_api_lists_enrollments_by_lead(make_programme, to_nurture, api, manager):
    make_programme(["mql"])
    lead, other = to_nurture(), to_nurture()
    body = api(manager).get("/api/nurture/enrollments/", {"lead": lead.pk}).json()
    assert [item["lead"] for item in body["results"]] == [lead.pk]
    assert body["results"][0]["status"] == "active"
    assert other.pk not in [item["lead"] for item in body["results"]]


def test_the_programme_list_takes_a_fixed_number_of_queries(
    make_programme, client, marketer, django_assert_max_num_queries
):
    for exit_stage in ("mql", "sal", "sql", "opportunity"):
        make_programme([exit_stage])
    client.force_login(marketer)
    client.get("/nurture/")  # warm the session and the role cache
    with django_assert_max_num_queries(10):
        assert client.get("/nurture/").status_code == 200
