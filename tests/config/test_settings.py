import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_required

ROOT = Path(__file__).resolve().parents[2]


def test_env_helpers_read_typed_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", " 42 ")
    monkeypatch.setenv("X_LIST", "a.example, b.example,,")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 1) == 42
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    assert env_bool("X_MISSING", True) is True


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (lambda: env_bool("X_VAL", False), "perhaps", "is not a boolean"),
        (lambda: env_int("X_VAL", 1), "ten", "is not a whole number"),
        (lambda: env_int("X_VAL", 1, minimum=1), "0", "below the minimum"),
        (lambda: env_required("X_VAL", "needed"), "", "X_VAL must be set"),
    ],
)
def test_env_helpers_fail_loudly_naming_the_variable(monkeypatch, reader, value, message):
    monkeypatch.setenv("X_VAL", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        reader()


def _manage(*args, **env):
    dropped = ("SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="a-long-random-production-key-7f3kq9z2m8x4c6v1b5n0j3h7g2f9d4s8",
        ALLOWED_HOSTS="handoff.example.com",
        SECURE_SSL_REDIRECT="1",
        STATIC_MANIFEST="1",
        HANDOFF_TESTING="0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
