"""Date ranges over the rollups: whole months read the month rows, the edges read day rows."""

import datetime as dt

from django.db.models import Q

from .models import Grain


def _next_month(day: dt.date) -> dt.date | None:
    """The first day of the month after `day`'s; None after December 9999 (no such day)."""
    if day.year == dt.MAXYEAR and day.month == 12:
        return None
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def period_q(since: dt.date | None, until: dt.date | None) -> Q:
    """Rows covering the days since..until (both inclusive, either open), each day once."""
    if since and until and since > until:
        return Q(pk__in=[])
    # The whole months inside the range: [first, stop), as month starts.
    first = None if since is None else since if since.day == 1 else _next_month(since)
    if since is not None and first is None:  # since in December 9999: its days alone
        first = dt.date.max
    stop = None
    if until is not None:
        after = _next_month(until)
        if after is None or after - dt.timedelta(days=1) != until:
            stop = until.replace(day=1)  # until ends mid-month (or is 9999-12-31)
        else:
            stop = after
        if after is None and until.day == 31:
            stop = None  # through the end of the calendar: an open end
    if first is not None and stop is not None and first >= stop:
        days = Q(grain=Grain.DAY)
        if since:
            days &= Q(period__gte=since)
        if until:
            days &= Q(period__lte=until)
        return days
    months = Q(grain=Grain.MONTH)
    if first is not None:
        months &= Q(period__gte=first)
    if stop is not None:
        months &= Q(period__lt=stop)
    query = months
    if since is not None and since < first:
        query |= Q(grain=Grain.DAY, period__gte=since, period__lt=first)
    if until is not None and stop is not None and stop <= until:
        query |= Q(grain=Grain.DAY, period__gte=stop, period__lte=until)
    return query
