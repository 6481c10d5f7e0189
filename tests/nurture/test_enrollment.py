import datetime as dt
import os

import pytest

from campaigns.nurture.models import AudienceMember, Enrollment, Message, Programme
from tests.conftest import move

from .conftest import T0, header_url, parse

pytestmark = pytest.mark.django_db

EXIT_REASONS = {
    "mql": "no_budget",
    "sal": "no_budget",
    "sql": "no_budget",
    "opportunity": "lost_to_competitor",
}


@pytest.mark.parametrize("exit_stage", ["mql", "sal", "sql", "opportunity"])
def test_it_enrolls_a_lead_on_each_exit(exit_stage, make_programme, to_nurture):
    programmes = {stage: make_programme([stage]) for stage in EXIT_REASONS}
    lead = to_nurture(exit_stage)
    enrollment = Enrollment.objects.get(lead=lead)
    assert enrollment.programme == programmes[exit_stage]
    assert (enrollment.status, enrollment.from_stage) == ("active", exit_stage)
    assert enrollment.reason == EXIT_REASONS[exit_stage]
    assert enrollment.next_due_at == T0  # the first step is due on the first tick


def test_it_enrolls_in_the_first_programme_whose_reason_matches(make_programme, to_nurture):
    budget_only = make_programme(["mql"], reasons=["no_budget"], priority=1, name="Budget")
    anything = make_programme(["mql"], priority=2, name="Anything")
    assert Enrollment.objects.get(lead=to_nurture(reason="no_budget")).programme == budget_only
    assert Enrollment.objects.get(lead=to_nurture(reason="not_ready_yet")).programme == anything


def test_it_enrolls_nobody_when_no_programme_matches(make_programme, to_nurture):
    make_programme(["opportunity"])
    lead = to_nurture("mql")
    assert not Enrollment.objects.filter(lead=lead).exists()


def test_it_ends_the_enrollment_on_recycle_and_on_junk(
    make_programme, to_nurture, marketer, django_capture_on_commit_callbacks
):
    make_programme(["mql"])
    recycled, junked = to_nurture(), to_nurture()
    with django_capture_on_commit_callbacks(execute=True):
        move(recycled, "mql", marketer)
        move(junked, "junk", marketer, reason="spam")
    assert Enrollment.objects.get(lead=recycled).status == "recycled"
    assert Enrollment.objects.get(lead=junked).status == "junked"
    assert Enrollment.objects.get(lead=junked).next_due_at is None


def test_it_sends_each_step_on_schedule_by_a_controlled_clock(
    make_programme, to_nurture, tick, smtp_server, settings
):
    settings.SITE_URL = "https://handoff.example.com"
    make_programme(["mql"])
    lead = to_nurture(first_name="Nadia", company="Globex")

    assert tick(T0 + dt.timedelta(minutes=1)) == 1
    assert AudienceMember.objects.filter(lead=lead, audience__name="Warm leads").exists()
    assert tick(T0 + dt.timedelta(days=2)) == 0  # waiting three days from the first e-mail
    assert tick(T0 + dt.timedelta(days=3, minutes=1)) == 1
    assert tick(T0 + dt.timedelta(days=30)) == 0  # the programme has ended

    assert len(smtp_server.messages) == 2
    enrollment = Enrollment.objects.get(lead=lead)
    assert enrollment.status == "completed"
    first = parse(smtp_server.messages[0][2])
    assert first["Subject"] == "Hi Nadia"
    assert first.get_content_type() == "multipart/alternative"
    text = first.get_body(("plain",)).get_content()
    html = first.get_body(("html",)).get_content()
    assert "Hello Nadia at Globex." in text
    assert "Hello Nadia at Globex." in html
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert header_url(first).startswith("https://handoff.example.com/n/u/")
    assert 'src="https://handoff.example.com/n/o/' in html
    assert list(Message.objects.filter(lead=lead).values_list("status", flat=True)) == [
        "sent",
        "sent",
    ]


def test_it_never_emails_a_do_not_email_lead(make_programme, to_nurture, tick, smtp_server):
    make_programme(["mql"])
    lead = to_nurture(do_not_email=True)
    assert tick(T0 + dt.timedelta(minutes=1)) == 0
    assert smtp_server.messages == []
    assert Message.objects.get(lead=lead).status == "suppressed"


def test_it_features_an_asset_that_fits_the_journey_stage(
    make_programme, to_nurture, tick, smtp_server
):
    from campaigns.nurture.models import ContentAsset

    ContentAsset.objects.create(
        title="Awareness piece", kind="blog_post", url="https://x.example/a", aida_stage="awareness"
    )
    ContentAsset.objects.create(
        title="Case for the desire stage",
        kind="case_study",
        url="https://x.example/d",
        aida_stage="desire",
    )
    make_programme(["opportunity"])
    to_nurture("opportunity")
    tick(T0 + dt.timedelta(minutes=1))
    text = parse(smtp_server.messages[0][2]).get_body(("plain",)).get_content()
    assert "Case for the desire stage" in text
    assert "Awareness piece" not in text


def test_a_paused_programme_sends_nothing(make_programme, to_nurture, tick, smtp_server):
    programme = make_programme(["mql"])
    to_nurture()
    programme.is_active = False
    programme.save()
    assert tick(T0 + dt.timedelta(minutes=1)) == 0
    programme.is_active = True
    programme.save()
    assert tick(T0 + dt.timedelta(minutes=2)) == 1


def test_the_demo_programmes_catch_every_exit_and_mail_on_the_first_tick(
    to_nurture, tick, smtp_server
):
    from django.core.management import call_command

    call_command("seed_nurture", stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("seed_nurture", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert Programme.objects.count() == 4
    leads = [to_nurture(stage) for stage in EXIT_REASONS]
    assert Enrollment.objects.filter(lead__in=leads).values("programme").distinct().count() == 4
    assert tick(T0 + dt.timedelta(minutes=1)) == 4
    assert len(smtp_server.messages) == 4
