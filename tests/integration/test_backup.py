"""make backup / make restore: a dump restored into a fresh database has every lead and row."""

import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from funnel.models import Transition
from leads.models import Lead
from tests.services import database_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_backup_restores_into_a_fresh_database(make_lead, tmp_path):
    for stage in ("suspect", "mql", "customer", "nurture"):
        make_lead(stage)
    leads, rows = Lead.objects.count(), Transition.objects.count()
    source = database_url(connection.settings_dict)
    dump = tmp_path / "handoff.dump"
    backup = subprocess.run(
        ["make", "-s", "backup", f"FILE={dump}"],
        cwd=ROOT,
        env={"DATABASE_URL": source, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0

    fresh = f"test_restore_{uuid.uuid4().hex[:8]}"
    admin = {**connection.settings_dict, "NAME": "postgres"}
    with psycopg.connect(database_url(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{fresh}"')
    target = database_url({**connection.settings_dict, "NAME": fresh})
    try:
        restore = subprocess.run(
            ["make", "-s", "restore", f"FILE={dump}"],
            cwd=ROOT,
            env={"DATABASE_URL": target, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert restore.returncode == 0, restore.stderr
        with psycopg.connect(target.replace("postgres://", "postgresql://")) as conn:
            restored_leads = conn.execute("SELECT count(*) FROM leads_lead").fetchone()[0]
            restored_rows = conn.execute("SELECT count(*) FROM funnel_transition").fetchone()[0]
            stages = dict(conn.execute("SELECT stage, count(*) FROM leads_lead GROUP BY stage"))
        assert (restored_leads, restored_rows) == (leads, rows)
        assert stages == {"suspect": 1, "mql": 1, "customer": 1, "nurture": 1}
    finally:
        with psycopg.connect(database_url(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def test_backup_refuses_a_database_that_is_not_postgresql(tmp_path):
    result = subprocess.run(
        ["bin/backup.sh", "backup"],
        cwd=ROOT,
        env={"DATABASE_URL": "sqlite:///x.db", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "must point at PostgreSQL" in result.stderr
