"""What one lead contributes to the rollups, computed from its log. Pure functions: the live
refresh and the rebuild both call `lead_fact`, so they cannot disagree.

A contribution is a list of entries `[table, day, extra, {column: value}]`:
- "cohort", the day it entered (its first log row): counted once, in its stage now and in
  every forward stage up to the furthest it ever reached;
- "reach", the day it first reached a forward stage (or a later one, if it skipped it);
- "bins", the day it entered, [kind, stage, bin]: how long it took to reach a stage
  ("to") or how long one stay in a stage lasted ("in");
- "reasons", the day it entered, [verb, reason code]: each transition with a reason.
"""

import datetime as dt
import itertools
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from leads.stages import FORWARD_PATH, FORWARD_RANK

# Duration bins, by lower edge in hours. The histograms say which bin holds the middle
# lead(s); their exact values come from the LeadDuration rows of that bin (percentile_seconds).
BIN_EDGES_HOURS = (
    0, 1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 144, 168, 240, 336, 504, 720,
    1080, 1440, 2160, 2880, 4320, 6480, 8760, 13140, 17520,
)  # fmt: skip
BIN_EDGES_SECONDS = tuple(hours * 3600 for hours in BIN_EDGES_HOURS)


def duration_bin(seconds: int) -> int:
    return max(0, bisect_right(BIN_EDGES_SECONDS, seconds) - 1)


def site_date(moment: dt.datetime) -> dt.date:
    """The day in the installation's time zone (settings.TIME_ZONE)."""
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def source_key(source: str | None) -> str:
    return "=" + (source or "").strip().lower()


def owner_key(owner_id: int | None) -> int:
    return owner_id or 0


@dataclass(frozen=True)
class LogRow:
    at: dt.datetime
    from_stage: str
    to_stage: str
    verb: str
    reason: str = ""


@dataclass
class Fact:
    entered_at: dt.datetime
    entered_on: dt.date
    stage: str
    stage_since: dt.datetime
    furthest: int
    source_key: str
    owner_key: int
    campaigns: list[int]
    contribution: list = field(default_factory=list)
    # Each exact duration: (kind, stage, seconds), "to" a forward stage or "in" one stay.
    durations: list = field(default_factory=list)
    counted_through: int = 0  # the newest log row id read


def _is_lost_deal(row: LogRow) -> bool:
    return row.from_stage == "opportunity" and row.to_stage == "nurture"


def _is_unsubscribe(row: LogRow) -> bool:
    return row.verb == "unsubscribe" or row.reason.startswith("unsub")


