import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Segment
from campaigns.segments import conditions_clean, conditions_q
from campaigns.selectors import segment_leads, segment_preview
from campaigns.services import segment_save
from leads.models import Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_lead, rep):
    return {
        "anna": make_lead(
            "suspect",
            country="Germany",
            industry="Software",
            company_size=250,
            title="Head of Marketing",
            attributes={"plan": "Pro", "seats": "40"},
        ),
        "bert": make_lead(
            "mql",
            country="Austria",
            industry="Retail",
            company_size=20,
            attributes={"plan": "free", "seats": "n/a"},
        ),
        "cleo": make_lead(
            "nurture",
            owner=rep,
            country="germany",
            industry="Software services",
            company_size=None,
            attributes={"seats": "7"},
        ),
        "dirk": make_lead("suspect", country="France", industry="", do_not_email=True),
    }


def names(people, conditions, match="all") -> set[str]:
    found = set(segment_leads(conditions=conditions, match=match).values_list("pk", flat=True))
    return {name for name, lead in people.items() if lead.pk in found}


def c(field, operator, value=None):
    return {"field": field, "operator": operator, "value": value}


def test_it_matches_text_case_insensitively(people):
    assert names(people, [c("country", "equals", "GERMANY")]) == {"anna", "cleo"}
    assert names(people, [c("country", "in", "germany, austria")]) == {"anna", "bert", "cleo"}
    assert names(people, [c("industry", "contains", "soft")]) == {"anna", "cleo"}
    assert names(people, [c("industry", "present")]) == {"anna", "bert", "cleo"}


def test_it_compares_numbers_and_presence(people):
    assert names(people, [c("company_size", "at_least", "100")]) == {"anna"}
    assert names(people, [c("company_size", "at_most", 20)]) == {"bert"}
    assert names(people, [c("company_size", "present")]) == {"anna", "bert"}


def test_it_matches_stage_owner_and_flags(people, rep):
    assert names(people, [c("stage", "in", "suspect,nurture")]) == {"anna", "cleo", "dirk"}
    assert names(people, [c("owner", "equals", rep.username)]) == {"cleo"}
    assert names(people, [c("do_not_email", "equals", "yes")]) == {"dirk"}


def test_it_matches_attributes_as_text_and_as_numbers(people):
    assert names(people, [c("attributes.plan", "equals", "pro")]) == {"anna"}
    assert names(people, [c("attributes.plan", "in", ["PRO", "free"])]) == {"anna", "bert"}
    assert names(people, [c("attributes.plan", "present")]) == {"anna", "bert"}
    # "n/a" is not a number: it neither matches nor breaks the query.
    assert names(people, [c("attributes.seats", "at_least", "10")]) == {"anna"}
    assert names(people, [c("attributes.seats", "at_most", "10")]) == {"cleo"}


def test_it_combines_with_all_or_any(people):
    conditions = [c("country", "equals", "germany"), c("company_size", "at_least", 100)]
    assert names(people, conditions, "all") == {"anna"}
    assert names(people, conditions, "any") == {"anna", "cleo"}
    assert names(people, []) == set(people)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (c("colour", "equals", "red"), "'colour' is not a lead field"),
        (c("country", "resembles", "x"), "'resembles' is not an operator"),
        (c("country", "at_least", "x"), "country cannot use at_least"),
        (c("company_size", "at_least", "lots"), "'lots' is not a number"),
        (c("stage", "equals", "hot"), "'hot' is not a stage"),
        (c("country", "equals", ""), "give a value"),
        (c("attributes.a\nb", "equals", "x"), "is not a lead field"),
        (c("created_at", "at_least", "yesterday"), "is not a date"),
        ("country = DE", "expected an object"),
    ],
)
def test_it_refuses_a_bad_condition_with_a_validation_error(condition, message):
    with pytest.raises(ValidationError, match=message):
        conditions_clean([condition])


def test_stored_conditions_are_validated_again_before_querying():
    with pytest.raises(ValidationError):
        conditions_q([c("password", "equals", "x")])


