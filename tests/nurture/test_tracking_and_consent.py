import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.test import Client

from campaigns.models import EngagementEvent
from campaigns.nurture.models import ConsentRecord, ContentAsset, Enrollment, TrackingEvent
from funnel.models import Transition
from leads.models import Lead

from .conftest import T0, header_url, parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(make_programme, to_nurture, tick, smtp_server):
    """A nurtured lead who has received the first e-mail, featuring an asset."""
    ContentAsset.objects.create(
        title="Buyer's guide",
        kind="brochure",
        url="https://example.com/guide",
        aida_stage="interest",
    )
    make_programme(["mql"])
    lead = to_nurture()
    tick(T0 + dt.timedelta(minutes=1))
    message = parse(smtp_server.messages[-1][2])
    html = message.get_body(("html",)).get_content()
    links = {
        "open": _between(html, 'src="', '"'),
        "click": _between(html, '<a href="', '"'),
        "unsubscribe": header_url(message),
    }
    return lead, {name: urlsplit(url).path for name, url in links.items()}


def _between(text, start, end):
    return text.split(start, 1)[1].split(end, 1)[0]


def test_it_records_an_open_and_a_click_and_redirects_to_the_asset(sent, client):
    lead, links = sent
    opened = client.get(links["open"])
    assert (opened.status_code, opened["Content-Type"]) == (200, "image/gif")
    clicked = client.get(links["click"])
    assert (clicked.status_code, clicked["Location"]) == (302, "https://example.com/guide")
    assert sorted(TrackingEvent.objects.values_list("kind", flat=True)) == ["click", "open"]
    assert sorted(EngagementEvent.objects.filter(lead=lead).values_list("kind", flat=True)) == [
        "email_opened",
        "link_clicked",
    ]


def test_it_counts_a_repeated_open_once_as_engagement(sent, client):
    lead, links = sent
    client.get(links["open"])
    client.get(links["open"])
    assert TrackingEvent.objects.filter(kind="open").count() == 2
    assert EngagementEvent.objects.filter(lead=lead).count() == 1


@pytest.mark.parametrize("which", ["open", "click", "unsubscribe"])
def test_it_answers_404_and_records_nothing_for_a_tampered_link(sent, client, which):
    lead, links = sent
    path = links[which]
    token = path.rstrip("/").rsplit("/", 1)[1]
    payload, stamp, signature = token.rsplit(":", 2)
    forged = f"{payload}x:{stamp}:{signature}"
    for method in ("get", "post"):
        response = getattr(client, method)(path.replace(token, forged))
        assert response.status_code in (404, 405)
    assert client.get(path.replace(token, token[:-1])).status_code == 404
    assert not TrackingEvent.objects.exists()
    assert not EngagementEvent.objects.exists()
    assert not ConsentRecord.objects.exists()
    assert Lead.objects.get(pk=lead.pk).do_not_email is False


def test_crossing_the_threshold_recycles_the_lead_into_the_sales_queue(
    sent, client, settings, api, rep, django_capture_on_commit_callbacks
):
    settings.HANDOFF_MQL_THRESHOLD = 25  # an open (5) and a click (20)
    lead, links = sent
    with django_capture_on_commit_callbacks(execute=True):
        client.get(links["open"])
        client.get(links["click"])
    lead.refresh_from_db()
    assert (lead.stage, lead.score) == ("mql", 25)
    row = Transition.objects.filter(lead=lead).last()
    assert row.verb == "recycle"
    assert row.actor_label.startswith("system: score 25")
    assert Enrollment.objects.get(lead=lead).status == "recycled"
    # Back in the sales queue: round robin gives it to the only active rep.
    queue = api(rep).get("/api/leads/", {"stage": "mql", "owner": "me"}).json()
    assert lead.pk in [item["id"] for item in queue["results"]]


def test_one_click_unsubscribe_works_without_cookies_and_stops_everything(
    sent, tick, smtp_server, make_programme, manager, django_capture_on_commit_callbacks
):
    from tests.conftest import move

    lead, links = sent
    mail_client = Client(enforce_csrf_checks=True)  # no session, no CSRF cookie
    response = mail_client.post(links["unsubscribe"], {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    record = ConsentRecord.objects.get(lead=lead)
    assert (record.action, record.how) == ("unsubscribed", "one_click")
    assert record.message is not None
    assert Lead.objects.get(pk=lead.pk).do_not_email is True
    assert Enrollment.objects.get(lead=lead).status == "unsubscribed"

    received = len(smtp_server.messages)
    assert tick(T0 + dt.timedelta(days=10)) == 0
    # Back to sales and out again, into another programme: still nothing.
    make_programme(["sal"], name="SAL programme")
    with django_capture_on_commit_callbacks(execute=True):
        move(lead, "mql", manager)
        move(lead, "sal", manager)
        move(lead, "nurture", manager)
    assert tick(T0 + dt.timedelta(days=20)) == 0
    assert len(smtp_server.messages) == received
    assert Enrollment.objects.filter(lead=lead, status="active").count() == 1
    # A second POST is harmless and records nothing new.
    assert (
        mail_client.post(links["unsubscribe"], {"List-Unsubscribe": "One-Click"}).status_code == 200
    )
    assert ConsentRecord.objects.filter(lead=lead).count() == 1


def test_the_visible_link_asks_before_it_unsubscribes(sent):
    lead, links = sent
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(links["unsubscribe"])
    assert page.status_code == 200
    assert b"Unsubscribe</button>" in page.content
    assert not ConsentRecord.objects.exists()  # a GET (or a link scanner) changes nothing
    done = browser.post(links["unsubscribe"])
    assert done.status_code == 200
    assert b"You are unsubscribed" in done.content
    assert ConsentRecord.objects.get(lead=lead).how == "link"
