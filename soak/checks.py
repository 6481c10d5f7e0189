"""After the load and the drain: the figures, and every way the books could be wrong.

Each check returns (figures, violations); a violation is a sentence saying what is wrong.
"""

import re
import statistics
from collections import Counter, defaultdict
from email import message_from_bytes
from pathlib import Path

from django.db import transaction

from campaigns.imports.models import ImportJob
from campaigns.nurture.models import Message
from funnel.imports import IMPORT_VERB, moves_forward
from funnel.lifecycle import rule_for
from funnel.models import Transition
from leads.models import Lead
from reporting.selectors import funnel_snapshot
from reporting.services import rollups_rebuild
from tests.dashboards.recount import recount, rollup_state

from .load import Tally

# What must never appear in the server's or the worker's log.
LOG_PROBLEMS = {
    "deadlock": re.compile(r"deadlock detected", re.I),
    "serialization failure": re.compile(r"could not serialize access", re.I),
    "traceback": re.compile(r"^Traceback \(most recent call last\)", re.M),
    "server error": re.compile(r"Internal Server Error"),
    "task failed": re.compile(r"ERROR/\S+\] Task .* raised"),
    "rollup refresh failed": re.compile(r"could not refresh the funnel rollups"),
    "gunicorn worker timeout": re.compile(r"WORKER TIMEOUT"),
}


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _ms(values: list[float]) -> dict:
    return {
        "p50_ms": round(1000 * _percentile(values, 50), 1),
        "p95_ms": round(1000 * _percentile(values, 95), 1),
        "p99_ms": round(1000 * _percentile(values, 99), 1),
        "mean_ms": round(1000 * statistics.fmean(values), 1) if values else 0.0,
    }


def requests_check(tally: Tally) -> tuple[dict, list[str]]:
    by_kind = defaultdict(Counter)
    latencies = defaultdict(list)
    statuses = Counter()
    for kind, status, seconds in tally.requests:
        by_kind[kind][str(status)] += 1
        latencies[kind].append(seconds)
        statuses[str(status)] += 1
    every = [seconds for _, _, seconds in tally.requests]
    figures = {
        "requests": len(tally.requests),
        "seconds": round(tally.seconds, 1),
        "requests_per_s": round(len(tally.requests) / tally.seconds, 1) if tally.seconds else 0,
        "latency": _ms(every),
        "statuses": dict(sorted(statuses.items())),
        "by_kind": {
            kind: {"statuses": dict(sorted(by_kind[kind].items())), **_ms(latencies[kind])}
            for kind in sorted(by_kind)
        },
        "conflict_pairs": {"/".join(map(str, k)): n for k, n in sorted(tally.conflicts.items())},
    }
    violations = []
    server_errors = sum(n for status, n in statuses.items() if status.startswith("5"))
    if server_errors:
        violations.append(f"{server_errors} responses were 5xx")
    for line in tally.unexpected[:20]:
        violations.append(f"unexpected answer: {line}")
    if len(tally.unexpected) > 20:
        violations.append(f"... and {len(tally.unexpected) - 20} more unexpected answers")
    return figures, violations


def logs_check(paths: dict[str, Path]) -> tuple[dict, list[str]]:
    figures, violations = {}, []
    for name, path in paths.items():
        text = path.read_text(errors="replace") if path.exists() else ""
        found = {problem: len(pattern.findall(text)) for problem, pattern in LOG_PROBLEMS.items()}
        figures[name] = {"lines": text.count("\n"), **{k: v for k, v in found.items() if v}}
        for problem, count in found.items():
            if count:
                violations.append(f"{name} log: {count} x {problem} (see {path})")
    return figures, violations


class _Rollback(Exception):
    pass


def rollups_check(campaigns: list[str]) -> tuple[dict, list[str]]:
    """The live rollups against a rebuild from the log (rolled back afterwards), and the
    funnel API's numbers against an independent lead-by-lead recount."""
    live = rollup_state()
    try:
        with transaction.atomic():
            rollups_rebuild()
            rebuilt = rollup_state()
            raise _Rollback
    except _Rollback:
        pass
    violations = []
    differing = sorted(
        (key for key in set(live) | set(rebuilt) if live.get(key) != rebuilt.get(key)), key=str
    )
    for key in differing[:10]:
        violations.append(
            f"rollup {key}: live {live.get(key)} != recount {rebuilt.get(key)} from the log"
        )
    scopes = [{}] + [{"campaign": slug} for slug in campaigns]
    for scope in scopes:
        api, counted = funnel_snapshot(**scope), recount(**scope)
        if api != counted:
            wrong = {k: (api[k], counted[k]) for k in api if api[k] != counted.get(k)}
            violations.append(f"funnel {scope or 'overall'}: API != recount: {wrong}")
    figures = {
        "rollup_rows_and_facts_compared": len(set(live) | set(rebuilt)),
        "rows_differing": len(differing),
        "funnel_scopes_recounted": len(scopes),
        "leads": Lead.objects.count(),
    }
    return figures, violations


