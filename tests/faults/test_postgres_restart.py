"""PostgreSQL restarted (a crash: `pg_ctl stop -m immediate`) while an import, transitions
and nurture sends are under way, on a private cluster (never the shared server).

gunicorn and a Celery worker run on the private database. While it is down, the API and the
pages answer 503 (JSON under /api/, a page elsewhere) and never 500; once it is back the same
requests succeed. Nothing is half-written: the import batch in flight rolled back and the
resumed import creates every lead once; every lead's stage is its last log row; every
nurture message recorded was delivered and every enrollment is done once.
"""

import datetime as dt
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.utils import timezone

from campaigns.imports.models import ImportJob
from campaigns.imports.services import import_job_resume
from campaigns.nurture.models import Enrollment, Message, Programme, Step
from campaigns.nurture.services import enrollments_queue_due
from funnel.models import Transition
from funnel.services import lead_create, transition_lead
from leads.models import Lead
from leads.roles import MANAGER
from tests.services import ROOT, database_url, free_port, gunicorn_command, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

LEADS = 24
ROWS = 600
BATCH_ROWS = 100
MESSAGES = 30


@contextmanager
def default_database_at(url_settings: dict):
    """This process's default connection on another server for a while."""
    conn = connections["default"]
    conn.close()
    before = dict(conn.settings_dict)
    conn.settings_dict.update(url_settings)
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict.clear()
        conn.settings_dict.update(before)


def serve(port: int, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(gunicorn_command(port, workers=2, threads=4), cwd=ROOT, env=env)
    wait_for(lambda: answer(port, "GET", "/accounts/login/")[0] == 200, message="gunicorn")
    return server


def answer(port, method, path, body=None, headers=None, timeout=30) -> tuple[int, str, str]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http to loopback)
            return (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read().decode(),
            )
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()
    except OSError:
        return 0, "", ""  # gunicorn not up yet


