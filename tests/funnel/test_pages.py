"""Server-rendered pages: who sees what, and the lead page's actions as plain forms."""

import re

import pytest

from funnel.models import Transition

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/leads/", "/leads/1/", "/dashboard/"])
def test_anonymous_is_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_login_page_names_its_controls(client):
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert ">Log in</button>" in html


def test_logging_in_lands_on_the_role_home(client, rep):
    response = client.post(
        "/accounts/login/", {"username": "rep", "password": "pw-for-tests-only-1"}, follow=True
    )
    html = response.content.decode()
    assert "Your leads" in html and "Work my MQLs" in html


def test_a_user_without_a_role_gets_403_pages(client, nobody):
    client.force_login(nobody)
    assert client.get("/").status_code == 403
    assert client.get("/leads/").status_code == 403


@pytest.mark.parametrize(
    ("role_user", "shows", "hides"),
    [
        ("rep", ["Queue", "My numbers"], ["Admin", "Campaigns", "Criteria"]),
        ("marketer", ["Leads", "Dashboard", "Campaigns", "Imports"], ["Queue", "Admin"]),
        ("manager", ["Queue", "Criteria", "Dashboard", "Nurture"], ["Admin"]),
        ("admin_user", ["Admin", "Dashboard"], []),
    ],
)
def test_the_navigation_follows_the_role(client, request, role_user, shows, hides):
    client.force_login(request.getfixturevalue(role_user))
    nav = client.get("/").content.decode().split('<nav aria-label="Main">')[1].split("</nav>")[0]
    for link in shows:
        assert f">{link}</a>" in nav
    for link in hides:
        assert f">{link}</a>" not in nav


def test_the_lead_list_searches_filters_and_pages(
    client, rep, make_lead, django_assert_max_num_queries
):
    for number in range(55):
        make_lead("mql", company=f"Acme {number}")
    make_lead("suspect", company="Globex")
    client.force_login(rep)
    with django_assert_max_num_queries(8):
        html = client.get("/leads/?stage=mql").content.decode()
    assert "55 leads" in html and "Page 1 of 2" in html and "Globex" not in html
    html = client.get("/leads/?q=globex").content.decode()
    assert "1 lead" in html and "Globex" in html
    html = client.get("/leads/?stage=mql&page=2").content.decode()
    assert "Page 2 of 2" in html


def test_a_bad_filter_on_the_list_says_so(client, rep):
    client.force_login(rep)
    response = client.get("/leads/?stage=won")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def _action_names(html):
    """The moves offered in the Actions card (the work card below has buttons of its own)."""
    actions = html.split('id="actions-title"')[1].split("</section>")[0]
    return {
        part.split(">")[1].split("<")[0].strip()
        for part in actions.split('<button type="submit" class="primary"')[1:]
    }


def test_a_rep_sees_accept_reject_junk_on_an_unassigned_mql(client, rep, make_lead):
    lead = make_lead("mql")
    client.force_login(rep)
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert _action_names(html) == {"Accept", "Reject", "Junk"}
    assert '<label for="id_reject_nurture_reason">Reason</label>' in html


def test_a_rep_sees_no_actions_on_a_colleagues_lead(client, rep, rep2, make_lead):
    lead = make_lead("mql", owner=rep2)
    client.force_login(rep)
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert _action_names(html) == set()
    assert "Owned by rep2 — only they or a manager can move this lead." in html
    assert "Nothing you can do" not in html


def test_a_marketer_sees_marketing_verbs_only(client, marketer, make_lead):
    client.force_login(marketer)
    suspect, mql = make_lead("suspect"), make_lead("mql")
    assert _action_names(client.get(f"/leads/{suspect.pk}/").content.decode()) == {"Engage", "Junk"}
    assert _action_names(client.get(f"/leads/{mql.pk}/").content.decode()) == set()


def test_a_missing_lead_is_404(client, rep):
    client.force_login(rep)
    assert client.get("/leads/424242/").status_code == 404


def test_accepting_from_the_page_moves_the_lead_and_shows_it(client, rep, make_lead):
    lead = make_lead("mql")
    client.force_login(rep)
    response = client.post(
        f"/leads/{lead.pk}/move/",
        {"to": "sal", "from_stage": "mql", "note": "good fit"},
        follow=True,
    )
    html = response.content.decode()
    assert "is now SAL" in html
    assert "<strong>accept</strong>" in html and "good fit" in html
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == ("sal", rep)


def test_rejecting_without_a_reason_keeps_the_lead_and_marks_the_field(client, rep, make_lead):
    lead = make_lead("mql")
    client.force_login(rep)
    response = client.post(f"/leads/{lead.pk}/move/", {"to": "nurture", "from_stage": "mql"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == "mql"


def test_a_stale_page_gets_409_and_says_what_changed(client, rep, rep2, make_lead):
    lead = make_lead("mql")
    client.force_login(rep)
    client.post(f"/leads/{lead.pk}/move/", {"to": "sal", "from_stage": "mql"})
    client.force_login(rep2)
    response = client.post(
        f"/leads/{lead.pk}/move/",
        {"to": "nurture", "from_stage": "mql", "reason": "no_budget"},
    )
    assert response.status_code == 409
    assert "it is in sal now (accept by rep" in response.content.decode()
    assert Transition.objects.filter(lead=lead, verb="reject").count() == 0


def test_posting_a_move_to_a_colleagues_lead_is_403(client, rep, rep2, make_lead):
    lead = make_lead("mql", owner=rep2)
    client.force_login(rep)
    response = client.post(f"/leads/{lead.pk}/move/", {"to": "sal", "from_stage": "mql"})
    assert response.status_code == 403
    assert "belongs to rep2" in response.content.decode()


def test_an_impossible_move_from_the_page_is_409(client, manager, make_lead):
    lead = make_lead("mql")
    client.force_login(manager)
    response = client.post(f"/leads/{lead.pk}/move/", {"to": "customer", "from_stage": "mql"})
    assert response.status_code == 409


def test_the_move_endpoint_needs_post_and_csrf(make_lead, rep):
    from django.test import Client

    lead = make_lead("mql")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(rep)
    assert strict.get(f"/leads/{lead.pk}/move/").status_code == 405
    assert (
        strict.post(f"/leads/{lead.pk}/move/", {"to": "sal", "from_stage": "mql"}).status_code
        == 403
    )
    lead.refresh_from_db()
    assert lead.stage == "mql"


def test_qualify_and_convert_forms_carry_their_fields(client, rep, make_lead):
    sal, sql = make_lead("sal", owner=rep), make_lead("sql", owner=rep)
    client.force_login(rep)
    html = client.get(f"/leads/{sal.pk}/").content.decode()
    for label in ("Budget", "Authority", "Need", "Timeline"):
        assert f">{label}</label>" in html
    html = client.get(f"/leads/{sql.pk}/").content.decode()
    for label in ("Amount", "Expected close", "Pipeline stage"):
        assert f">{label}</label>" in html


def test_the_dashboard_shows_the_same_numbers_as_the_api(
    client, api, manager, make_lead, committed
):
    make_lead("mql")
    make_lead("customer")
    client.force_login(manager)
    html = client.get("/dashboard/").content.decode()
    body = api(manager).get("/api/funnel/").json()
    for bucket in ("tofu", "mofu", "bofu", "won"):
        assert f'data-bucket="{bucket}">{body[bucket]}<' in html
    for stage, count in body["reached"].items():
        assert re.search(rf'data-reached="{stage}"[^>]*>{count}<', html), stage
