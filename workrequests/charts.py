"""Chart.js configurations for the Stats page, built from its rows.

The page embeds them as JSON; `static/js/workrequests.js` hands each to the
vendored Chart.js as it is, so what is drawn is decided here, next to the
figures, and tested in Python.
"""

from collections.abc import Callable
from typing import Any

from workrequests.models import WorkRequest
from workrequests.stats import StatsRow

STATUS_COLOURS = {
    WorkRequest.Status.QUEUED: "#8792a2",
    WorkRequest.Status.SCHEDULING: "#e0b341",
    WorkRequest.Status.PROCESSING: "#a66300",
    WorkRequest.Status.COMPLETED: "#1f7a4d",
    WorkRequest.Status.FAILED: "#b42318",
    WorkRequest.Status.CANCELLED: "#c4cad4",
}
MODEL_COLOURS = ["#2457c5", "#1f7a4d", "#a66300", "#b42318", "#6f42c1", "#0f7b8a"]


def stats_charts(rows: list[StatsRow]) -> list[dict[str, Any]]:
    """Requests by status per period; p95 total time and hit rate per model."""
    if not rows:
        return []
    periods = sorted({row.period for row in rows})
    labels = [period.isoformat() for period in periods]

    status_sets = []
    for status, label in WorkRequest.Status.choices:
        counts = [
            sum(row.counts[status] for row in rows if row.period == period)
            for period in periods
        ]
        if any(counts):
            status_sets.append(
                {
                    "label": label,
                    "data": counts,
                    "backgroundColor": STATUS_COLOURS[WorkRequest.Status(status)],
                }
            )

    def p95_total(row: StatsRow) -> float | None:
        return row.durations["total"]["p95"]

    def hit_percent(row: StatsRow) -> float | None:
        rate = row.hit_rate
        return None if rate is None else round(rate * 100, 1)

    return [
        _chart(
            "requests-by-status",
            "Requests by status",
            "bar",
            labels,
            status_sets,
            stacked=True,
        ),
        _chart(
            "total-time-p95",
            "Total time, p95 (s)",
            "line",
            labels,
            _per_model(rows, periods, p95_total),
        ),
        _chart(
            "cache-hit-rate",
            "Cache hit rate (%)",
            "line",
            labels,
            _per_model(rows, periods, hit_percent),
        ),
    ]


def _per_model(
    rows: list[StatsRow],
    periods: list[Any],
    value: Callable[[StatsRow], float | None],
) -> list[dict[str, Any]]:
    by_key = {(row.model_id, row.period): row for row in rows}
    models = sorted({row.model_id for row in rows})
    datasets = []
    for index, model_id in enumerate(models):
        colour = MODEL_COLOURS[index % len(MODEL_COLOURS)]
        data = []
        for period in periods:
            row = by_key.get((model_id, period))
            data.append(None if row is None else value(row))
        datasets.append(
            {
                "label": model_id,
                "data": data,
                "borderColor": colour,
                "backgroundColor": colour,
                "spanGaps": True,
            }
        )
    return datasets


def _chart(
    chart_id: str,
    title: str,
    kind: str,
    labels: list[str],
    datasets: list[dict[str, Any]],
    *,
    stacked: bool = False,
) -> dict[str, Any]:
    return {
        "id": chart_id,
        "title": title,
        "config": {
            "type": kind,
            "data": {"labels": labels, "datasets": datasets},
            "options": {
                "responsive": True,
                "maintainAspectRatio": False,
                "animation": False,
                "plugins": {"title": {"display": True, "text": title}},
                "scales": {
                    "x": {"stacked": stacked},
                    "y": {"stacked": stacked, "beginAtZero": True},
                },
            },
        },
    }
