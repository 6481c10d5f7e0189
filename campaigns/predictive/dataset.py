"""The table a model learns from and scores: one row per lead, columns known when the lead
becomes an MQL, read in chunks straight into numpy arrays (a million leads without a million
dicts).

Columns:
- the lead's own fields (country, city, industry, title, source, company size, whether it has a
  phone or a company);
- its imported attributes (`attributes.<name>`), numeric or categorical as their values say;
- the campaign it first joined and that campaign's channel;
- its engagement (forms, clicks, visits, opens) before the decision on it.

The outcome comes from the log: reached SQL (or became a customer) against nurture or junk;
leads still open have none.
"""

import datetime as dt
import math
from array import array
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Case, Exists, F, IntegerField, Max, Min, OuterRef, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from funnel.models import Transition
from leads.models import Lead
from leads.stages import Stage

from ..models import CampaignMembership, EngagementEvent
from .models import Outcome

CHUNK = 20_000
SAMPLE = 4_000
MAX_ATTRIBUTES = 80
MAX_LEVELS = 2_000  # categorical values kept while reading; the rest are "other"

LEAD_TEXT = ("country", "city", "industry", "title", "source")
REACHED_SQL = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
DECIDED = (Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.NURTURE, Stage.JUNK)
CLOSED = (Stage.NURTURE, Stage.JUNK)
ENGAGEMENT_KINDS = tuple(EngagementEvent.Kind.values)


@dataclass
class Column:
    name: str  # what the marketer sees and excludes: "country", "attributes.Lead Source"
    kind: str  # "numeric" or "categorical"
    values: np.ndarray  # float64 (NaN missing) or int32 codes (0 missing)
    levels: list[str] = field(default_factory=list)  # categorical: code -> text (0 is "")


@dataclass
class Table:
    ids: np.ndarray
    created: np.ndarray  # epoch seconds, for the time-ordered split
    columns: list[Column]
    label: np.ndarray | None = None  # 1, 0 or -1 (unknown)


def _number(text: str | None) -> float:
    if text is None or text == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def _is_number(text: str) -> bool:
    return not math.isnan(_number(text))


@dataclass
class AttributeSpec:
    key: str
    kind: str  # numeric, categorical


