import datetime as dt
import os
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.test import APIClient

from funnel.models import ReasonCode
from funnel.services import lead_create, transition_lead
from leads.roles import ADMIN, MANAGER, MARKETER, SALES_REP

REQUIRE_SERVICES = os.environ.get("HANDOFF_REQUIRE_SERVICES", "") in ("1", "true", "yes")


def _own_redis_database() -> None:
    """`make test` runs the suite in two pytest-xdist workers. pytest-django gives each its
    own test database; this gives each its own Redis database (REDIS_URL's, then the ones
    below it), so one worker's Celery processes never take the other's tasks. Settings were
    read before this file; the broker and the cache are built lazily, on first use, so the
    settings they are built from are changed here, and the processes tests start inherit
    the environment."""
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("REDIS_URL")
    if not url or not worker.startswith("gw") or worker == "gw0":
        return
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    own = urlunsplit(parts._replace(path=f"/{(base - int(worker[2:])) % 16}"))
    os.environ["REDIS_URL"] = own
    settings.REDIS_URL = own
    settings.CELERY_BROKER_URL = own
    settings.CACHES["capture"]["LOCATION"] = own


_own_redis_database()


def missing_service(reason: str):
    """Skip locally; fail on CI, where HANDOFF_REQUIRE_SERVICES=1 makes every service required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _defaults_after_flush(request):
    """Transactional tests flush every table afterwards, data migrations' rows included:
    put the installation's defaults back for the ones that need committed data, and for a
    database test that runs after such a flush (in its own transaction, rolled back after):
    under pytest-xdist any test may follow a transactional one."""
    from funnel.defaults import seed_defaults
    from funnel.models import PipelineStage

    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction"))
    if transactional or {"transactional_db", "live_server"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db")
        seed_defaults(ReasonCode, PipelineStage)
    elif marker or "db" in request.fixturenames:
        request.getfixturevalue("db")
        if not PipelineStage.objects.exists():
            seed_defaults(ReasonCode, PipelineStage)


@pytest.fixture(autouse=True)
def _services_for_markers(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        missing_service("needs PostgreSQL: set DATABASE_URL=postgres://...")
    if request.node.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        missing_service("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    if request.node.get_closest_marker("browser") and not chromium_path():
        missing_service("needs Chromium at /usr/bin/chromium (apt-get install chromium)")


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture
def make_user(db):
    def make(username: str, role: str | None, **extra):
        user = get_user_model().objects.create_user(
            username=username,
            password="pw-for-tests-only-1",
            email=f"{username}@example.com",
            **extra,
        )
        if role:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def marketer(make_user):
    return make_user("marketer", MARKETER)


@pytest.fixture
def rep(make_user):
    return make_user("rep", SALES_REP)


@pytest.fixture
def rep2(make_user):
    return make_user("rep2", SALES_REP)


@pytest.fixture
def manager(make_user):
    return make_user("manager", MANAGER)


@pytest.fixture
def admin_user(make_user):
    return make_user("boss", ADMIN)


@pytest.fixture
def nobody(make_user):
    """Signed in, but with no Handoff role."""
    return make_user("nobody", None)


FUTURE = (dt.date.today() + dt.timedelta(days=60)).isoformat()

# The verbs' fields, so a helper can walk a lead to any stage through the real service.
VERB_FIELDS = {
    "qualify": {"budget": "50k", "authority": "CFO signs", "need": "CRM", "timeline": "Q3"},
    "convert": {"amount": "12000", "expected_close": FUTURE},
}
REASON_FOR = {
    "reject": "no_budget",
    "disqualify": "no_budget",
    "lose": "lost_to_competitor",
    "junk": "spam",
}
PATHS = {
    "suspect": [],
    "mql": ["mql"],
    "sal": ["mql", "sal"],
    "sql": ["mql", "sal", "sql"],
    "opportunity": ["mql", "sal", "sql", "opportunity"],
    "customer": ["mql", "sal", "sql", "opportunity", "customer"],
    "nurture": ["mql", "nurture"],
    "junk": ["junk"],
}


def move(lead, to: str, actor, **kwargs):
    from funnel.lifecycle import rule_for

    rule = rule_for(lead.stage, to)
    assert rule is not None, f"no rule {lead.stage} -> {to}"
    kwargs.setdefault("fields", VERB_FIELDS.get(rule.verb))
    if rule.needs_reason:
        kwargs.setdefault("reason", REASON_FOR[rule.verb])
    row = transition_lead(lead_id=lead.pk, to=to, actor=actor, **kwargs)
    lead.refresh_from_db()
    return row


_counter = iter(range(1, 10**9))


@pytest.fixture
def make_lead(db, manager):
    """A lead walked through the real service to `stage` (by a manager, so ownership stays)."""

    def make(stage: str = "suspect", owner=None, **fields):
        number = next(_counter)
        fields.setdefault("email", f"lead{number}@example.com")
        lead = lead_create(system_actor="test", fields=fields)
        if owner is not None:
            lead.owner = owner
            lead.save(update_fields=["owner"])
        for step in PATHS[stage]:
            move(lead, step, manager)
        return lead

    return make


@pytest.fixture
def committed(db, monkeypatch):
    """Run on-commit work (stage_changed receivers: rollups, enrollment) at once, as a
    committed transaction would, inside a test that is itself one transaction.

    Round robin is off, so the owners a test sets are the owners it gets."""
    from django.db import transaction

    from funnel.models import WorkspaceSettings

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"round_robin": False})

    def run_now(func, using=None, robust=False):
        func()

    monkeypatch.setattr(transaction, "on_commit", run_now)


@pytest.fixture
def api(db):
    def client_for(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture
def reasons(db):
    return {code.code: code for code in ReasonCode.objects.all()}


# --- real services ------------------------------------------------------------------------


@pytest.fixture
def smtp_server(settings):
    """A local SMTP server for the test; Django's SMTP backend is pointed at it."""
    from tests.services import start_smtp

    controller, recorder = start_smtp()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    recorder.port = controller.port
    yield recorder
    controller.stop()


@pytest.fixture
def worker(request, transactional_db, tmp_path, settings):
    """Start a real Celery worker process on Redis and the test PostgreSQL database.

    Returns a factory: `worker(beat=False, concurrency=1, queues=None, **env)`, on every
    queue unless `queues` names some; every process it started is stopped at the end of
    the test.
    """
    if connection.vendor != "postgresql":
        missing_service("a worker process needs PostgreSQL: set DATABASE_URL=postgres://...")
    if not os.environ.get("REDIS_URL"):
        missing_service("a worker process needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    from config.celery import app
    from tests.services import WorkerProcess, worker_env

    app.control.purge()
    started = []

    def start(*, beat: bool = False, concurrency: int = 1, queues=None, **extra_env):
        extra_env.setdefault("EMAIL_HOST", settings.EMAIL_HOST)
        extra_env.setdefault("EMAIL_PORT", settings.EMAIL_PORT)
        process = WorkerProcess(
            worker_env(connection.settings_dict, **extra_env),
            tmp_path,
            concurrency,
            beat,
            queues=queues,
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
    app.control.purge()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if not path:
        missing_service("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from tests.services import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


def log_in(page, username: str, password: str = "pw-for-tests-only-1"):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
