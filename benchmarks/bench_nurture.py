"""Nurture sending: N due enrollments through the real worker vs a bare smtplib loop.

Both send the same messages to the same local SMTP server (aiosmtpd, started here), in the
same run. The worker's figure includes everything a real tick does: handing the due
enrollments out in batches, the claim per message, rendering, SMTP, commit. Target: at
least half the bare loop's rate, with exactly N messages received (one per enrollment).

    HANDOFF_BENCH_ENROLLMENTS=100000     (default; set lower for a quick run)
    HANDOFF_BENCH_CONCURRENCY=4          worker processes
"""

import logging
import os
import re
import smtplib
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.harness import Skip, Timer, bench_database

N = int(os.environ.get("HANDOFF_BENCH_ENROLLMENTS", "100000"))
CONCURRENCY = int(os.environ.get("HANDOFF_BENCH_CONCURRENCY", "4"))
MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE)


class Counter:
    """Counts what the server accepted, and which Message-IDs, to prove exactly once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = 0
        self.ids: set[bytes] = set()

    async def handle_DATA(self, server, session, envelope):
        found = MESSAGE_ID.search(envelope.content)
        with self.lock:
            self.received += 1
            if found:
                self.ids.add(found.group(1))
        return "250 OK"

    def reset(self):
        with self.lock:
            self.received = 0
            self.ids = set()


def _setup(n: int):
    from django.utils import timezone

    from campaigns.nurture.models import Enrollment, Programme, Step
    from leads.models import Lead

    now = timezone.now()
    programme = Programme.objects.create(name="Bench", exits=["mql"])
    step = Step.objects.create(
        programme=programme,
        position=0,
        kind=Step.Kind.EMAIL,
        subject="{{ lead.first_name }}, a guide for {{ lead.company }}",
        body="Hi {{ lead.first_name }},\n\nSomething useful for {{ lead.company }}.",
    )
    # Bench fixture: leads created in bulk already in nurture (the transition service would
    # take minutes for 100,000 and is not what is measured here).
    Lead.objects.bulk_create(
        [
            Lead(
                email=f"bench{i}@example.com",
                first_name=f"Bench{i}",
                company=f"Company {i % 97}",
                stage="nurture",
                stage_changed_at=now,
            )
            for i in range(n)
        ],
        batch_size=5000,
    )
    leads = list(
        Lead.objects.filter(email__startswith="bench").order_by("id").values_list("id", flat=True)
    )
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                lead_id=lead_id,
                programme=programme,
                from_stage="mql",
                enrolled_at=now,
                next_due_at=now,
            )
            for lead_id in leads
        ],
        batch_size=5000,
    )
    return programme, step


def _baseline_messages(step, n: int) -> list[tuple[str, bytes]]:
    """The same messages the worker sends, built ahead: the loop times sending only."""
    from campaigns.nurture.mailing import build_email, render_subject
    from campaigns.nurture.models import Enrollment

    out = []
    rows = Enrollment.objects.select_related("lead").order_by("id")
    for index, enrollment in enumerate(rows.iterator(chunk_size=2000)):
        lead = enrollment.lead
        email = build_email(
            message_id=10_000_000 + index,
            enrollment_id=enrollment.pk,
            step=step,
            subject=render_subject(step.subject, lead, None),
            lead=lead,
            asset=None,
            to_email=lead.email,
        )
        out.append((lead.email, email.message().as_bytes(linesep="\r\n")))
        if len(out) >= n:
            break
    return out


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children still alive, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, IndexError, ValueError):
            continue
        pids += [int(child) for child in children]
    return total


def run() -> dict:
    if not os.environ.get("REDIS_URL"):
        raise Skip("needs Redis for the worker: set REDIS_URL=redis://...")
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from campaigns.nurture.models import Enrollment, Message
    from campaigns.nurture.services import enrollments_queue_due
    from tests.services import WorkerProcess, free_port, wait_for, worker_env

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    counter = Counter()
    port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with bench_database():
            _, step = _setup(N)

            messages = _baseline_messages(step, N)
            sender = settings.DEFAULT_FROM_EMAIL
            cpu_before = time.process_time()
            with Timer() as bare:
                client = smtplib.SMTP("127.0.0.1", port)
                for to, raw in messages:
                    client.sendmail(sender, [to], raw)
                client.quit()
            # This process's CPU: the client loop and the SMTP server's thread together.
            bare_cpu = time.process_time() - cpu_before
            bare_received = counter.received
            del messages
            counter.reset()

            from config.celery import app

            app.control.purge()
            logs = Path(tempfile.mkdtemp(prefix="bench-nurture-"))
            env = worker_env(
                connection.settings_dict,
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=port,
                LOG_LEVEL="WARNING",
                HANDOFF_NURTURE_BATCH_SIZE=settings.HANDOFF_NURTURE_BATCH_SIZE,
            )
            worker = WorkerProcess(env, logs, concurrency=CONCURRENCY).start()
            try:
                worker_cpu_before = _cpu_seconds(worker.proc.pid)
                cpu_before = time.process_time()
                with Timer() as through_worker:
                    with Timer() as tick:
                        batches = enrollments_queue_due(now=timezone.now(), limit=N)
                    timed_out = False
                    try:
                        wait_for(
                            lambda: counter.received >= N,
                            timeout=max(600, N / 20),
                            interval=0.2,
                            message=f"{N} messages through the worker",
                        )
                    except AssertionError:
                        timed_out = True
                worker_cpu = _cpu_seconds(worker.proc.pid) - worker_cpu_before
                # This process's CPU: the tick and the SMTP server's thread.
                server_cpu = time.process_time() - cpu_before
                time.sleep(2)  # anything sent twice would arrive now
                sent_rows = Message.objects.filter(status="sent").count()
                left = dict(
                    Enrollment.objects.values_list("status").annotate(n=Count("id")).order_by()
                )
                errors = list(
                    Enrollment.objects.exclude(last_error="")
                    .values_list("last_error", flat=True)
                    .distinct()[:3]
                )
            finally:
                worker.stop()
                app.control.purge()
    finally:
        controller.stop()

    bare_rate = N / bare.seconds
    worker_rate = N / through_worker.seconds
    ratio = worker_rate / bare_rate
    exactly = not timed_out and counter.received == N and len(counter.ids) == N and sent_rows == N
    return {
        "enrollments": N,
        "worker_processes": CONCURRENCY,
        "batches": len(batches),
        "bare_smtplib_per_second": round(bare_rate, 1),
        "bare_received": bare_received,
        "worker_per_second": round(worker_rate, 1),
        "worker_received": counter.received,
        "distinct_message_ids": len(counter.ids),
        "message_rows_sent": sent_rows,
        "worker_to_bare_ratio": round(ratio, 3),
        "concurrency": (
            f"bare loop: 1 process, 1 SMTP connection; worker: {CONCURRENCY} prefork "
            f"processes, one SMTP connection each per batch"
        ),
        "phases": {
            "tick_seconds": round(tick.seconds, 2),
            "bare_cpu_ms_per_message_client_and_server": round(bare_cpu / N * 1000, 3),
            "worker_cpu_ms_per_message": round(worker_cpu / N * 1000, 3),
            "server_and_tick_cpu_ms_per_message": round(server_cpu / N * 1000, 3),
        },
        "exactly_n": exactly,
        "timed_out": timed_out,
        "enrollments_by_status": left,
        "errors": errors,
        "target": ">= 0.5 of the bare loop's rate, exactly N received",
        "meets_target": bool(ratio >= 0.5 and exactly and bare_received == N),
    }
