"""An import records opt-outs but never gives consent back: a "no" in a do-not-email column
leaves a lead that unsubscribed unsubscribed, on both engines (PostgreSQL's COPY and merge,
the ORM's batches that `make run` uses on SQLite)."""

import pytest

from funnel.services import lead_create
from leads.models import Lead

from .conftest import counts, import_csv

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_import_does_not_resubscribe_and_does_record_an_opt_out(campaign):
    gone = lead_create(system_actor="test", fields={"email": "gone@example.com"})
    Lead.objects.filter(pk=gone.pk).update(do_not_email=True)
    lead_create(system_actor="test", fields={"email": "stays@example.com"})
    job = import_csv(
        "Email,Company,Do not email\n"
        "gone@example.com,Acme,no\n"
        "stays@example.com,Globex,yes\n"
        "new@example.com,Initech,no\n",
        campaign=campaign,
        start=True,
    )
    assert job.status == "done", job.failure
    assert counts(job)[:2] == (1, 2)
    flags = dict(Lead.objects.values_list("email", "do_not_email"))
    assert flags == {
        "gone@example.com": True,  # unsubscribed: a file cannot undo that
        "stays@example.com": True,  # an opt-out the file records
        "new@example.com": False,
    }
    # The rest of the row still imports.
    assert Lead.objects.get(email="gone@example.com").company == "Acme"