def log_rows_check(tally: Tally) -> tuple[dict, list[str]]:
    """Every lead's log is a chain from its creation to its current stage, each link an
    allowed move; every move a client was told succeeded is in it, and no person's move is in
    it that no client was told about."""
    stages = dict(Lead.objects.values_list("id", "stage"))
    rows = defaultdict(list)
    query = Transition.objects.order_by("lead_id", "at", "id").values_list(
        "id", "lead_id", "from_stage", "to_stage", "verb", "actor_id"
    )
    for row in query.iterator(chunk_size=20000):
        rows[row[1]].append(row)
    violations = []
    for lead_id, stage in stages.items():
        log = rows.get(lead_id, [])
        if not log:
            violations.append(f"lead {lead_id} ({stage}) has no log row")
            continue
        previous = ""
        for row_id, _, from_stage, to_stage, verb, _ in log:
            if from_stage != previous:
                violations.append(
                    f"lead {lead_id}: row {row_id} moves from {from_stage!r} but the row before "
                    f"left it in {previous!r} (a stage change without its row)"
                )
            legal = (
                (verb == "create" and not from_stage)
                or (verb == IMPORT_VERB and (not from_stage or moves_forward(from_stage, to_stage)))
                or (from_stage and (rule := rule_for(from_stage, to_stage)) and rule.verb == verb)
            )
            if not legal:
                violations.append(f"lead {lead_id}: row {row_id} {from_stage}->{to_stage} {verb}")
            previous = to_stage
        if previous != stage:
            violations.append(f"lead {lead_id} is in {stage} but its last log row says {previous}")
    by_people = set(
        Transition.objects.filter(actor__isnull=False)
        .exclude(verb="create")
        .values_list("id", flat=True)
    )
    missing = tally.transition_ids - by_people
    unknown = by_people - tally.transition_ids
    if missing:
        violations.append(
            f"{len(missing)} moves answered 201 have no log row: {sorted(missing)[:10]}"
        )
    if unknown:
        violations.append(
            f"{len(unknown)} log rows by people no client made: {sorted(unknown)[:10]}"
        )
    figures = {
        "leads": len(stages),
        "log_rows": sum(len(log) for log in rows.values()),
        "moves_answered_201": len(tally.transition_ids),
        "moves_by_people_logged": len(by_people),
        "rows_by_verb": dict(
            sorted(Counter(row[4] for log in rows.values() for row in log).items())
        ),
    }
    return figures, violations[:30] + (
        [f"... {len(violations) - 30} more"] if len(violations) > 30 else []
    )


def messages_check(received: list) -> tuple[dict, list[str]]:
    """Every nurture e-mail the SMTP server took has its one message row, and every row
    marked sent reached the server exactly once."""
    ids = Counter()
    for _sender, _recipients, raw in received:
        ids[message_from_bytes(raw).get("Message-ID", "").strip("<>")] += 1
    recorded = Counter(
        f"nurture-{enrollment}-{step}@handoff"
        for enrollment, step in Message.objects.filter(status=Message.Status.SENT).values_list(
            "enrollment_id", "step_id"
        )
    )
    violations = []
    twice = [key for key, n in ids.items() if n > 1]
    if twice:
        violations.append(f"{len(twice)} e-mails reached the server more than once: {twice[:5]}")
    unrecorded = set(ids) - set(recorded)
    if unrecorded:
        violations.append(f"{len(unrecorded)} e-mails sent without a message row")
    unsent = set(recorded) - set(ids)
    if unsent:
        violations.append(f"{len(unsent)} message rows marked sent never reached the server")
    figures = {
        "emails_received": sum(ids.values()),
        "message_rows_sent": sum(recorded.values()),
        "message_rows_suppressed": Message.objects.filter(status=Message.Status.SUPPRESSED).count(),
    }
    return figures, violations


def imports_check(tally: Tally) -> tuple[dict, list[str]]:
    jobs = {job.pk: job for job in ImportJob.objects.filter(pk__in=tally.imports)}
    violations = []
    totals = Counter()
    for job_id, rows in tally.imports.items():
        job = jobs.get(job_id)
        if job is None:
            violations.append(f"import {job_id} answered 202 but does not exist")
            continue
        if job.status != ImportJob.Status.DONE:
            violations.append(f"import {job_id} is {job.status}: {job.failure[:200]}")
            continue
        counted = job.created + job.updated + job.skipped + job.failed
        if not (counted == job.total == job.processed == rows):
            violations.append(
                f"import {job_id}: {job.created} created + {job.updated} updated + "
                f"{job.skipped} skipped + {job.failed} failed = {counted}, "
                f"total {job.total}, processed {job.processed}, rows sent {rows}"
            )
        for name in ("created", "updated", "skipped", "failed"):
            totals[name] += getattr(job, name)
        totals["rows"] += rows
    figures = {"jobs": len(tally.imports), **totals}
    return figures, violations
