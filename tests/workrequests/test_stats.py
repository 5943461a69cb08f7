"""Stats per model and period: counts, hit rate and duration percentiles."""

import json
import re
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories import ModelFactory, UserFactory, WorkRequestFactory
from tests.workrequests.support import sign_in
from workrequests.charts import stats_charts
from workrequests.models import WorkRequest
from workrequests.stats import (
    Period,
    percentile,
    period_start,
    stats_in_python,
    stats_in_sql,
    work_request_stats,
)

pytestmark = pytest.mark.django_db

Status = WorkRequest.Status
DAY = date(2031, 3, 12)  # a Wednesday


def _at(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def _completed(model, user, *, day=DAY, wait=1.0, start=2.0, run=3.0, **fields):
    submitted = _at(day)
    scheduled = submitted + timedelta(seconds=wait)
    ready = scheduled + timedelta(seconds=start)
    processing = ready
    finished = processing + timedelta(seconds=run)
    return WorkRequestFactory(
        model=model,
        user=user,
        status=Status.COMPLETED,
        submitted_at=submitted,
        scheduled_at=scheduled,
        instance_ready_at=ready,
        processing_at=processing,
        finished_at=finished,
        **fields,
    )


@pytest.fixture
def model():
    return ModelFactory(id="describe")


@pytest.fixture
def user():
    return UserFactory()


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.95) == pytest.approx(3.85)
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) is None


def test_periods_start_on_the_day_the_monday_and_the_first():
    moment = _at(DAY)

    assert period_start(moment, Period.DAY) == DAY
    assert period_start(moment, Period.WEEK) == date(2031, 3, 10)
    assert period_start(moment, Period.MONTH) == date(2031, 3, 1)


def test_it_counts_statuses_inputs_and_the_hit_rate_per_model(model, user):
    other = ModelFactory(id="other-model")
    for wait in (1.0, 2.0, 3.0, 4.0):
        _completed(
            model, user, wait=wait, inputs=["A", "B"], done_count=2, cached_count=1
        )
    WorkRequestFactory(
        model=model, user=user, status=Status.FAILED, submitted_at=_at(DAY)
    )
    WorkRequestFactory(
        model=model, user=user, status=Status.QUEUED, submitted_at=_at(DAY)
    )
    _completed(other, user, wait=10.0)

    rows = work_request_stats(date_from=DAY, date_to=DAY)

    assert [(row.model_id, row.period) for row in rows] == [
        ("describe", DAY),
        ("other-model", DAY),
    ]
    row = rows[0]
    assert row.counts == {
        "QUEUED": 1,
        "SCHEDULING": 0,
        "PROCESSING": 0,
        "COMPLETED": 4,
        "FAILED": 1,
        "CANCELLED": 0,
    }
    assert row.total == 6
    assert (row.inputs, row.processed, row.cached) == (12, 8, 4)
    assert row.hit_rate == pytest.approx(4 / 12)
    assert row.durations["queue_wait"]["p50"] == pytest.approx(2.5)
    assert row.durations["queue_wait"]["p95"] == pytest.approx(3.85)
    assert row.durations["instance_start"]["p50"] == pytest.approx(2.0)
    assert row.durations["run_time"]["p95"] == pytest.approx(3.0)
    assert row.durations["total"]["p50"] == pytest.approx(7.5)
    assert rows[1].durations["queue_wait"]["p50"] == pytest.approx(10.0)


def test_a_warm_instance_starts_in_zero_seconds(model, user):
    # The instance was ready a minute before the request was scheduled.
    _completed(model, user, start=-60.0)

    [row] = work_request_stats(date_from=DAY, date_to=DAY)

    assert row.durations["instance_start"]["p50"] == 0.0


def test_a_request_answered_from_the_cache_counts_only_in_the_total(model, user):
    WorkRequestFactory(
        model=model,
        user=user,
        status=Status.COMPLETED,
        submitted_at=_at(DAY),
        finished_at=_at(DAY) + timedelta(milliseconds=40),
        cached_count=2,
    )

    [row] = work_request_stats(date_from=DAY, date_to=DAY)

    assert row.durations["queue_wait"] == {"p50": None, "p95": None}
    assert row.durations["total"]["p50"] == pytest.approx(0.04)
    assert row.hit_rate == 1.0


def test_it_keeps_to_the_dates_and_models_asked(model, user):
    other = ModelFactory(id="other-model")
    _completed(model, user, day=DAY - timedelta(days=1))
    _completed(model, user, day=DAY)
    _completed(model, user, day=DAY + timedelta(days=1))
    _completed(other, user, day=DAY)

    rows = work_request_stats(date_from=DAY, date_to=DAY, model_ids=["describe"])

    assert [(row.model_id, row.period, row.total) for row in rows] == [
        ("describe", DAY, 1)
    ]


def test_weeks_and_months_group_their_days(model, user):
    for offset in (-2, 0, 4, 6, 25):
        _completed(model, user, day=DAY + timedelta(days=offset))

    weeks = work_request_stats(
        date_from=date(2031, 3, 1), date_to=date(2031, 4, 30), period=Period.WEEK
    )
    months = work_request_stats(
        date_from=date(2031, 3, 1), date_to=date(2031, 4, 30), period=Period.MONTH
    )

    assert [(row.period, row.total) for row in weeks] == [
        (date(2031, 3, 10), 3),
        (date(2031, 3, 17), 1),
        (date(2031, 3, 31), 1),
    ]
    assert [(row.period, row.total) for row in months] == [
        (date(2031, 3, 1), 4),
        (date(2031, 4, 1), 1),
    ]


