"""`manage.py import_leads`: the same code path as the pages and the API."""

import io

import pytest
from django.core.management import CommandError, call_command

from campaigns.imports.models import ImportJob
from leads.models import Lead

pytestmark = pytest.mark.django_db


def test_it_imports_a_file_with_a_mapping_and_prints_the_outcome(tmp_path, campaign, marketer):
    path = tmp_path / "list.csv"
    path.write_text("Mail,Phase,When\nann@example.com,Hot,31/01/2024\nbad,Hot,\n")
    out = io.StringIO()
    call_command(
        "import_leads",
        str(path),
        "--campaign",
        campaign.slug,
        "--mapping",
        '{"email": "Mail", "stage": "Phase", "stage_at": "When"}',
        "--stage-values",
        '{"Hot": "sql"}',
        "--user",
        "marketer",
        stdout=out,
    )
    job = ImportJob.objects.get()
    assert out.getvalue().splitlines() == [
        f"import {job.pk} done: 2 rows, 1 created, 0 updated, 0 skipped (0 merged duplicates), "
        "1 failed",
        "  line 3 [Mail]: 'bad' is not a valid e-mail address.",
    ]
    lead = Lead.objects.get()
    assert (lead.stage, lead.stage_changed_at.day, job.created_by) == ("sql", 31, marketer)
    assert lead.memberships.get().campaign == campaign


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "nope"], "No campaign with the slug 'nope'."),
        (["--mapping", "{oops"], "--mapping is not JSON"),
        (["--mapping", '{"email": "Nope"}'], "The file has no column 'Nope' (for email)."),
        (["--user", "ghost"], "No user 'ghost'."),
    ],
)
def test_it_refuses_bad_arguments_clearly(tmp_path, args, message):
    path = tmp_path / "list.csv"
    path.write_text("Email\nann@example.com\n")
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("import_leads", str(path), *args)
    assert not Lead.objects.exists()


def test_it_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No file"):
        call_command("import_leads", str(tmp_path / "none.csv"))


def test_it_takes_outcomes_owners_and_the_open_mqls_assignment(tmp_path, rep):
    from funnel.models import Opportunity

    path = tmp_path / "deals.csv"
    path.write_text("Id,Stage,Agent\nD1,Lost,Zed Unknown\nD2,mql,\n")
    call_command(
        "import_leads",
        str(path),
        "--mapping",
        '{"external_id": "Id", "stage": "Stage", "deal_owner": "Agent"}',
        "--stage-values",
        '{"Lost": {"stage": "nurture", "reached": "opportunity", "reason": "price"}}',
        "--deal-owners",
        '{"Zed Unknown": "rep"}',
        "--assign-open-mqls",
        stdout=io.StringIO(),
    )
    deal = Opportunity.objects.get()
    assert (deal.lead.external_id, deal.status, deal.owner) == ("D1", "lost", rep)
    assert Lead.objects.get(external_id="D2").owner == rep
