"""Faults: servers of the test's own that the test stops and starts (never the shared ones)."""

import shutil

import pytest

from tests.conftest import missing_service
from tests.services import PrivatePostgres, PrivateRedis, broker_at, postgres_bin


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server on a free port; this process's Celery app publishes to it."""
    if not shutil.which("redis-server"):
        missing_service("needs redis-server on PATH (apt-get install redis-server)")
    server = PrivateRedis(tmp_path).start()
    try:
        with broker_at(server.url):
            yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster on a free port, removed afterwards."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        missing_service("needs PostgreSQL's server binaries in /usr/lib/postgresql/<ver>/bin")
    server = PrivatePostgres(bin_dir)
    try:
        yield server.init().start()
    finally:
        server.destroy()