def multipart(fields: dict, name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "----handoff-faults"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def csv_rows() -> bytes:
    lines = ["Email,First Name,Stage"] + [f"row{i:04d}@example.com,R{i},mql" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def test_a_postgresql_restart_fails_requests_cleanly_and_loses_nothing(
    private_postgres, worker, smtp_server, tmp_path
):
    import_dir = str(tmp_path / "imports")
    settings.HANDOFF_IMPORT_DIR = import_dir
    private_postgres.copy_database(database_url(connection.settings_dict), "handoff")
    private = {"HOST": "127.0.0.1", "PORT": private_postgres.port, "NAME": "handoff"}
    with default_database_at(private):
        manager = get_user_model().objects.create_user("boss", password="pw-for-tests-only-1")
        manager.groups.add(Group.objects.get_or_create(name=MANAGER)[0])
        leads = []
        for i in range(LEADS):
            lead = lead_create(system_actor="test", fields={"email": f"mql{i}@example.com"})
            transition_lead(lead_id=lead.pk, to="mql", actor=manager)
            leads.append(lead.pk)
        # An existing lead in the import's third batch: holding its row lock keeps the
        # worker in the middle of that batch when the server goes down.
        held = lead_create(system_actor="test", fields={"email": "row0250@example.com"})
        programme = Programme.objects.create(name="Faults", exits=["mql"])
        Step.objects.create(programme=programme, position=0, kind="email", subject="Hi", body="x")
        nurtured = Lead.objects.bulk_create(
            [Lead(email=f"n{i}@example.com", stage="nurture") for i in range(MESSAGES)]
        )
        now = timezone.now()
        Enrollment.objects.bulk_create(
            [
                Enrollment(lead=lead, programme=programme, from_stage="mql", next_due_at=now)
                for lead in nurtured
            ]
        )
        process_env = {"HANDOFF_IMPORT_DIR": import_dir, "HANDOFF_IMPORT_BATCH_ROWS": BATCH_ROWS}
        process = worker(concurrency=2, **process_env)
        port = free_port()
        env = dict(
            os.environ,
            DATABASE_URL=private_postgres.url("handoff"),
            DEBUG="0",
            SECURE_SSL_REDIRECT="0",
            ALLOWED_HOSTS="127.0.0.1",
            STATIC_MANIFEST="0",
            HANDOFF_LOGIN_THROTTLING="0",
            **{k: str(v) for k, v in process_env.items()},
        )
        server = serve(port, env)
        try:
            status, _, body = answer(
                port,
                "POST",
                "/api/auth/token/",
                b"username=boss&password=pw-for-tests-only-1",
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert status == 200, body
            auth = {"Authorization": f"Token {json.loads(body)['token']}"}
            session = _session_for(manager)

            holder = psycopg.connect(private_postgres.url("handoff"))
            holder.execute("SELECT id FROM leads_lead WHERE id = %s FOR UPDATE", [held.pk])
            payload, content_type = multipart({}, "list.csv", csv_rows())
            status, _, body = answer(
                port, "POST", "/api/imports/", payload, {**auth, "Content-Type": content_type}
            )
            assert status == 202, body
            job_id = json.loads(body)["id"]
            smtp_server.delay = 0.2  # 30 e-mails take 6 s: the batch is in flight
            enrollments_queue_due(now=now)

            # Transitions from a client thread, through the restart.
            answers: dict[int, list[int]] = {pk: [] for pk in leads}
            codes: list[str] = []
            others: list = []
            stop = threading.Event()

            def accept(pk: int):
                return answer(
                    port,
                    "POST",
                    f"/api/leads/{pk}/transitions/",
                    {"to": "sal", "from": "mql"},
                    {**auth, "Content-Type": "application/json"},
                )

            def accept_all():
                while not stop.is_set():
                    for pk in leads:
                        if 201 in answers[pk] or 409 in answers[pk]:
                            continue
                        status, _, text = accept(pk)
                        answers[pk].append(status)
                        if status not in (201, 503):
                            others.append((pk, status, text))
                        if status == 503:
                            codes.append(json.loads(text)["code"])
                        time.sleep(0.1)

            # At least two: the other merge connection goes on with the ranges after the
            # held one, and may commit all of them between two looks.
            wait_for(
                lambda: ImportJob.objects.get(pk=job_id).processed >= 2 * BATCH_ROWS,
                message="two committed import batches",
            )
            wait_for(lambda: len(smtp_server.messages) >= 3, message="the first e-mails")
            # The client starts last, so most of its accepts are still to come at the crash.
            client = threading.Thread(target=accept_all)
            client.start()
            wait_for(lambda: sum(201 in a for a in answers.values()) >= 3, message="accepts")

            private_postgres.stop("immediate")  # every connection is cut mid-transaction
            down_api = answer(port, "GET", f"/api/leads/{leads[0]}/", headers=auth)
            down_page = answer(port, "GET", "/leads/", headers={"Cookie": session})
            time.sleep(1)
            private_postgres.start()
            connections["default"].close()  # cut by the crash; the next query reconnects
            holder.close()
            stop.set()
            client.join()

            assert down_api[0] == 503 and json.loads(down_api[2])["code"] == "service_unavailable"
            assert down_page[0] == 503 and "text/html" in down_page[1], down_page
            assert "Briefly unavailable" in down_page[2]
            statuses = {s for seen in answers.values() for s in seen}
            assert statuses <= {201, 409, 503}, others  # never a 500
            assert 503 in statuses
            assert set(codes) == {"service_unavailable"}

            # After: the same requests succeed.
            assert answer(port, "GET", f"/api/leads/{leads[0]}/", headers=auth)[0] == 200
            assert answer(port, "GET", "/leads/", headers={"Cookie": session})[0] == 200
            for pk in leads:
                if 201 not in answers[pk]:
                    status, _, text = accept(pk)
                    # 409: the commit made it before the crash though its answer did not.
                    assert status in (201, 409), text
                    if status == 409:
                        others.append((pk, status, text))
        finally:
            server.terminate()
            server.wait(timeout=20)

        # The import: the batch in flight rolled back; resumed, it creates each lead once.
        job = ImportJob.objects.get(pk=job_id)
        assert job.status in ("running", "failed"), job.status
        assert job.processed % BATCH_ROWS == 0 and job.processed >= 2 * BATCH_ROWS
        later = timezone.now() + dt.timedelta(seconds=settings.HANDOFF_IMPORT_STALL_SECONDS + 1)
        import_job_resume(job=job, now=later)
        wait_for(
            lambda: ImportJob.objects.get(pk=job_id).status == "done", message="the resumed import"
        )
        assert Lead.objects.filter(email__startswith="row").count() == ROWS
        assert Transition.objects.filter(verb="import").count() == ROWS

        # Transitions: each lead accepted once; every stage is its last log row.
        for pk in leads:
            rows = list(Transition.objects.filter(lead_id=pk).order_by("at", "id"))
            assert [r.to_stage for r in rows] == ["suspect", "mql", "sal"], (pk, others)
            assert Lead.objects.get(pk=pk).stage == "sal"

        # Sends: the batch whose worker lost the database is handed out again after its lease.
        smtp_server.delay = 0
        later = now + dt.timedelta(seconds=settings.HANDOFF_NURTURE_LEASE_SECONDS + 1)
        enrollments_queue_due(now=later)
        wait_for(
            lambda: not Enrollment.objects.exclude(status="completed").exists(),
            message="every enrollment done",
        )
        assert Message.objects.count() == MESSAGES
        delivered = [to for _, recipients, _ in smtp_server.messages for to in recipients]
        assert set(Message.objects.values_list("to_email", flat=True)) <= set(delivered)
        # At most the one e-mail between the server's 250 and the lost commit goes twice.
        assert MESSAGES <= len(delivered) <= MESSAGES + 1
        process.kill()  # idle: a kill is quicker than a warm shutdown, and loses nothing


def _session_for(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"
