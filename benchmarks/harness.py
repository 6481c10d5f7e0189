"""What every benchmark shares: Django set up, a throwaway PostgreSQL database, timing."""

import contextlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstu")
    os.environ.setdefault("HANDOFF_TESTING", "1")  # fast password hashing for the bench users
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("STATIC_MANIFEST", "0")
    import django

    django.setup()


class Skip(Exception):
    """The benchmark cannot run here; the message says why."""


@contextlib.contextmanager
def bench_database():
    """A fresh database named test_<name>, migrated, dropped afterwards."""
    from django.db import connection
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    if connection.vendor != "postgresql":
        raise Skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    setup_test_environment()
    state = setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        teardown_databases(state, verbosity=0)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
