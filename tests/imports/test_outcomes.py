"""History with outcomes: the story of each row (forward rows, then win, lose or disqualify
with its reason, at the file's dates), its deal and owner, the uploader's authority, and
that the past does not fire. Every test runs through both engines (the PostgreSQL one and
the ORM one) and asserts the same rows."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.imports import engine as engine_module
from campaigns.imports.engine.orm import run_orm
from campaigns.nurture.models import Enrollment
from funnel.models import Opportunity, SlaBreach, WorkspaceSettings
from funnel.services import lead_create
from funnel.sla import sla_breaches_find
from leads.models import Lead

from .conftest import errors_of, import_csv, run

pytestmark = pytest.mark.django_db


def day(text: str) -> dt.datetime:
    from django.utils import timezone

    return timezone.make_aware(dt.datetime.fromisoformat(text))


@pytest.fixture(params=["native", "orm"])
def engine(request, monkeypatch):
    """The engine `make run` picks for the database (PostgreSQL's set-wise merge, or the ORM
    on SQLite), and the ORM twin on the same database."""
    from django.db import connection

    if request.param == "orm" and connection.vendor != "postgresql":
        pytest.skip("on SQLite the native engine is the ORM one")
    if request.param == "orm":
        monkeypatch.setattr(engine_module, "run_postgresql", run_orm)
    return request.param


def story(lead: Lead) -> list[tuple]:
    return [
        (t.from_stage, t.to_stage, t.verb, t.at, t.reason.code if t.reason_id else "")
        for t in lead.transitions.select_related("reason").order_by("at", "id")
    ]


MAVEN = (
    "opportunity_id,sales_agent,account,deal_stage,engage_date,close_date,close_value\n"
    "O1,Anna Reppe,Acme,Won,2017-01-01,2017-01-15,1054.00\n"
    "O2,Nobody Known,Beta,Lost,2017-02-01,2017-03-01,0\n"
    "O3,rep,Gamma,Engaging,2017-03-01,,\n"
    "O4,,Delta,Prospecting,,,\n"
)


def test_it_tells_won_lost_and_open_deals_with_their_dates_and_owners(engine, manager, rep):
    rep.first_name, rep.last_name = "Anna", "Reppe"
    rep.save()
    job = import_csv(
        MAVEN, user=manager, dayfirst=False, owner_choices={"Nobody Known": ""}, name="maven.csv"
    )
    assert (job.created, job.failed) == (4, 0), errors_of(job)
    actor = f"manager, import #{job.pk} (maven.csv)"
    won, lost, engaging, prospecting = (Lead.objects.get(external_id=f"O{n}") for n in range(1, 5))
    assert story(won) == [
        ("", "opportunity", "import", day("2017-01-01"), ""),
        ("opportunity", "customer", "win", day("2017-01-15"), ""),
    ]
    assert story(lost) == [
        ("", "opportunity", "import", day("2017-02-01"), ""),
        ("opportunity", "nurture", "lose", day("2017-03-01"), ""),
    ]
    assert story(engaging) == [("", "opportunity", "import", day("2017-03-01"), "")]
    assert story(prospecting) == [("", "opportunity", "import", job.started_at, "")]
    assert set(won.transitions.values_list("system_actor", flat=True)) == {actor}
    assert (won.stage, won.stage_changed_at) == ("customer", day("2017-01-15"))
    assert (lost.stage, lost.stage_changed_at) == ("nurture", day("2017-03-01"))

    deals = {d.lead.external_id: d for d in Opportunity.objects.select_related("lead", "owner")}
    assert {k: (d.status, d.amount, d.owner) for k, d in deals.items()} == {
        "O1": ("won", Decimal("1054.00"), rep),  # matched by full name
        "O2": ("lost", Decimal("0.00"), None),  # the uploader chose: unassigned
        "O3": ("open", Decimal("0.00"), rep),  # matched by username
        "O4": ("open", Decimal("0.00"), None),
    }
    assert deals["O1"].closed_at == day("2017-01-15")
    assert deals["O2"].closed_at == day("2017-03-01")
    assert deals["O3"].closed_at is None
    assert deals["O1"].created_at == day("2017-01-01")
    # Prospecting is Salesforce's first stage: the deal sits in discovery.
    assert deals["O4"].pipeline_stage.slug == "discovery"


def test_an_outcome_object_writes_the_forward_rows_then_the_reasoned_end(engine, manager):
    ann = lead_create(system_actor="test", fields={"email": "ann@example.com"}, stage="mql")
    job = import_csv(
        "Email,Status,Closed\nann@example.com,Disq,2024-05-02\nbo@example.com,Gone,2024-05-03\n",
        user=manager,
        mapping={"email": "Email", "stage": "Status", "stage_at": "Closed"},
        stage_values={
            "Disq": {"stage": "nurture", "reached": "sql", "reason": "no_budget"},
            "Gone": {"stage": "nurture", "reached": "opportunity", "reason": "price"},
        },
    )
    assert (job.created, job.updated, job.failed) == (1, 1, 0), errors_of(job)
    ann.refresh_from_db()
    assert [(f, t, v, r) for f, t, v, _, r in story(ann)] == [
        ("", "mql", "create", ""),
        ("mql", "sql", "import", ""),
        ("sql", "nurture", "disqualify", "no_budget"),
    ]
    assert ann.stage == "nurture" and not ann.opportunities.exists()
    bo = Lead.objects.get(email="bo@example.com")
    assert [(f, t, v, r) for f, t, v, _, r in story(bo)] == [
        ("", "opportunity", "import", ""),
        ("opportunity", "nurture", "lose", "price"),
    ]
    assert bo.opportunities.get().status == "lost"


def test_a_marketers_sales_stage_rows_on_existing_leads_are_row_errors(engine, marketer):
    lead_create(system_actor="test", fields={"email": "old@example.com"}, stage="mql")
    lead_create(system_actor="test", fields={"email": "cold@example.com"})
    job = import_csv(
        "Email,Stage\nold@example.com,customer\ncold@example.com,mql\nnew@example.com,customer\n",
        user=marketer,
    )
    assert (job.created, job.updated, job.failed) == (1, 1, 1)
    [(line, _column, message)] = errors_of(job)
    assert line == 2
    assert message.startswith("This row would move an existing lead from mql to customer;")
    assert "marketer moves existing leads up to MQL only" in message
    assert Lead.objects.get(email="old@example.com").stage == "mql"
    assert Lead.objects.get(email="cold@example.com").stage == "mql"
    # A lead the import creates gets its whole history, deal included.
    new = Lead.objects.get(email="new@example.com")
    assert (new.stage, new.opportunities.get().status) == ("customer", "won")
    assert new.transitions.get().system_actor == f"marketer, import #{job.pk} (leads.csv)"


def test_the_past_does_not_fire(engine, marketer, rep, manager, smtp_server):
    from campaigns.nurture.services import enrollments_reconcile, programme_create

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 1})
    programme_create(name="Lost deals", exits=["opportunity", "mql"], reasons=[])
    recent = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    job = import_csv(
        "Email,Stage,Stage Date\n"
        "a@example.com,mql,2017-01-01\n"
        "b@example.com,mql,2017-02-01\n"
        "c@example.com,Lost,2017-03-01\n"
        f"d@example.com,Lost,{recent}\n",
        user=marketer,
    )
    assert (job.created, job.failed) == (4, 0), errors_of(job)
    # A recent loss is history too: the nurture reconciler leaves it.
    assert enrollments_reconcile(now=dt.datetime.now(dt.UTC), grace=dt.timedelta(0)) == 0
    # Years past the SLA, yet no breach.
    assert Lead.objects.get(email="a@example.com").stage_changed_at == day("2017-01-01")
    assert sla_breaches_find() == []
    assert SlaBreach.objects.count() == 0
    assert smtp_server.messages == [] and mail.outbox == []
    assert Enrollment.objects.count() == 0
    assert not Lead.objects.filter(owner__isnull=False).exists()


def test_it_hands_the_open_mqls_round_robin_when_asked(engine, marketer, rep, rep2):
    job = import_csv(
        "Email,Stage\na@example.com,mql\nb@example.com,mql\nc@example.com,suspect\n",
        user=marketer,
        assign_open_mqls=True,
    )
    assert job.created == 3
    owners = dict(Lead.objects.values_list("email", "owner__username"))
    assert owners == {"a@example.com": "rep", "b@example.com": "rep2", "c@example.com": None}
    assert sla_breaches_find() == []


def test_the_api_takes_outcomes_owners_and_assignment(api, manager, rep):
    content = b"Id,Stage,Agent,Value\nX1,Closed Lost,rep,10\nX2,Won,Zed,20\n"
    response = api(manager).post(
        "/api/imports/",
        {
            "file": SimpleUploadedFile("deals.csv", content, content_type="text/csv"),
            "mapping": json.dumps(
                {"external_id": "Id", "stage": "Stage", "deal_owner": "Agent", "amount": "Value"}
            ),
            "stage_values": json.dumps(
                {"Closed Lost": {"stage": "nurture", "reached": "opportunity", "reason": "price"}}
            ),
            "deal_owners": json.dumps({"Zed": "rep"}),
            "assign_open_mqls": "true",
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    assert response.json()["assign_open_mqls"] is True
    from campaigns.imports.models import ImportJob

    run(ImportJob.objects.get(pk=response.json()["id"]))
    deals = dict(Opportunity.objects.values_list("lead__external_id", "status"))
    assert deals == {"X1": "lost", "X2": "won"}
    assert set(Opportunity.objects.values_list("owner__username", flat=True)) == {"rep"}


def test_the_api_refuses_an_outcome_it_cannot_write(api, manager):
    response = api(manager).post(
        "/api/imports/",
        {
            "file": SimpleUploadedFile("d.csv", b"Id,Stage\nX,Lost\n", content_type="text/csv"),
            "stage_values": json.dumps({"Lost": {"stage": "sql", "reached": "opportunity"}}),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert (
        "Only an outcome (nurture or junk) names the stage it reached"
        in (response.json()["detail"])
    )


def test_the_lead_api_and_the_pipeline_show_the_imported_deals(
    engine, api, manager, rep, django_capture_on_commit_callbacks
):
    from funnel.pipeline import pipeline_board

    with django_capture_on_commit_callbacks(execute=True):
        job = import_csv(MAVEN, user=manager, dayfirst=False, owner_choices={"Nobody Known": "rep"})
    assert job.failed == 0
    won = Lead.objects.get(external_id="O1")
    body = api(manager).get(f"/api/leads/{won.pk}/").json()
    assert body["deal"] == {
        "amount": "1054.00",
        "owner": None,  # "Anna Reppe" matches nobody here, and was not chosen
        "pipeline_stage": "discovery",
        "expected_close": "2017-01-15",
        "closed_at": body["deal"]["closed_at"],
        "status": "won",
    }
    assert body["deal"]["closed_at"].startswith("2017-01-15")
    lost = Lead.objects.get(external_id="O2")
    assert api(manager).get(f"/api/leads/{lost.pk}/").json()["deal"]["owner"] == "rep"
    # The lead page shows the deal too.
    from django.test import Client

    browser = Client()
    browser.force_login(manager)
    text = browser.get(f"/leads/{lost.pk}/").content.decode()
    assert 'data-deal-status="lost"' in text and "Lost on 2017-03-01" in text
    fresh = lead_create(system_actor="test", fields={"email": "x@example.com"})
    assert api(manager).get(f"/api/leads/{fresh.pk}/").json()["deal"] is None
    # The pipeline and the funnel agree: every lead in opportunity has its open deal there.
    board = pipeline_board(manager)
    assert sum(column.count for column in board) == 2
    assert Lead.objects.filter(stage="opportunity").count() == 2
    page = api(manager).get("/api/funnel/").json()
    assert page["stages"]["opportunity"] == 2
    assert page["reached"]["opportunity"] == 4 and page["reached"]["customer"] == 1


def test_imported_won_revenue_shows_on_the_campaign_scoreboard(
    engine, manager, campaign, django_capture_on_commit_callbacks
):
    from reporting.selectors import funnel_scope, scoreboard

    with django_capture_on_commit_callbacks(execute=True):
        job = import_csv(MAVEN, user=manager, dayfirst=False, campaign=campaign)
    assert job.failed == 0
    [row] = [r for r in scoreboard(funnel_scope(user=manager)) if r["won_amount"]]
    assert row["won_amount"] == Decimal("1054.00")


def test_the_dashboard_counts_no_breach_for_imported_mqls(
    engine, marketer, manager, django_capture_on_commit_callbacks
):
    from reporting.selectors import dashboard_numbers, funnel_scope

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 24})
    with django_capture_on_commit_callbacks(execute=True):
        import_csv(
            "Email,Stage,Stage Date\na@example.com,mql,2017-01-01\nb@example.com,mql,2017-02-01\n",
            user=marketer,
        )
        # A live MQL waiting since 2020: a breach.
        lead_create(
            system_actor="test",
            fields={"email": "live@example.com"},
            stage="mql",
            at=day("2020-01-01"),
        )
    handoff = dashboard_numbers(funnel_scope(user=manager))["handoff"]
    assert (handoff["waiting"], handoff["breaches"]) == (3, 1)


def test_it_enrols_the_historic_losses_when_asked(engine, marketer):
    from campaigns.nurture.services import programme_create

    lost_deals = programme_create(name="Lost deals", exits=["opportunity"], reasons=["price"])
    job = import_csv(
        "Email,Stage\na@example.com,Gone\nb@example.com,Cold\nc@example.com,mql\n",
        user=marketer,
        stage_values={
            "Gone": {"stage": "nurture", "reached": "opportunity", "reason": "price"},
            "Cold": {"stage": "nurture", "reached": "mql", "reason": "no_budget"},
        },
        enrol_nurture=True,
    )
    assert (job.created, job.failed) == (3, 0), errors_of(job)
    # The lost deal matches the programme; the rejected MQL matches none.
    [enrollment] = Enrollment.objects.all()
    assert (enrollment.lead.email, enrollment.programme) == ("a@example.com", lost_deals)
    assert (enrollment.from_stage, enrollment.reason) == ("opportunity", "price")


def test_dates_per_stage_give_a_forward_row_each(engine, manager):
    job = import_csv(
        "Email,Lifecycle Stage,Create Date,Became a Marketing Qualified Lead Date,"
        "Became a Sales Qualified Lead Date,Became a Customer Date\n"
        "a@example.com,customer,2024-01-01,2024-01-05,2024-01-20,2024-02-01\n"
        "b@example.com,marketingqualifiedlead,2024-01-02,2024-01-09,,\n"
        "c@example.com,Lost,2024-01-03,2024-01-04,2024-01-10,2024-03-01\n",
        user=manager,
        mapping={
            "email": "Email",
            "stage": "Lifecycle Stage",
            "created_at": "Create Date",
            "mql_at": "Became a Marketing Qualified Lead Date",
            "sql_at": "Became a Sales Qualified Lead Date",
            "stage_at": "Became a Customer Date",
        },
    )
    assert (job.created, job.failed) == (3, 0), errors_of(job)
    a, b, c = (Lead.objects.get(email=f"{x}@example.com") for x in "abc")
    assert [(f, t, v, at) for f, t, v, at, _ in story(a)] == [
        ("", "suspect", "import", day("2024-01-01")),
        ("suspect", "mql", "import", day("2024-01-05")),
        ("mql", "sql", "import", day("2024-01-20")),
        ("sql", "customer", "import", day("2024-02-01")),
    ]
    assert [(f, t, at) for f, t, _, at, _ in story(b)] == [
        ("", "suspect", day("2024-01-02")),
        ("suspect", "mql", day("2024-01-09")),
    ]
    # Lost after opportunity: through MQL and SQL at their dates, into opportunity no
    # earlier than the last date known, lost at the file's date.
    assert [(f, t, v, at) for f, t, v, at, _ in story(c)] == [
        ("", "suspect", "import", day("2024-01-03")),
        ("suspect", "mql", "import", day("2024-01-04")),
        ("mql", "sql", "import", day("2024-01-10")),
        ("sql", "opportunity", "import", day("2024-01-10")),
        ("opportunity", "nurture", "lose", day("2024-03-01")),
    ]
    assert (b.stage_changed_at, a.opportunities.get().status) == (day("2024-01-09"), "won")


def test_a_marketers_skip_import_leaves_existing_leads_without_errors(engine, marketer):
    lead_create(system_actor="test", fields={"email": "old@example.com"}, stage="mql")
    job = import_csv("Email,Stage\nold@example.com,customer\n", user=marketer, on_duplicate="skip")
    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 1, 0)
    assert Lead.objects.get(email="old@example.com").stage == "mql"