def lead_fact(
    *,
    stage: str,
    source: str | None,
    owner_id: int | None,
    campaigns,
    won_amount: Decimal | None,
    rows: list[LogRow],
) -> Fact | None:
    """The lead's fact from its log rows (oldest first); None for a lead without a log."""
    if not rows:
        return None
    entered_at = rows[0].at
    entered_on = site_date(entered_at)
    day = entered_on.isoformat()

    first_at: dict[int, dt.datetime] = {}
    for row in rows:
        rank = FORWARD_RANK.get(row.to_stage)
        if rank is not None:
            for lower in range(rank + 1):
                if lower not in first_at or row.at < first_at[lower]:
                    first_at[lower] = row.at
    furthest = max(first_at) if first_at else -1

    cohort: dict[str, object] = {"leads": 1, f"now_{stage}": 1}
    for rank in range(furthest + 1):
        cohort[f"reached_{FORWARD_PATH[rank]}"] = 1
    counts = {
        "accepts": sum(row.verb == "accept" for row in rows),
        "rejects": sum(row.verb == "reject" for row in rows),
        "nurtured": int(any(row.to_stage == "nurture" for row in rows)),
        "recycled": int(any(row.verb == "recycle" for row in rows)),
        "unsubscribed": int(any(_is_unsubscribe(row) for row in rows)),
        # A decided opportunity that was lost (opportunity -> nurture, the lifecycle's `lose`)
        # and never won afterwards: won takes precedence, as in the win rate.
        "lost": int(
            furthest < FORWARD_RANK["customer"] and any(_is_lost_deal(row) for row in rows)
        ),
    }
    cohort.update({name: n for name, n in counts.items() if n})
    if won_amount:
        cohort["won_amount"] = str(won_amount)
    entries: list = [["cohort", day, [], cohort]]

    reach: dict[str, dict[str, int]] = defaultdict(dict)
    for rank, at in first_at.items():
        reach[site_date(at).isoformat()][f"reached_{FORWARD_PATH[rank]}"] = 1
    entries += [["reach", when, [], columns] for when, columns in sorted(reach.items())]

    bins: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    durations: list[tuple[str, str, int]] = []
    for rank in range(1, furthest + 1):
        seconds = int((first_at[rank] - entered_at).total_seconds())
        durations.append(("to", FORWARD_PATH[rank], seconds))
    for stay, following in itertools.pairwise(rows):
        seconds = int((following.at - stay.at).total_seconds())
        durations.append(("in", stay.to_stage, seconds))
    for kind, of_stage, seconds in durations:
        cell = bins[(kind, of_stage, duration_bin(seconds))]
        cell[0] += 1
        cell[1] += seconds
    entries += [
        ["bins", day, list(key), {"n": n, "seconds": seconds}]
        for key, (n, seconds) in sorted(bins.items())
    ]

    reasons: dict[tuple, int] = defaultdict(int)
    for row in rows:
        if row.reason:
            reasons[(row.verb, row.reason)] += 1
    entries += [["reasons", day, list(key), {"n": n}] for key, n in sorted(reasons.items())]

    return Fact(
        entered_at=entered_at,
        entered_on=entered_on,
        stage=stage,
        stage_since=rows[-1].at,
        furthest=furthest,
        source_key=source_key(source),
        owner_key=owner_key(owner_id),
        campaigns=sorted(set(campaigns)),
        contribution=entries,
        durations=durations,
    )


def bin_bounds(bin_: int) -> tuple[int | None, int | None]:
    """The seconds a histogram bin holds, [low, high); None for an open end (the first bin
    also holds any negative duration, the last one everything past its edge)."""
    low = BIN_EDGES_SECONDS[bin_] if bin_ else None
    high = BIN_EDGES_SECONDS[bin_ + 1] if bin_ + 1 < len(BIN_EDGES_SECONDS) else None
    return low, high


def percentile_seconds(cells, fraction: float, values_in_bin) -> float | None:
    """The exact percentile (linear between the two nearest ranks, as PostgreSQL's
    percentile_cont; the median is the mean of the two middle values for an even count) of
    the durations a histogram counts. The histogram says which bin holds the wanted ranks;
    `values_in_bin(bin, offset, count)` gives the exact values there, in order."""
    cells = sorted((b, n, s) for b, n, s in cells if n)
    total = sum(n for _, n, _ in cells)
    if not total:
        return None
    position = fraction * (total - 1)
    low = int(position)
    high = min(total - 1, low + 1) if position > low else low
    found: dict[int, float] = {}
    seen = 0
    for bin_, n, seconds in cells:
        inside = [rank for rank in sorted({low, high}) if seen <= rank < seen + n]
        if inside:
            if n == 1:
                values = [seconds]
            else:
                count = inside[-1] - inside[0] + 1
                values = list(values_in_bin(bin_, inside[0] - seen, count))
                if len(values) != count:  # the rows moved under us: the bin's mean
                    values = [seconds / n] * count
            for rank in inside:
                found[rank] = values[rank - inside[0]]
        seen += n
    if low == high:
        return float(found[low])
    if position - low == 0.5:
        return (found[low] + found[high]) / 2
    return found[low] + (found[high] - found[low]) * (position - low)
