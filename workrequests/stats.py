"""How work requests fare, per model and period, for the Stats page.

For each model and period (day, week or month of submission, in the site's
time zone): requests by status, inputs submitted and processed, the cache
hit rate, and the median (p50) and 95th percentile (p95) of four durations,
in seconds, over the requests that completed:

- queue wait: from submitted to scheduled (waiting for an instance);
- instance start: from scheduled to instance ready (zero when an idle
  instance was already up);
- run time: from processing to finished (the job on the instance);
- total: from submitted to finished (what the person who asked waited).

A request answered entirely from the cache was never scheduled, so it counts
only in the total. PostgreSQL computes everything in one query with
`percentile_cont`; other databases (SQLite) get the same figures computed
here from the rows, which is fine at the sizes SQLite is meant for.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Sum,
    TextChoices,
    Value,
)
from django.db.models.functions import Greatest, Trunc
from django.utils import timezone

from workrequests.dates import submitted_between
from workrequests.models import WorkRequest

Status = WorkRequest.Status


class Period(TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


# name: (label, start field, end field)
DURATIONS: dict[str, tuple[str, str, str]] = {
    "queue_wait": ("Queue wait", "submitted_at", "scheduled_at"),
    "instance_start": ("Instance start", "scheduled_at", "instance_ready_at"),
    "run_time": ("Run time", "processing_at", "finished_at"),
    "total": ("Total", "submitted_at", "finished_at"),
}
PERCENTILES = {"p50": 0.5, "p95": 0.95}


@dataclass
class StatsRow:
    model_id: str
    period: date
    counts: dict[str, int] = field(default_factory=dict)
    inputs: int = 0
    processed: int = 0
    cached: int = 0
    durations: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def hit_rate(self) -> float | None:
        """Inputs answered from the cache per input submitted, 0 to 1."""
        if not self.inputs:
            return None
        return self.cached / self.inputs


def work_request_stats(
    *,
    date_from: date,
    date_to: date,
    period: Period = Period.DAY,
    model_ids: Iterable[str] = (),
) -> list[StatsRow]:
    """Rows per model and period for requests submitted in the dates given.

    Both dates are included. Ordered by model, then period.
    """
    requests = submitted_between(WorkRequest.objects.all(), date_from, date_to)
    wanted = list(model_ids)
    if wanted:
        requests = requests.filter(model__in=wanted)
    if connection.vendor == "postgresql":
        return stats_in_sql(requests, period)
    return stats_in_python(requests, period)


# --- PostgreSQL ----------------------------------------------------------


class _Seconds(Func):
    """Seconds from the second expression to the first, as a float."""

    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    arg_joiner = " - "
    output_field = FloatField()


class _PercentileCont(Aggregate):
    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        # A float we chose, never user input: it is written into the SQL.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def _seconds_expression(name: str) -> Any:
    _, start, end = DURATIONS[name]
    seconds = _Seconds(F(end), F(start))
    if name == "instance_start":
        # A warm instance was ready before the request was scheduled.
        return Greatest(seconds, Value(0.0))
    return seconds


def stats_in_sql(requests: QuerySet[WorkRequest], period: Period) -> list[StatsRow]:
    completed = Q(status=Status.COMPLETED)
    aggregates: dict[str, Any] = {
        f"count_{status}": Count("id", filter=Q(status=status))
        for status in Status.values
    }
    aggregates.update(
        inputs=Sum("input_count"),
        processed=Sum("done_count"),
        cached=Sum("cached_count"),
    )
    for name in DURATIONS:
        for label, fraction in PERCENTILES.items():
            aggregates[f"{name}_{label}"] = _PercentileCont(
                _seconds_expression(name), fraction=fraction, filter=completed
            )

    zone = timezone.get_current_timezone()
    grouped = (
        requests.annotate(
            bucket=Trunc("submitted_at", Period(period).value, tzinfo=zone)
        )
        .values("model_id", "bucket")
        .annotate(**aggregates)
        .order_by("model_id", "bucket")
    )
    rows = []
    for values in grouped:
        row = StatsRow(
            model_id=values["model_id"],
            period=timezone.localtime(values["bucket"], zone).date(),
            counts={status: values[f"count_{status}"] for status in Status.values},
            inputs=values["inputs"] or 0,
            processed=values["processed"] or 0,
            cached=values["cached"] or 0,
        )
        row.durations = {
            name: {label: values[f"{name}_{label}"] for label in PERCENTILES}
            for name in DURATIONS
        }
        rows.append(row)
    return rows


# --- Anywhere else -------------------------------------------------------


def stats_in_python(requests: QuerySet[WorkRequest], period: Period) -> list[StatsRow]:
    fields = {"submitted_at", *(f for _, *pair in DURATIONS.values() for f in pair)}
    columns = [
        "model_id",
        "status",
        "input_count",
        "done_count",
        "cached_count",
        *sorted(fields),
    ]
    rows: dict[tuple[str, date], StatsRow] = {}
    samples: dict[tuple[str, date], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for values in requests.order_by().values(*columns).iterator():
        key = (values["model_id"], period_start(values["submitted_at"], period))
        row = rows.get(key)
        if row is None:
            row = rows[key] = StatsRow(
                model_id=key[0],
                period=key[1],
                counts=dict.fromkeys(Status.values, 0),
            )
        row.counts[values["status"]] += 1
        row.inputs += values["input_count"]
        row.processed += values["done_count"]
        row.cached += values["cached_count"]
        if values["status"] == Status.COMPLETED:
            _add_samples(samples[key], values)

    for key, row in rows.items():
        row.durations = {
            name: {
                label: percentile(samples[key][name], fraction)
                for label, fraction in PERCENTILES.items()
            }
            for name in DURATIONS
        }
    return [rows[key] for key in sorted(rows)]


def _add_samples(samples: dict[str, list[float]], values: dict[str, Any]) -> None:
    for name, (_, start, end) in DURATIONS.items():
        if values[start] is None or values[end] is None:
            continue
        seconds = (values[end] - values[start]).total_seconds()
        if name == "instance_start":
            seconds = max(seconds, 0.0)
        samples[name].append(seconds)


def period_start(moment: datetime, period: Period) -> date:
    """The first day of the period `moment` falls in, in the site's time zone."""
    day = timezone.localtime(moment).date()
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period == Period.MONTH:
        return day.replace(day=1)
    return day


def percentile(values: list[float], fraction: float) -> float | None:
    """The percentile with linear interpolation, as `percentile_cont` does."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = math.ceil(position)
    weight = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * weight
