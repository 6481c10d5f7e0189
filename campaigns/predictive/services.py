"""Train a model from the log, keep it as a version, and score leads with the current one.

numpy, scikit-learn and joblib (here and in `dataset` and `learner`) are imported by the
functions that train, load or score a model, not at the top: the URLconf, the API, the pages and
every app's tasks import this module, and the scientific stack would add about a second to the
start of every web worker, Celery worker and management command, most of which never score a
lead.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import queue
import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from leads.models import OTHER_FEATURES, Lead, LeadPrediction

from .models import PredictiveSettings, ScoringModel

if TYPE_CHECKING:
    from .learner import AdditiveModel

log = logging.getLogger(__name__)

REASONS = 5  # strongest features per lead kept singly; the rest summed as one reason
SCORE_BATCH = 50_000


def min_outcomes() -> int:
    return int(getattr(settings, "HANDOFF_PREDICTIVE_MIN_OUTCOMES", 200))


class TrainingRefused(Exception):
    pass


def scoring_model_request(
    *, user=None, excluded: list[str] | None = None, outcome: str | None = None
) -> ScoringModel:
    """Keep the marketer's choices and queue a training (on the heavy `imports` queue)."""
    from outbox.services import task_enqueue_on_commit

    from .tasks import train_model

    with transaction.atomic():
        prefs = PredictiveSettings.load()
        if excluded is not None:
            prefs.excluded = sorted({str(f).strip() for f in excluded if str(f).strip()})
        if outcome is not None:
            prefs.outcome = outcome
        prefs.save(update_fields=["excluded", "outcome"])
        model = _new_version(user=user, prefs=prefs)
        task_enqueue_on_commit(task=train_model, args=[model.pk])
    return model


def _new_version(*, user, prefs: PredictiveSettings) -> ScoringModel:
    # The unique version is the claim: two requests at once get two versions.
    for _ in range(5):
        top = ScoringModel.objects.aggregate(v=Max("version"))["v"] or 0
        try:
            with transaction.atomic():
                return ScoringModel.objects.create(
                    version=top + 1,
                    requested_by=user,
                    outcome=prefs.outcome,
                    excluded=list(prefs.excluded),
                )
        except Exception:  # noqa: S112 - IntegrityError on a version taken meanwhile
            continue
    raise TrainingRefused("Could not reserve a model version; try again.")


def scoring_model_train(*, model_id: int, hgb: bool = True, score: bool = True) -> ScoringModel:
    """The task's body: read every lead, train, evaluate, store; then score every lead."""
    import joblib

    from .dataset import attribute_specs, build_table, known_outcomes
    from .learner import train

    started = time.monotonic()
    claimed = ScoringModel.objects.filter(pk=model_id, status=ScoringModel.Status.TRAINING)
    model = claimed.first()
    if model is None:
        return ScoringModel.objects.get(pk=model_id)  # done already: a redelivered task
    positives, negatives = known_outcomes(model.outcome)
    needed = min_outcomes()
    if positives < needed or negatives < needed:
        model.status = ScoringModel.Status.TOO_FEW_OUTCOMES
        model.positives, model.negatives = positives, negatives
        model.message = (
            f"{positives} leads reached the outcome and {negatives} ended in nurture or junk; "
            f"a model needs at least {needed} of each. The scoring rules work alone until then."
        )
        model.trained_at = timezone.now()
        model.save()
        return model
    try:
        specs = attribute_specs()
        table = build_table(outcome=model.outcome, specs=specs)
        result = train(table, excluded=set(model.excluded), hgb=hgb)
    except Exception as exc:
        # The page says so at once, rather than "training" until the stale sweep.
        log.exception("predictive model v%s failed", model.version)
        model.status = ScoringModel.Status.FAILED
        model.message = f"The training stopped: {exc}"[:2000]
        model.save(update_fields=["status", "message"])
        raise
    labelled = table.label >= 0
    created = table.created[labelled]
    buffer = io.BytesIO()
    joblib.dump({"model": result.model, "specs": specs}, buffer, compress=3)
    model.status = ScoringModel.Status.READY
    model.trained_at = timezone.now()
    model.algorithm = result.algorithm
    model.features = result.model.features
    model.flagged_leaks = result.flagged_leaks
    model.positives = int((table.label == 1).sum())
    model.negatives = int((table.label == 0).sum())
    model.window_start = _when(created.min())
    model.window_end = _when(created.max())
    model.train_size, model.test_size = result.train_size, result.test_size
    model.auc, model.ece = result.auc, result.ece
    model.lift, model.calibration = result.lift, result.calibration
    model.candidates, model.strongest = result.candidates, result.strongest
    model.artifact = buffer.getvalue()
    model.seconds = round(time.monotonic() - started, 2)
    model.save()
    del table
    if score:
        leads_score(model=model)
    return model


