"""The soak (`make soak`), short: the same processes, mix and checks as the full run, with
16 clients for HANDOFF_SOAK_SECONDS (15 by default) and 80 leads to start with, instead of
32 clients for three minutes and 400 leads, so that the suite stays quick on two cores."""

import os

import pytest
from django.db import connection

from soak.load import EXPECTED
from soak.run import soak
from tests.services import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_the_app_under_mixed_load_answers_no_5xx_and_its_books_balance(tmp_path):
    figures, violations = soak(
        database_url=database_url(connection.settings_dict),
        redis_url=os.environ["REDIS_URL"],
        workdir=tmp_path,
        seconds=float(os.environ.get("HANDOFF_SOAK_SECONDS", 15)),
        clients=16,
        leads=80,
        tick_seconds=2,
    )

    assert violations == [], "\n".join(violations)
    # Every kind of request ran, so the books above were checked against real traffic.
    assert set(figures["requests"]["by_kind"]) == set(EXPECTED)
    assert figures["transition_log"]["moves_answered_201"] > 0
    assert figures["imports"]["jobs"] > 0
    assert "201/409" in figures["requests"]["conflict_pairs"]
    assert figures["rollups"]["rollup_rows_and_facts_compared"] > 0
