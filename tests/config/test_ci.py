"""CI, checked by reading its files and asking make what it would run: `.ci/run` runs the
PostgreSQL suite, then the ORM twins' tests on SQLite, as `make run` uses."""

import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sqlite_command() -> list[str]:
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "test-sqlite"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    output = done.stdout.replace("\\\n", " ")
    lines = [line for line in output.splitlines() if "pytest" in line]
    assert len(lines) == 1, done.stdout
    return shlex.split(lines[0])


def test_it_runs_the_import_nurture_and_reporting_tests_on_sqlite():
    command = _sqlite_command()
    # DATABASE_URL unset: settings fall back to SQLite, whatever CI exported for `make test`.
    assert command[:3] == ["env", "-u", "DATABASE_URL"]
    marker = command[command.index("-m") + 1]
    # HANDOFF_REQUIRE_SERVICES=1 would turn a skipped PostgreSQL test into a failure.
    assert re.search(r"\bnot postgres\b", marker)
    folders = {Path(arg).name for arg in command if arg.startswith("tests/")}
    assert {"imports", "nurture"} <= folders
    assert folders & {"dashboards", "reporting"}
    for folder in folders:
        assert (ROOT / "tests" / folder).is_dir(), folder


def test_ci_runs_the_sqlite_pass_after_the_postgresql_suite():
    steps = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip().startswith("make ")
    ]
    assert "make test" in steps and "make test-sqlite" in steps
    assert steps.index("make test-sqlite") > steps.index("make test")


def test_the_readme_documents_the_sqlite_pass():
    readme = (ROOT / "README.md").read_text()
    assert "make test-sqlite" in readme
