"""Checks that run before the suite: the servers it needs must be up."""

import os
import sys

import pytest

# Selenium must never look for drivers or report usage over the network: the
# browser tests use Debian's chromium and chromedriver, found by path.
os.environ.setdefault("SE_AVOID_STATS", "true")
os.environ.setdefault("SE_OFFLINE", "true")

START_HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect "
    "$(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
    "--appendonly no",
}


def _unreachable_services() -> list[str]:
    import psycopg
    import redis
    from django.conf import settings

    problems: list[tuple[str, str, Exception]] = []
    database = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=database["HOST"] or "127.0.0.1",
            port=database["PORT"] or 5432,
            user=database["USER"],
            password=database["PASSWORD"] or None,
            # The suite creates its own database; the server's maintenance
            # database tells whether the server is up.
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as error:
        problems.append(("PostgreSQL", os.environ["DATABASE_URL"], error))
    try:
        redis.Redis.from_url(str(settings.REDIS_URL), socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        problems.append(("Redis", str(settings.REDIS_URL), error))

    return [
        f"{name} is not reachable at {url} ({str(error).strip()}).\n"
        f"  On this machine, start it with: {START_HINTS[name]}"
        for name, url, error in problems
    ]


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    problems = _unreachable_services()
    if problems:
        sys.stderr.write(
            "The test suite needs real servers:\n" + "\n".join(problems) + "\n"
        )
        pytest.exit("PostgreSQL or Redis is not reachable.", returncode=3)