def test_it_counts_and_samples_in_few_queries(people, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        preview = segment_preview(conditions=[c("country", "equals", "germany")])
    assert preview["count"] == 2
    assert {lead.pk for lead in preview["sample"]} == {people["anna"].pk, people["cleo"].pk}


@pytest.mark.postgres
def test_it_runs_as_one_sql_count_on_postgresql(people):
    conditions = [
        c("country", "in", ["Germany", "Austria"]),
        c("company_size", "at_least", 10),
        c("attributes.seats", "at_least", 5),
    ]
    with CaptureQueriesContext(connection) as queries:
        count = segment_leads(conditions=conditions).count()
    assert count == 1  # anna; bert's "n/a" seats are skipped, cleo has no size
    assert len(queries) == 1
    sql = queries[0]["sql"]
    assert sql.startswith("SELECT COUNT(*)")
    assert """UPPER("leads_lead"."country") IN (UPPER('Germany'), UPPER('Austria'))""" in sql
    assert '"leads_lead"."company_size" >= 10' in sql
    assert "::double precision" in sql and "~" in sql  # numeric only where it is a number


@pytest.mark.postgres
def test_it_survives_hostile_values_on_postgresql(people):
    conditions = [
        c("company", "contains", "%_'; drop table leads_lead; --"),
        c("attributes.it's", "equals", "x'y"),
    ]
    assert segment_leads(conditions=conditions, match="any").count() == 0
    assert Lead.objects.count() == 4


def test_segment_save_stores_the_normal_form(marketer):
    segment = segment_save(
        name="DACH software",
        conditions=[c("country", "in", "Germany, Austria ,"), c("company_size", "at_least", "50")],
        actor=marketer,
    )
    segment.refresh_from_db()
    assert segment.slug == "dach-software"
    assert segment.conditions == [
        c("country", "in", ["Germany", "Austria"]),
        c("company_size", "at_least", 50),
    ]
    again = segment_save(name="DACH software", conditions=[], actor=marketer)
    assert again.slug == "dach-software-2"


# --- pages ----------------------------------------------------------------------------------


def segment_post(**rows):
    data = {"name": "Big in Germany", "description": "", "match": "all", "rows": "3"}
    data.update(rows)
    return data


def test_a_marketer_creates_a_segment_with_the_plain_form(client, marketer, people):
    client.force_login(marketer)
    data = segment_post(field_0="country", operator_0="equals", value_0="Germany", action="preview")
    response = client.post("/segments/new/", data)
    assert response.status_code == 200
    assert 'data-count="2"' in response.content.decode()
    assert not Segment.objects.exists()
    data["action"] = "save"
    response = client.post("/segments/new/", data)
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.conditions == [c("country", "equals", "Germany")]
    page = client.get(response["Location"])
    assert 'data-count="2"' in page.content.decode()


def test_the_live_preview_answers_a_fragment(client, marketer, people):
    client.force_login(marketer)
    response = client.post(
        "/segments/preview/",
        segment_post(field_0="industry", operator_0="contains", value_0="soft"),
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-count="2"' in body and "<html" not in body


def test_a_bad_condition_on_the_page_is_a_400_not_a_500(client, marketer):
    client.force_login(marketer)
    response = client.post(
        "/segments/new/",
        segment_post(field_0="colour", operator_0="equals", value_0="red", action="save"),
    )
    assert response.status_code == 400
    assert "is not a lead field" in response.content.decode()
    response = client.post(
        "/segments/preview/", segment_post(field_0="country", operator_0="bogus", value_0="x")
    )
    assert response.status_code == 200
    assert "&#x27;bogus&#x27; is not an operator" in response.content.decode()
    assert not Segment.objects.exists()


def test_a_rep_may_not_see_or_change_segments(client, rep, marketer):
    segment = segment_save(name="All", conditions=[], actor=marketer)
    client.force_login(rep)
    assert client.get("/segments/").status_code == 403
    assert client.get(f"/segments/{segment.slug}/").status_code == 403
    assert client.post("/segments/new/", segment_post(action="save")).status_code == 403
    assert client.post("/segments/preview/", segment_post()).status_code == 403


def test_a_manager_reads_segments(client, manager, marketer):
    segment = segment_save(name="All", conditions=[], actor=marketer)
    client.force_login(manager)
    assert client.get("/segments/").status_code == 200
    assert client.get(f"/segments/{segment.slug}/").status_code == 200
    assert client.get("/segments/unknown/").status_code == 404
