"""The PostgreSQL merge: identity ranges merged side by side on their own connections, the
foreign keys checked set-wise or row by row, a plain insert that falls back to ON CONFLICT."""

import pytest

from campaigns.imports.engine import postgresql
from campaigns.models import CampaignMembership
from funnel.models import Transition
from funnel.services import lead_create
from leads.models import Lead

from .conftest import counts, errors_of, import_csv

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def leads_file() -> str:
    lines = ["Email,First Name,Stage"]
    lines += [f"lead{i:03d}@example.com,Lead {i},mql" for i in range(100)]
    # Repeats of earlier rows, in other case and with spaces around: they merge.
    lines += [f"  LEAD{i:03d}@EXAMPLE.COM ,Again {i},sal" for i in range(0, 100, 10)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("setwise", [True, False], ids=["keys-setwise", "keys-row-by-row"])
def test_ranges_merged_side_by_side_give_every_lead_once(setwise, campaign, settings, monkeypatch):
    if not setwise:
        monkeypatch.setattr(postgresql, "keys_checked_setwise", lambda cursor, campaign_id: False)
    settings.HANDOFF_IMPORT_BATCH_ROWS = 7
    settings.HANDOFF_IMPORT_MERGE_WORKERS = 2
    existing = lead_create(system_actor="test", fields={"email": "lead042@example.com"})

    job = import_csv(leads_file(), campaign=campaign, start=True)

    assert job.status == "done"
    assert counts(job) == (99, 1, 10, 0)
    assert (job.processed, job.merged) == (110, 10)
    assert Lead.objects.count() == 100
    assert Lead.objects.filter(stage="sal").count() == 10
    assert Transition.objects.filter(verb="import", from_stage="").count() == 99
    assert Transition.objects.get(lead=existing, verb="import").to_stage == "mql"
    assert CampaignMembership.objects.filter(campaign=campaign).count() == 100
    assert Lead.objects.get(email="lead010@example.com").first_name == "Again 10"

    again = import_csv(leads_file(), campaign=campaign, start=True)
    assert counts(again) == (0, 0, 110, 0)
    assert Transition.objects.filter(verb="import").count() == 100


def test_two_new_rows_sharing_an_external_id_make_one_lead(campaign):
    # The plain insert meets the unique external id and gives way to ON CONFLICT; the second
    # row then finds the lead the first one created.
    job = import_csv(
        "Email,Prospect ID\na@example.com,P-1\nb@example.com,P-1\n", campaign=campaign, start=True
    )
    assert counts(job) == (1, 0, 1, 0)
    assert errors_of(job) == []
    assert Lead.objects.get().external_id == "P-1"
    assert CampaignMembership.objects.filter(campaign=campaign).count() == 1
