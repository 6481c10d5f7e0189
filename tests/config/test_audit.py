"""bin/audit.py (make audit, run by .ci/run): fails on a vulnerability, says so when nothing
could be audited, and does not fail for that alone."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def audit_script():
    spec = importlib.util.spec_from_file_location("handoff_audit", ROOT / "bin" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reports(**by_service):
    return lambda service: by_service.get(service)


def test_it_fails_on_a_known_vulnerability(audit_script, monkeypatch, capsys):
    vulnerable = {
        "name": "django",
        "version": "5.2.0",
        "vulns": [{"id": "PYSEC-2025-1", "fix_versions": ["5.2.1"]}],
    }
    clean = {"name": "celery", "version": "5.4.0", "vulns": []}
    monkeypatch.setattr(audit_script, "audit", reports(pypi={"dependencies": [vulnerable, clean]}))
    assert audit_script.main() == 1
    out = capsys.readouterr().out
    assert "VULNERABLE django 5.2.0: PYSEC-2025-1 (fixed in 5.2.1)" in out
    assert "2 packages audited, 0 skipped, 1 vulnerable" in out


def test_it_passes_when_every_audited_package_is_clean(audit_script, monkeypatch, capsys):
    skipped = {"name": "handoff", "skip_reason": "editable"}
    clean = {"name": "celery", "version": "5.4.0", "vulns": []}
    monkeypatch.setattr(audit_script, "audit", reports(pypi={"dependencies": [clean, skipped]}))
    assert audit_script.main() == 0
    assert "1 packages audited, 1 skipped, 0 vulnerable" in capsys.readouterr().out


def test_it_says_nothing_was_audited_when_no_service_answers(audit_script, monkeypatch, capsys):
    unreachable = {"dependencies": [{"name": "django", "skip_reason": "not found on PyPI"}]}
    monkeypatch.setattr(audit_script, "audit", reports(pypi=unreachable, osv=None))
    assert audit_script.main() == 0
    assert "NOT AUDITED" in capsys.readouterr().out


def test_it_falls_back_to_osv(audit_script, monkeypatch, capsys):
    unreachable = {"dependencies": [{"name": "django", "skip_reason": "not found on PyPI"}]}
    found = {
        "dependencies": [
            {"name": "django", "version": "5.2.0", "vulns": [{"id": "GHSA-x", "fix_versions": []}]}
        ]
    }
    monkeypatch.setattr(audit_script, "audit", reports(pypi=unreachable, osv=found))
    assert audit_script.main() == 1
    assert "GHSA-x (fixed in no fix yet)" in capsys.readouterr().out
