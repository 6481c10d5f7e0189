"""The two import engines give one result. `make run` (SQLite) uses the ORM engine, a
PostgreSQL install the COPY + merge engine; here the ORM engine also runs on PostgreSQL, so
one database checks both against the same expectations."""

import pytest

from campaigns.imports import engine
from campaigns.imports.engine.orm import run_orm
from leads.models import Lead

from .conftest import counts, import_csv

pytestmark = pytest.mark.django_db

ENGINES = [
    pytest.param("native", id="native"),
    pytest.param("orm", id="orm-on-postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=ENGINES)
def engine_name(request, monkeypatch):
    if request.param == "orm":
        monkeypatch.setattr(engine, "run_postgresql", run_orm)
    return request.param


REPEATED = (
    "Email,First Name,Shirt Size,Webinar\n"
    "ann@example.com,Ann,M,\n"
    "ANN@example.com ,,,Spring\n"
    "ann@example.com,Anna,L,\n"
    "bob@example.com,Bob,,\n"
)


@pytest.mark.parametrize("batch", [1, 1000], ids=["row-batches", "one-batch"])
def test_it_merges_the_attributes_of_repeated_rows_key_by_key(engine_name, batch, settings):
    # One person on three rows of one export: each lead field keeps its last non-blank value,
    # and the attributes keep every key any row gave, the later row winning per key; the
    # same as three files imported one after the other would give, whatever the batches.
    settings.HANDOFF_IMPORT_BATCH_ROWS = batch

    job = import_csv(REPEATED)

    assert job.status == "done"
    ann = Lead.objects.get(email="ann@example.com")
    assert ann.first_name == "Anna"
    assert ann.attributes == {"Shirt Size": "L", "Webinar": "Spring"}
    assert Lead.objects.get(email="bob@example.com").attributes == {}
    assert (job.created, job.failed) == (2, 0)
    assert job.processed == 4


def test_it_gives_the_same_counts_as_separate_files_would_give_the_same_lead(engine_name):
    import_csv("Email,Shirt Size\nann@example.com,M\n")
    job = import_csv("Email,Webinar\nann@example.com,Spring\nann@example.com,\n")

    assert counts(job)[:2] == (0, 1)
    assert Lead.objects.get().attributes == {"Shirt Size": "M", "Webinar": "Spring"}
