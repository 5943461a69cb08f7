from datetime import UTC, datetime
from decimal import Decimal

import pytest

from instances.backends import processes
from instances.backends.processes import (
    Usage,
    child_environment,
    crash_message,
    nearest_rank,
)

STARTED = datetime(2026, 1, 1, tzinfo=UTC)


def summary_of(usage):
    return usage.summary(started_at=STARTED, ended_at=None, oom_killed=False)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5.0], 5.0),
        ([1.0, 2.0], 2.0),
        (list(range(1, 21)), 19),
        (list(range(1, 101)), 95),
    ],
)
def test_the_95th_percentile_is_the_nearest_rank(values, expected):
    assert nearest_rank(sorted(values), 95) == expected


def test_it_summarises_cpu_in_millicores_and_memory_in_bytes():
    usage = Usage()
    for rate in (100.0, 300.0, 200.0, 1000.0):
        usage.add_cpu(rate)
    for rss in (10, 40, 30):
        usage.add_memory(rss)

    summary = summary_of(usage)

    assert (summary.cpu_min, summary.cpu_mean, summary.cpu_p95, summary.cpu_max) == (
        Decimal("100.0"),
        Decimal("400.0"),
        Decimal("1000.0"),
        Decimal("1000.0"),
    )
    assert (summary.memory_min, summary.memory_mean, summary.memory_max) == (10, 27, 40)
    assert summary.memory_p95 == 40
    assert summary.sample_count == 3


def test_an_empty_usage_summarises_to_zeros():
    summary = summary_of(Usage())

    assert summary.sample_count == 0
    assert summary.cpu_min == summary.cpu_max == summary.cpu_mean == Decimal("0.0")
    assert summary.memory_max == summary.memory_p95 == 0


def test_thinning_long_runs_keeps_min_max_and_mean_exact(monkeypatch):
    monkeypatch.setattr(processes, "MAX_SAMPLES", 10)
    usage = Usage()
    for number in range(1, 101):
        usage.add_cpu(float(number))
        usage.add_memory(number)

    summary = summary_of(usage)

    assert len(usage.cpu) <= 10 and len(usage.memory) <= 10
    assert (summary.cpu_min, summary.cpu_max, summary.cpu_mean) == (
        Decimal("1.0"),
        Decimal("100.0"),
        Decimal("50.5"),
    )
    assert (summary.memory_min, summary.memory_max, summary.memory_mean) == (1, 100, 50)
    assert summary.sample_count == 100


def test_model_servers_do_not_get_the_platforms_secrets(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@db/x")
    monkeypatch.setenv("SOME_API_TOKEN", "t0ken")
    monkeypatch.setenv("RDKIT_THREADS", "1")

    environment = child_environment()

    assert "DJANGO_SECRET_KEY" not in environment
    assert "DATABASE_URL" not in environment
    assert "SOME_API_TOKEN" not in environment
    assert environment["RDKIT_THREADS"] == "1"
    assert environment["PYTHONUNBUFFERED"] == "1"


def test_a_crash_message_says_how_the_process_ended_and_shows_the_log():
    assert crash_message(3, []) == "The process exited with code 3."
    assert crash_message(-15, ["a", "b"]) == (
        "The process was killed by signal 15 (SIGTERM). Last log lines:\na\nb"
    )
    assert crash_message(None, []) == "The process ended (its exit code is unknown)."