def _when(seconds: float):
    return dt.datetime.fromtimestamp(float(seconds), tz=dt.UTC)


def current_model() -> ScoringModel | None:
    return (
        ScoringModel.objects.filter(status=ScoringModel.Status.READY)
        .defer("artifact")
        .order_by("-version")
        .first()
    )


_loaded: dict[tuple, dict] = {}


def load_artifact(model: ScoringModel) -> dict:
    """The fitted model, unpickled once per process and version."""
    import joblib

    # Keyed by when it was trained too: a database rebuilt (tests, a restore) reuses ids.
    key = (model.pk, model.version, model.trained_at)
    found = _loaded.get(key)
    if found is None:
        blob = ScoringModel.objects.filter(pk=model.pk).values_list("artifact", flat=True)[0]
        found = joblib.load(io.BytesIO(bytes(blob)))
        _loaded.clear()
        _loaded[key] = found
    return found


def _escape(text: str) -> str:
    """COPY's text format reads a backslash as an escape: JSON's own are doubled."""
    return text.replace("\\", "\\\\")


def _fragments(additive, *, copy_text: bool) -> list[list[str]]:
    """Per feature and slot, the JSON of a reason up to its contribution: a million leads'
    reasons are then joined strings, not a million lists of dicts through json.dumps."""
    escape = _escape if copy_text else str
    return [
        [
            escape(
                '{"feature": '
                + json.dumps(code.name, ensure_ascii=False)
                + ', "value": '
                + json.dumps(label, ensure_ascii=False)
                + ', "contribution": '
            )
            for label in code.labels
        ]
        for code in additive.codes
    ]


OTHER_FRAGMENT = '{"feature": ' + json.dumps(OTHER_FEATURES) + ', "value": null, "contribution": '


