"""DATABASE_SCHEMA puts every table in a named PostgreSQL schema."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def scratch_database():
    database = settings.DATABASES["default"]
    server = (
        f"host={database['HOST'] or '127.0.0.1'} port={database['PORT'] or 5432} "
        f"user={database['USER']}"
    )
    name = f"modelhub_schema_{secrets.token_hex(4)}"
    with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{name}"
    )
    yield url, f"{server} dbname={name}"
    with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_it_migrates_every_table_into_the_named_schema(scratch_database):
    url, dsn = scratch_database
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "DATABASE_SCHEMA": "modelhub_app",
        "REDIS_URL": settings.REDIS_URL,
    }

    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )

    with psycopg.connect(dsn) as connection:
        tables = dict(
            connection.execute(
                "SELECT table_schema, count(*) FROM information_schema.tables "
                "WHERE table_schema IN ('public', 'modelhub_app') GROUP BY 1"
            ).fetchall()
        )
        migrated = connection.execute(
            "SELECT count(*) FROM modelhub_app.django_migrations"
        ).fetchone()[0]
    assert tables.get("public", 0) == 0
    assert tables["modelhub_app"] > 20
    assert migrated > 10