@pytest.mark.parametrize("period", list(Period))
def test_sql_and_python_give_the_same_figures(model, user, period):
    other = ModelFactory(id="other-model")
    for index in range(12):
        _completed(
            model if index % 3 else other,
            user,
            day=DAY + timedelta(days=index % 9),
            wait=index * 0.7,
            start=(index % 4) - 1.5,
            run=index**1.5,
            cached_count=index % 2,
        )
    WorkRequestFactory(
        model=model, user=user, status=Status.CANCELLED, submitted_at=_at(DAY)
    )
    requests = WorkRequest.objects.all()

    in_sql = stats_in_sql(requests, period)
    in_python = stats_in_python(requests, period)

    assert len(in_sql) == len(in_python) > 1
    for sql_row, python_row in zip(in_sql, in_python, strict=True):
        assert (sql_row.model_id, sql_row.period, sql_row.counts) == (
            python_row.model_id,
            python_row.period,
            python_row.counts,
        )
        assert (sql_row.inputs, sql_row.processed, sql_row.cached) == (
            python_row.inputs,
            python_row.processed,
            python_row.cached,
        )
        for name, values in sql_row.durations.items():
            for label, value in values.items():
                assert value == pytest.approx(python_row.durations[name][label])


def test_the_charts_sum_statuses_and_follow_each_model(model, user):
    other = ModelFactory(id="other-model")
    _completed(model, user, day=DAY, run=10.0)
    _completed(other, user, day=DAY, run=20.0)
    WorkRequestFactory(
        model=model, user=user, status=Status.FAILED, submitted_at=_at(DAY)
    )
    rows = work_request_stats(date_from=DAY, date_to=DAY)

    by_status, total_time, hit_rate = stats_charts(rows)

    assert by_status["config"]["data"]["labels"] == ["2031-03-12"]
    assert [
        (s["label"], s["data"]) for s in by_status["config"]["data"]["datasets"]
    ] == [
        ("Completed", [2]),
        ("Failed", [1]),
    ]
    assert [
        (s["label"], s["data"]) for s in total_time["config"]["data"]["datasets"]
    ] == [
        ("describe", [pytest.approx(13.0)]),
        ("other-model", [pytest.approx(23.0)]),
    ]
    assert hit_rate["config"]["data"]["datasets"][0]["data"] == [0.0]
    assert stats_charts([]) == []


# --- The page -------------------------------------------------------------------


def test_the_stats_page_needs_the_admin_role(client, user):
    assert client.get("/requests/stats/").status_code == 302
    sign_in(client, user)
    assert client.get("/requests/stats/").status_code == 403


def test_the_stats_page_shows_the_table_and_charts_with_a_local_library(
    client, admin_user, model, user
):
    _completed(model, user, wait=1.0, start=2.0, run=3.0, cached_count=1)
    sign_in(client, admin_user)

    response = client.get(
        "/requests/stats/?date_from=2031-03-12&date_to=2031-03-12&period=day"
    )

    page = response.content.decode()
    assert response.status_code == 200
    row = re.search(
        r'<tr data-model="describe" data-period="2031-03-12">(.*?)</tr>', page, re.S
    )
    assert row, "no row for the model and day"
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[:12] == [
        "describe",
        "2031-03-12",
        "1",
        "0",
        "0",
        "0",
        "1",
        "0",
        "0",
        "2",
        "0",
        "50.0 %",
    ]
    assert cells[12:] == [
        "1.00",
        "1.00",
        "2.00",
        "2.00",
        "3.00",
        "3.00",
        "6.00",
        "6.00",
    ]
    charts = json.loads(
        re.search(
            r'<script id="stats-charts" type="application/json">(.*?)</script>',
            page,
            re.S,
        ).group(1)
    )
    assert [chart["id"] for chart in charts] == [
        "requests-by-status",
        "total-time-p95",
        "cache-hit-rate",
    ]
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert "/static/vendor/chartjs/chart.umd.min.js" in scripts
    assert all(src.startswith("/static/") for src in scripts)
    library = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert library.status_code == 200
    assert b"Chart.js v4" in b"".join(library.streaming_content)[:200]


def test_the_stats_page_defaults_to_the_last_seven_days(
    client, admin_user, model, user
):
    today = timezone.localdate()
    _completed(model, user, day=today - timedelta(days=6))
    _completed(model, user, day=today - timedelta(days=7))
    sign_in(client, admin_user)

    page = client.get("/requests/stats/").content.decode()

    assert page.count('<tr data-model="describe"') == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2031-13-01", "Enter a valid date."),
        (
            "date_from=2031-03-12&date_to=2031-03-01",
            "This date is before the first one.",
        ),
        (
            "date_from=2030-01-01&date_to=2031-03-01",
            "Choose at most 366 days at a time.",
        ),
        ("period=hour", "Select a valid choice."),
        ("model=no-such-model", "Choose one of the models listed."),
    ],
)
def test_bad_stats_filters_say_what_is_wrong(client, admin_user, query, message):
    sign_in(client, admin_user)

    response = client.get(f"/requests/stats/?{query}")

    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert "stats-charts" not in page
