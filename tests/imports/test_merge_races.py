"""An import batch reads each known lead's stage before it merges; a move made in between
(the soak found a rep's junk landing there) must neither be undone nor be logged again as
the import's."""

import pytest
from django.db import connection
from django.utils import timezone

from funnel.imports import BATCH_COLUMNS, leads_import_merge
from tests.conftest import move

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _batch_that_saw(lead, stage_seen: str, stage: str) -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in BATCH_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE race_batch ({columns})")
        cursor.execute(
            "INSERT INTO race_batch (ident, line, rows, email, company, stage, lead_id, old_stage)"
            " VALUES (%s, 2, 1, %s, 'New Co', %s, %s, %s)",
            [f"e:{lead.email}", lead.email, stage, lead.pk, stage_seen],
        )
    return "race_batch"


def _merge(table: str):
    return leads_import_merge(
        table=table,
        fields=("email", "company", "stage"),
        on_duplicate="update",
        system_actor="import #1 (race.csv)",
        campaign_id=None,
        now=timezone.now(),
        resolved=True,
    )


def _log(lead) -> list[tuple[str, str, str]]:
    rows = lead.transitions.order_by("at", "id")
    return list(rows.values_list("from_stage", "to_stage", "verb"))


def test_it_logs_no_move_for_a_lead_moved_on_after_the_batch_read_it(make_lead, manager):
    lead = make_lead("mql", company="Old Co")
    table = _batch_that_saw(lead, "mql", "mql")
    move(lead, "junk", manager)

    counts = _merge(table)

    lead.refresh_from_db()
    assert (lead.stage, lead.company) == ("junk", "New Co")
    assert _log(lead) == [
        ("", "suspect", "create"),
        ("suspect", "mql", "engage"),
        ("mql", "junk", "junk"),
    ]
    assert (counts.updated, counts.moved) == (1, 0)


def test_it_moves_forward_from_the_stage_the_lead_is_in_at_the_merge(make_lead, manager):
    lead = make_lead("suspect")
    table = _batch_that_saw(lead, "suspect", "sal")
    move(lead, "mql", manager)

    counts = _merge(table)

    lead.refresh_from_db()
    assert lead.stage == "sal"
    assert _log(lead)[-2:] == [("suspect", "mql", "engage"), ("mql", "sal", "import")]
    assert counts.moved == 1
