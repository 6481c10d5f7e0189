"""config/settings.py and config/celery.py are laid out by concern: one block per concern
(one schema block, one beat schedule), no history in their headings, and `.env.example`
lists exactly the variables they read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (ROOT / "config" / "settings.py").read_text()
CELERY = (ROOT / "config" / "celery.py").read_text()
GUNICORN = (ROOT / "config" / "gunicorn.conf.py").read_text()
EXAMPLE = (ROOT / ".env.example").read_text()
# Read by the test settings only (pyproject's pytest-env), never set by an installation.
INTERNAL = {"HANDOFF_TESTING"}


def test_no_heading_tells_history():
    for name, text in [("settings", SETTINGS), ("celery", CELERY), (".env.example", EXAMPLE)]:
        assert not re.findall(r"(?i)\bissue \d+", text), name


def test_each_setting_is_built_in_one_place():
    assert not re.findall(r"^SPECTACULAR_SETTINGS\[", SETTINGS, re.M)
    assert not re.findall(r"^REST_FRAMEWORK\[", SETTINGS, re.M)
    assert not re.findall(r"^(INSTALLED_APPS|MIDDLEWARE) \+=", SETTINGS, re.M)
    names = re.findall(r"^([A-Z][A-Z0-9_]*) = ", SETTINGS, re.M)
    # Assigned twice only where a branch picks one of two values (if/else at top level).
    twice = {name for name in names if names.count(name) > 1}
    assert twice <= {"SECRET_KEY", "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS"}


def test_there_is_one_beat_schedule():
    from config.celery import BEAT_SCHEDULE, app

    assert "beat_schedule[" not in CELERY
    assert CELERY.count("beat_schedule=") == 1
    assert app.conf.beat_schedule == BEAT_SCHEDULE


def _read(text: str) -> set[str]:
    return set(
        re.findall(r'env_(?:str|int|bool|list|required)\(\s*"([A-Z0-9_]+)"', text)
        + re.findall(r"""_int\(\s*["']([A-Z0-9_]+)["']""", text)
        + re.findall(r'environ\.get\(\s*"([A-Z0-9_]+)"', text)
    )


def test_the_example_lists_exactly_what_is_read():
    read = _read(SETTINGS) | _read(GUNICORN)
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", EXAMPLE, re.M))
    assert read - INTERNAL - listed == set(), "read but not in .env.example"
    assert listed - read == set(), "in .env.example but read nowhere"