def attribute_specs(leads=None, *, sample: int = SAMPLE) -> list[AttributeSpec]:
    """Which imported attributes to read and as what, from a sample of leads (oldest and newest
    alike). Identifiers (a distinct value per lead) and free text are left out: they cannot
    generalise."""
    leads = leads if leads is not None else Lead.objects.all()
    picked = dict(leads.order_by("id").values_list("id", "attributes")[: sample // 2])
    picked.update(leads.order_by("-id").values_list("id", "attributes")[: sample // 2])
    rows = list(picked.values())  # each lead once, however few there are
    seen: dict[str, list[str]] = {}
    for attrs in rows:
        if not isinstance(attrs, dict):
            continue
        for key, value in attrs.items():
            if value is None or isinstance(value, dict | list):
                continue
            seen.setdefault(key, []).append(str(value).strip())
    specs = []
    for key, values in sorted(seen.items(), key=lambda kv: -len(kv[1])):
        present = [v for v in values if v]
        if len(present) < max(10, len(rows) // 100):
            continue
        distinct = len(set(present))
        numeric = sum(map(_is_number, present))
        if numeric >= 0.95 * len(present) and distinct > 12:
            if distinct >= 0.9 * len(present) and all(float(v).is_integer() for v in present):
                continue  # an identifier, such as a lead number
            specs.append(AttributeSpec(key, "numeric"))
        elif distinct <= max(50, 0.2 * len(present)):
            specs.append(AttributeSpec(key, "categorical"))
        if len(specs) >= MAX_ATTRIBUTES:
            break
    return specs


class _Coder:
    """Text to int codes as rows stream by; 0 is missing, 1 is "other" once the levels are
    full."""

    def __init__(self, levels: list[str] | None = None):
        self.levels = levels or ["", "(other)"]
        self.codes = {text: i for i, text in enumerate(self.levels)}
        self.frozen = levels is not None

    def code(self, text) -> int:
        if text is None:
            return 0
        text = str(text).strip()
        if not text:
            return 0
        found = self.codes.get(text)
        if found is not None:
            return found
        if self.frozen or len(self.levels) >= MAX_LEVELS:
            return 1
        self.codes[text] = len(self.levels)
        self.levels.append(text)
        return self.codes[text]


class _Rows:
    """Lead id -> row of the table, vectorised (no dict of a million ints)."""

    def __init__(self, ids: np.ndarray):
        self.order = np.argsort(ids, kind="stable")
        self.sorted = ids[self.order]

    def find(self, lead_ids) -> tuple[np.ndarray, np.ndarray]:
        """(rows, mask of the lead ids found)."""
        lead_ids = np.asarray(lead_ids, dtype=np.int64)
        where = np.searchsorted(self.sorted, lead_ids)
        where = np.clip(where, 0, max(len(self.sorted) - 1, 0))
        found = (
            self.sorted[where] == lead_ids if len(self.sorted) else np.zeros(len(lead_ids), bool)
        )
        return self.order[where[found]], found


def _chunks(rows, size: int = CHUNK):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _first_campaigns(rows_of: _Rows, n: int, coders, lead_ids=None) -> tuple[np.ndarray, ...]:
    """Codes of each lead's first campaign and its channel (0: none)."""
    campaign_codes = np.zeros(n, dtype=np.int32)
    channel_codes = np.zeros(n, dtype=np.int32)
    memberships = CampaignMembership.objects.all()
    if lead_ids is not None:
        memberships = memberships.filter(lead_id__in=lead_ids)
    rows = (
        memberships.order_by("lead_id", "joined_at", "id")
        .values_list("lead_id", "campaign__slug", "campaign__channel")
        .iterator(chunk_size=CHUNK)
    )
    last = None
    firsts = []
    for lead_id, slug, chan in rows:
        if lead_id != last:
            firsts.append((lead_id, coders[0].code(slug), coders[1].code(chan)))
            last = lead_id
    if firsts:
        data = np.asarray(firsts, dtype=np.int64)
        where, found = rows_of.find(data[:, 0])
        campaign_codes[where] = data[found, 1]
        channel_codes[where] = data[found, 2]
    return campaign_codes, channel_codes


def _log_facts(outcome: str, rows_of: _Rows, n: int, lead_ids=None):
    """Per lead: reached the outcome (0/1) and the first decision's time (NaN: none)."""
    positive = REACHED_SQL if outcome == Outcome.SQL else (Stage.CUSTOMER,)
    hit = np.zeros(n, dtype=np.int8)
    decided = np.full(n, np.nan)
    log = Transition.objects.order_by()
    if lead_ids is not None:
        log = log.filter(lead_id__in=lead_ids)
    rows = (
        log.values("lead_id")
        .annotate(
            hit=Max(
                Case(
                    When(to_stage__in=positive, then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
            ),
            decided_at=Min(Case(When(to_stage__in=DECIDED, then=F("at")))),
        )
        .values_list("lead_id", "hit", "decided_at")
        .iterator(chunk_size=CHUNK)
    )
    for batch in _chunks(rows):
        lead = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
        hits = np.fromiter((r[1] for r in batch), dtype=np.int8, count=len(batch))
        when = np.fromiter(
            (r[2].timestamp() if r[2] else np.nan for r in batch),
            dtype=np.float64,
            count=len(batch),
        )
        where, found = rows_of.find(lead)
        hit[where] = hits[found]
        decided[where] = when[found]
    return hit, decided


def _engagement_counts(rows_of: _Rows, cutoff: np.ndarray, n: int, lead_ids=None):
    counts = {kind: np.zeros(n, dtype=np.float64) for kind in ENGAGEMENT_KINDS}
    kinds = {kind: i for i, kind in enumerate(ENGAGEMENT_KINDS)}
    events = EngagementEvent.objects.order_by()
    if lead_ids is not None:
        events = events.filter(lead_id__in=lead_ids)
    rows = events.values_list("lead_id", "kind", "at").iterator(chunk_size=CHUNK)
    for batch in _chunks(rows):
        lead = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
        kind = np.fromiter((kinds.get(r[1], -1) for r in batch), dtype=np.int64, count=len(batch))
        at = np.fromiter((r[2].timestamp() for r in batch), dtype=np.float64, count=len(batch))
        where, found = rows_of.find(lead)
        kind, at = kind[found], at[found]
        before = (at <= cutoff[where]) & (kind >= 0)
        for name, i in kinds.items():
            pick = where[before & (kind == i)]
            np.add.at(counts[name], pick, 1)
    return counts


def build_table(
    *,
    outcome: str | None,
    specs: list[AttributeSpec],
    levels: dict[str, list[str]] | None = None,
    leads=None,
    now: dt.datetime | None = None,
) -> Table:
    """Read leads into columns. `outcome` None: no labels (scoring). `levels` freezes the
    categorical codes to a trained model's (scoring)."""
    now = now or timezone.now()
    # A small set of leads (scoring new ones) reads only its own log, memberships and events.
    subset = leads is not None and _is_small(leads)
    leads = leads if leads is not None else Lead.objects.all()
    subset_ids = leads.order_by().values("pk") if subset else None
    annotations = {
        f"a{i}": KeyTextTransform(spec.key, "attributes") for i, spec in enumerate(specs)
    }
    # Scoring needs neither the creation time nor the stage: no datetime parsed per lead.
    timed = outcome is not None
    head = ["created_at", "stage"] if timed else [Value(0.0), Value("")]
    fields = ["id", *head, *LEAD_TEXT, "company_size", "phone", "company"]
    query = (
        leads.order_by("created_at", "id")
        .annotate(**annotations)
        .values_list(*fields, *annotations)
        .iterator(chunk_size=CHUNK)
    )
    levels = levels or {}
    text_coders = {name: _Coder(levels.get(name)) for name in LEAD_TEXT}
    attr_coders = {
        spec.key: _Coder(levels.get(f"attributes.{spec.key}"))
        for spec in specs
        if spec.kind == "categorical"
    }
    # array.array, not lists: 8 bytes a value, not a Python object each.
    ids = array("q")
    created = array("d")
    closed = array("b")
    text_codes = {name: array("i") for name in LEAD_TEXT}
    size = array("d")
    has_phone = array("i")
    has_company = array("i")
    attr_values = {spec.key: array("d" if spec.kind == "numeric" else "i") for spec in specs}
    width = len(fields)
    for row in query:
        ids.append(row[0])
        created.append(row[1].timestamp() if timed else 0.0)
        closed.append(row[2] in CLOSED)
        for i, name in enumerate(LEAD_TEXT, start=3):
            text_codes[name].append(text_coders[name].code(row[i]))
        size.append(math.nan if row[8] is None else float(row[8]))
        has_phone.append(2 if row[9] else 1)
        has_company.append(2 if row[10] else 1)
        for spec, value in zip(specs, row[width:], strict=True):
            if spec.kind == "numeric":
                attr_values[spec.key].append(_number(value))
            else:
                attr_values[spec.key].append(attr_coders[spec.key].code(value))
    n = len(ids)
    id_array = np.frombuffer(ids, dtype=np.int64) if n else np.zeros(0, np.int64)
    rows_of = _Rows(id_array)

    label = None
    cutoff = np.full(n, now.timestamp())
    if outcome is not None:
        hit, decided = _log_facts(outcome, rows_of, n, lead_ids=subset_ids)
        label = np.full(n, -1, dtype=np.int8)
        label[np.frombuffer(closed, dtype=np.int8).astype(bool) if n else []] = 0
        label[hit == 1] = 1
        cutoff = np.where(np.isnan(decided), cutoff, decided)
    campaign_coder = _Coder(levels.get("campaign"))
    channel_coder = _Coder(levels.get("channel"))
    campaign_codes, channel_codes = _first_campaigns(
        rows_of, n, (campaign_coder, channel_coder), lead_ids=subset_ids
    )
    engagement = _engagement_counts(rows_of, cutoff, n, lead_ids=subset_ids)

    columns = [
        Column(name, "categorical", np.asarray(text_codes[name], dtype=np.int32), coder.levels)
        for name, coder in text_coders.items()
    ]
    columns.append(Column("company_size", "numeric", np.asarray(size, dtype=np.float64)))
    columns.append(
        Column("has_phone", "categorical", np.asarray(has_phone, np.int32), ["", "no", "yes"])
    )
    columns.append(
        Column("has_company", "categorical", np.asarray(has_company, np.int32), ["", "no", "yes"])
    )
    columns.append(Column("campaign", "categorical", campaign_codes, campaign_coder.levels))
    columns.append(Column("channel", "categorical", channel_codes, channel_coder.levels))
    for kind, counts in engagement.items():
        columns.append(Column(f"engagement.{kind}", "numeric", counts))
    for spec in specs:
        name = f"attributes.{spec.key}"
        if spec.kind == "numeric":
            columns.append(Column(name, "numeric", np.asarray(attr_values[spec.key], np.float64)))
        else:
            coder = attr_coders[spec.key]
            codes = np.asarray(attr_values[spec.key], dtype=np.int32)
            columns.append(Column(name, "categorical", codes, coder.levels))
    return Table(
        ids=id_array, created=np.asarray(created, dtype=np.float64), columns=columns, label=label
    )


def _is_small(leads) -> bool:
    return leads.count() <= 50_000


def known_outcomes(outcome: str) -> tuple[int, int]:
    """(positives, negatives) in the log now: the page's "too few outcomes" check, cheaply."""
    positive = REACHED_SQL if outcome == Outcome.SQL else (Stage.CUSTOMER,)
    reached = Transition.objects.filter(to_stage__in=positive)
    positives = reached.values("lead_id").distinct().count()
    # NOT EXISTS, an anti-join: NOT IN over a million ids degrades to a scan per lead.
    negatives = (
        Lead.objects.filter(stage__in=CLOSED)
        .exclude(Exists(reached.filter(lead_id=OuterRef("pk"))))
        .count()
    )
    return positives, negatives