def leads_score(*, model: ScoringModel | None = None, leads=None) -> int:
    """Score leads (all of them, or the queryset given) with the model (default: current).
    Writes `LeadPrediction` rows; answers how many."""
    import numpy as np

    from .dataset import Column, build_table

    model = model or current_model()
    if model is None:
        return 0
    artifact = load_artifact(model)
    additive: AdditiveModel = artifact["model"]
    levels = {c.name: c.levels for c in additive.codes if c.kind == "categorical"}
    table = build_table(outcome=None, specs=artifact["specs"], levels=levels, leads=leads)
    if not len(table.ids):
        return 0
    columns = {c.name: c for c in table.columns}
    for code in additive.codes:  # a feature the data no longer has scores as missing
        if code.name not in columns:
            empty = np.zeros(len(table.ids), dtype=np.int32)
            if code.kind == "numeric":
                empty = np.full(len(table.ids), np.nan)
            columns[code.name] = Column(code.name, code.kind, empty, code.levels)
    now = timezone.now()
    written = 0
    copy_text = connection.vendor == "postgresql"
    fragments = _fragments(additive, copy_text=copy_text)
    other = _escape(OTHER_FRAGMENT) if copy_text else OTHER_FRAGMENT
    tail = f"\t{model.version}\t{now.isoformat()}\n"
    # A million leads: a thread on its own connection writes one batch while this one builds
    # the next (the database's work and Python's overlap). Small sets write here, in the
    # caller's transaction.
    threaded = copy_text and len(table.ids) > 2 * SCORE_BATCH
    writer = _Writer(version=model.version, now=now, threaded=threaded)
    for start in range(0, len(table.ids), SCORE_BATCH):
        part = slice(start, start + SCORE_BATCH)
        sub = {k: Column(c.name, c.kind, c.values[part], c.levels) for k, c in columns.items()}
        contrib, slots = additive.contributions(sub)
        logits = additive.base + contrib.sum(axis=1)
        probability = 1.0 / (1.0 + np.exp(-logits))
        k = min(REASONS, contrib.shape[1])
        strength = -np.abs(contrib)
        top = np.argpartition(strength, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(
            top, np.argsort(np.take_along_axis(strength, top, axis=1), axis=1), axis=1
        )
        top_contrib = np.take_along_axis(contrib, top, axis=1)
        top_slots = np.take_along_axis(slots, top, axis=1)
        rest = contrib.sum(axis=1) - top_contrib.sum(axis=1)
        ids = table.ids[part].tolist()
        p_list = probability.tolist()
        top_l, slots_l, contrib_l = top.tolist(), top_slots.tolist(), top_contrib.tolist()
        rest_l = rest.tolist()
        base = repr(additive.base)
        rows = []
        for i, lead_id in enumerate(ids):
            reasons = ", ".join(
                [
                    f"{fragments[j][slot]}{c:.6f}}}"
                    for j, slot, c in zip(top_l[i], slots_l[i], contrib_l[i], strict=True)
                ]
            )
            # One COPY line (PostgreSQL), or the same fields split again (other databases).
            rows.append(
                f"{lead_id}\t{p_list[i]!r}\t{base}\t[{reasons}, {other}{rest_l[i]:.6f}}}]{tail}"
            )
        writer.put((ids, rows))
        written += len(rows)
        threshold_moves(model=model, lead_ids=table.ids[part], probabilities=probability)
    writer.close()
    return written


class _Writer:
    def __init__(self, *, version: int, now, threaded: bool):
        self.version, self.now = version, now
        self.thread = None
        self.error: BaseException | None = None
        if threaded:
            self.queue: queue.Queue = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._run, name="predictive-writer")
            self.thread.start()

    def put(self, rows: tuple[list[int], list[str]]) -> None:
        if self.thread is None:
            _write(rows, version=self.version, now=self.now)
            return
        if self.error is not None:
            raise self.error
        self.queue.put(rows)

    def _run(self) -> None:
        from django.db import connection as own

        try:
            while (rows := self.queue.get()) is not None:
                if self.error is None:
                    _write(rows, version=self.version, now=self.now)
        except BaseException as exc:  # re-raised in the scoring thread
            self.error = exc
            while self.queue.get() is not None:
                pass
        finally:
            own.close()

    def close(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            if self.error is not None:
                raise self.error


def _write(batch: tuple[list[int], list[str]], *, version: int, now) -> int:
    ids, rows = batch
    if connection.vendor == "postgresql":
        return _write_postgresql(ids, rows)
    objects = []
    for line in rows:
        lead_id, p, base, reasons, _, _ = line.rstrip("\n").split("\t")
        objects.append(
            LeadPrediction(
                lead_id=int(lead_id),
                probability=float(p),
                base=float(base),
                reasons=json.loads(reasons),
                model_version=version,
                scored_at=now,
            )
        )
    LeadPrediction.objects.bulk_create(
        objects,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["lead"],
        update_fields=["probability", "base", "reasons", "model_version", "scored_at"],
    )
    return len(objects)


# Scorers (a training's, the pending sweep) write one at a time: a batch replaces its leads'
# rows, and two batches holding the same lead would otherwise collide.
WRITE_LOCK = 16_000_016


def _write_postgresql(ids: list[int], lines: list[str]) -> int:
    """Replace the batch's rows: delete them, then COPY the new ones straight in (one pass;
    an upsert through a staging table wrote every row twice)."""
    table = LeadPrediction._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        # A lost batch is scored again (score_pending): no need to wait for its WAL flush.
        cursor.execute("SET LOCAL synchronous_commit TO off")
        cursor.execute(f"DELETE FROM {table} WHERE lead_id = ANY(%s)", [ids])
        columns = "lead_id, probability, base, reasons, model_version, scored_at"
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for start in range(0, len(lines), 5000):
                copy.write("".join(lines[start : start + 5000]))
    return len(lines)


def model_status(model: ScoringModel | None = None) -> dict:
    """The API's answer: the newest model's state, the served model's evaluation."""
    newest = ScoringModel.objects.defer("artifact").order_by("-version").first()
    served = current_model()
    prefs = PredictiveSettings.load()
    if newest is not None and newest.status == ScoringModel.Status.TRAINING:
        status = "training"
    elif served is not None:
        status = "ready"
    else:
        status = "too_few_outcomes"
    shown = served
    return {
        "status": status,
        "version": shown.version if shown else None,
        "trained_at": shown.trained_at if shown else None,
        "outcome": shown.outcome if shown else prefs.outcome,
        "algorithm": shown.algorithm if shown else None,
        "features": shown.features if shown else [],
        "excluded": shown.excluded if shown else list(prefs.excluded),
        "flagged_leaks": shown.flagged_leaks if shown else [],
        "auc": _finite(shown.auc) if shown else None,
        "ece": _finite(shown.ece) if shown else None,
        "lift": shown.lift if shown else [],
        "calibration": shown.calibration if shown else [],
        "window": {
            "start": shown.window_start if shown else None,
            "end": shown.window_end if shown else None,
        },
        "message": (newest.message if newest is not None and not served else ""),
    }


def _finite(x):
    return None if x is None or not math.isfinite(x) else round(x, 4)


STALE_TRAINING_SECONDS = 2 * 3600


def scoring_model_stale_trainings_fail(*, now=None) -> int:
    """A training whose worker died is marked failed, so the page stops saying "training"."""
    now = now or timezone.now()
    return ScoringModel.objects.filter(
        status=ScoringModel.Status.TRAINING,
        created_at__lt=now - dt.timedelta(seconds=STALE_TRAINING_SECONDS),
    ).update(status=ScoringModel.Status.FAILED, message="The training did not finish.")


def scoring_models_nightly() -> ScoringModel | None:
    scoring_model_stale_trainings_fail()
    if ScoringModel.objects.filter(status=ScoringModel.Status.TRAINING).exists():
        return None
    return scoring_model_request(user=None)


PENDING_BATCH = 50_000


def leads_score_pending(*, limit: int = PENDING_BATCH) -> int:
    """Score leads that have no prediction from the current model or changed since theirs."""
    from django.db.models import F, Q, Subquery

    model = current_model()
    if model is None:
        return 0
    pending = Lead.objects.filter(
        Q(prediction__isnull=True)
        | ~Q(prediction__model_version=model.version)
        | Q(updated_at__gt=F("prediction__scored_at"))
    ).order_by("id")
    batch = Lead.objects.filter(pk__in=Subquery(pending.values("pk")[:limit]))
    return leads_score(model=model, leads=batch)


def predictive_threshold_set(*, probability: float | None) -> PredictiveSettings:
    prefs = PredictiveSettings.load()
    prefs.mql_probability = probability
    prefs.save(update_fields=["mql_probability"])
    return prefs


def threshold_moves(*, model: ScoringModel, lead_ids, probabilities) -> int:
    """Suspects and nurtured leads whose probability reached the threshold become MQLs (the
    system names the model); the points threshold keeps working beside it."""
    from funnel.errors import TransitionError
    from funnel.services import transition_lead
    from leads.stages import Stage

    from ..scoring import THRESHOLD_MOVES

    threshold = PredictiveSettings.load().mql_probability
    if threshold is None:
        return 0
    over = {
        int(i): float(p) for i, p in zip(lead_ids, probabilities, strict=True) if p >= threshold
    }
    if not over:
        return 0
    moved = 0
    candidates = Lead.objects.filter(pk__in=list(over), stage__in=list(THRESHOLD_MOVES))
    for lead in candidates.only("pk", "stage"):
        why = (
            f"probability {over[lead.pk]:.0%} ≥ {threshold:.0%} (predictive model v{model.version})"
        )
        try:
            transition_lead(
                lead_id=lead.pk, to=Stage.MQL, system_actor=why, expected_from=lead.stage
            )
            moved += 1
        except TransitionError:
            continue
    return moved
