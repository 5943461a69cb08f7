"""What every benchmark shares: a PostgreSQL + Redis set-up and timing helpers.

Benchmarks run against their own database (`modelhub_bench`, created and
migrated on first use) and Redis database 14, so they never touch development
or test data. BENCH_DATABASE_URL and BENCH_REDIS_URL move them elsewhere.
"""

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/modelhub_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def bench_environment(
    database_url: str = DATABASE_URL, redis_url: str = REDIS_URL
) -> dict[str, str]:
    """Environment variables that point a process at the benchmark servers."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "benchmark-only-secret-key",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Benchmarks talk plain HTTP on loopback; a secure-only cookie would
        # never be sent back.
        "SESSION_COOKIE_SECURE": "false",
        "MODELHUB_DATA_DIR": str(ROOT / "var" / "bench"),
        "LOG_LEVEL": "WARNING",
    }


def setup_django(
    *,
    database_url: str = DATABASE_URL,
    redis_url: str = REDIS_URL,
    fresh: bool = False,
) -> None:
    """Create the benchmark database if needed, migrate it and set up Django.

    With `fresh`, the database is dropped and created anew first, for
    benchmarks that need an empty queue.
    """
    import psycopg

    os.environ.update(bench_environment(database_url, redis_url))
    sys.path.insert(0, str(ROOT))
    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if fresh:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def timed(function: Callable[[], object], *, repeat: int = 5) -> dict[str, float]:
    """Run `function` `repeat` times; return its median and best in ms."""
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        durations.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(durations), "best_ms": min(durations)}


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")
