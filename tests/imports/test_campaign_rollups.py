"""An import with a campaign adds leads Handoff already had to that campaign: the campaign's
funnel counts them, whether the import changed, moved or left each lead as it was (the soak
found the unmoved ones missing from the campaign's rollups)."""

import pytest

from reporting.selectors import funnel_snapshot
from tests.dashboards.recount import recount

from .conftest import counts, import_csv


@pytest.mark.django_db
def test_it_counts_existing_leads_in_the_campaign_they_were_imported_into(
    make_lead, campaign, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_lead("suspect", email="same@example.com", company="Acme")
        make_lead("mql", email="changed@example.com", company="Acme")
        make_lead("suspect", email="moved@example.com")
    csv = (
        "email,company,stage\n"
        "same@example.com,Acme,suspect\n"
        "changed@example.com,Other Co,mql\n"
        "moved@example.com,,mql\n"
        "new@example.com,New Co,suspect\n"
    )

    with django_capture_on_commit_callbacks(execute=True):
        job = import_csv(csv, campaign=campaign)

    assert counts(job) == (1, 2, 1, 0)
    numbers = funnel_snapshot(campaign=campaign.slug)
    assert numbers["stages"]["suspect"] == 2
    assert numbers["stages"]["mql"] == 2
    assert numbers == recount(campaign=campaign.slug)
