"""Under `make run` (DEBUG, no SECRET_KEY) the signing key is the installation's own: random,
made on first run under var/ (mode 0600) and reused after, so nobody can forge the tracking
and unsubscribe links of a dev install with a key read from the source."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import signing

from campaigns.nurture import mailing

ROOT = Path(__file__).resolve().parents[2]
# The fixed development key config/settings.py used to fall back to.
OLD_FIXED_KEY = "dev-only-secret-key-for-local-runs-never-in-production-0123"
PRINT = (
    "import django, sys; django.setup(); from django.conf import settings; "
    "from django.core import signing; from campaigns.nurture import mailing; "
    "print(settings.SECRET_KEY); print(signing.dumps(7, salt=mailing.UNSUBSCRIBE_SALT))"
)


def _dev_run(var_dir: Path) -> tuple[str, str]:
    """The key and an unsubscribe token of message 7, as a `make run` process sees them."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update(DEBUG="1", HANDOFF_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    key, token = result.stdout.split()
    return key, token


def test_it_makes_a_random_key_per_installation_and_keeps_it(tmp_path):
    key, token = _dev_run(tmp_path / "one")
    assert key != OLD_FIXED_KEY
    assert len(key) >= 50
    stored = tmp_path / "one" / "secret_key"
    assert stored.read_text().strip() == key
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    again, _ = _dev_run(tmp_path / "one")
    assert again == key
    # A link mailed before a restart still works after it...
    assert signing.loads(token, key=again, salt=mailing.UNSUBSCRIBE_SALT) == 7

    other, _ = _dev_run(tmp_path / "two")
    assert other != key
    # ...and one installation's links mean nothing to another.
    with pytest.raises(signing.BadSignature):
        signing.loads(token, key=other, salt=mailing.UNSUBSCRIBE_SALT)


def test_a_link_signed_with_the_fixed_key_of_the_source_is_refused(tmp_path):
    key, token = _dev_run(tmp_path)
    forged = signing.dumps(7, key=OLD_FIXED_KEY, salt=mailing.UNSUBSCRIBE_SALT)
    assert signing.loads(token, key=key, salt=mailing.UNSUBSCRIBE_SALT) == 7
    with pytest.raises(signing.BadSignature):
        signing.loads(forged, key=key, salt=mailing.UNSUBSCRIBE_SALT)


def test_an_explicit_secret_key_wins_and_writes_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update(
        DEBUG="1",
        SECRET_KEY="an-explicit-key-for-this-test-only-0123456789abcdefghijklmnop",
        HANDOFF_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == env["SECRET_KEY"]
    assert not (tmp_path / "secret_key").exists()


def test_processes_starting_together_agree_on_one_key(tmp_path):
    from config.secret_key import installation_secret_key

    env = dict(os.environ)
    code = (
        "import sys; from pathlib import Path; from config.secret_key import "
        "installation_secret_key as k; print(k(Path(sys.argv[1])))"
    )
    path = tmp_path / "var" / "secret_key"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path)], cwd=ROOT, env=env, stdout=subprocess.PIPE
        )
        for _ in range(6)
    ]
    keys = {run.communicate(timeout=60)[0].decode().strip() for run in runs}
    assert keys == {installation_secret_key(path)}
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary left
