"""Large work request tables for the work request benchmarks, made in SQL.

`ensure_listing_data` keeps 1,000,000 recent requests (of 2,000 users and
2,000 anonymous visitors, five models, every status) in the benchmark
database and reuses them on later runs. `make_purge_data` adds 1,000,000
requests submitted in the year 2000, each with its inputs and a result
chunk, for the purge benchmark to delete. Rows are written by
`INSERT ... SELECT generate_series`, a few seconds per million.
"""

import time

from django.db import connection

LISTING_MODELS = [f"bench-list-{letter}" for letter in "abcde"]
PURGE_MODEL = "bench-purge"
USERS = 2000
VISITORS = 2000
REQUESTS = 1_000_000

# One status per hundred rows, in these shares. Requests to purge have all
# ended: an active one is never purged.
LISTING_STATUSES = """
    CASE
        WHEN g %% 100 < 85 THEN 'COMPLETED'
        WHEN g %% 100 < 93 THEN 'FAILED'
        WHEN g %% 100 < 97 THEN 'CANCELLED'
        WHEN g %% 100 = 97 THEN 'QUEUED'
        WHEN g %% 100 = 98 THEN 'SCHEDULING'
        ELSE 'PROCESSING'
    END
"""
ENDED_STATUSES = """
    CASE
        WHEN g %% 100 < 90 THEN 'COMPLETED'
        WHEN g %% 100 < 97 THEN 'FAILED'
        ELSE 'CANCELLED'
    END
"""


def _models(ids: list[str]) -> None:
    from models_registry.models import Model

    for model_id in ids:
        Model.objects.get_or_create(
            id=model_id,
            defaults={
                "title": model_id,
                "image": "modelhub/bench",
                "tag": "1.0",
                "output_columns": ["length", "upper"],
            },
        )


def _owners() -> tuple[list[int], list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, username, first_name,
                last_name, email, is_staff, is_active, date_joined)
            SELECT '!', false, 'bench-user-' || g, '', '', 'bench-user-' || g
                || '@example.org', false, true, now()
            FROM generate_series(1, %s) g
            ON CONFLICT DO NOTHING
            """,
            [USERS],
        )
        cursor.execute(
            "SELECT id FROM accounts_user WHERE username LIKE %s ORDER BY id",
            ["bench-user-%"],
        )
        users = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT count(*) FROM accounts_anonymousidentity WHERE created_at = %s",
            ["2000-01-01T00:00:00Z"],
        )
        if cursor.fetchone()[0] < VISITORS:
            cursor.execute(
                """
                INSERT INTO accounts_anonymousidentity (id, created_at, last_seen_at)
                SELECT gen_random_uuid(), '2000-01-01T00:00:00Z', now()
                FROM generate_series(1, %s)
                """,
                [VISITORS],
            )
        cursor.execute(
            "SELECT id FROM accounts_anonymousidentity WHERE created_at = "
            "'2000-01-01T00:00:00Z' ORDER BY id LIMIT %s",
            [VISITORS],
        )
        visitors = [str(row[0]) for row in cursor.fetchall()]
    return users, visitors


def _insert_requests(
    *,
    models: list[str],
    statuses_sql: str,
    start_sql: str,
    step_seconds: float,
    owner_ids: tuple,
) -> None:
    users, visitors = owner_ids
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO workrequests_workrequest (user_id, anonymous_id, model_id,
                status, reason, input_count, done_count, cached_count, cache_opt_in,
                model_version, attempts, submitted_at, scheduled_at,
                instance_ready_at, processing_at, finished_at)
            SELECT
                CASE WHEN g %% 5 <> 0
                    THEN (%(users)s::bigint[])[1 + (g / 5) %% %(n_users)s] END,
                CASE WHEN g %% 5 = 0
                    THEN (%(visitors)s::uuid[])[1 + (g / 5) %% %(n_visitors)s] END,
                (%(models)s::text[])[1 + (g / 3) %% %(n_models)s],
                status,
                CASE WHEN status = 'FAILED' THEN 'The model failed (HTTP 500).'
                     ELSE '' END,
                inputs,
                CASE WHEN status = 'COMPLETED' THEN inputs ELSE inputs / 2 END,
                CASE WHEN g %% 3 = 0 THEN inputs / 4 ELSE 0 END,
                g %% 2 = 0,
                '1.0',
                0,
                submitted,
                submitted + interval '2 second' * (1 + g %% 7),
                submitted + interval '2 second' * (1 + g %% 7) + interval '5 second',
                submitted + interval '2 second' * (1 + g %% 7) + interval '5 second',
                CASE WHEN status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                     THEN submitted + interval '1 second' * (20 + g %% 60) END
            FROM (
                SELECT g, {statuses_sql} AS status,
                    1 + (g::bigint * 7919) %% 1000 AS inputs,
                    {start_sql} - interval '1 second' * g * %(step)s AS submitted
                FROM generate_series(1, %(count)s) g
            ) rows
            """,
            {
                "users": users,
                "n_users": len(users),
                "visitors": visitors,
                "n_visitors": len(visitors),
                "models": models,
                "n_models": len(models),
                "step": step_seconds,
                "count": REQUESTS,
            },
        )


def ensure_listing_data() -> int:
    """1,000,000 recent requests for the list benchmarks; made once, reused."""
    from workrequests.models import WorkRequest

    existing = WorkRequest.objects.filter(model_id__in=LISTING_MODELS).count()
    if existing >= REQUESTS:
        return existing

    started = time.perf_counter()
    _models(LISTING_MODELS)
    WorkRequest.objects.filter(model_id__in=LISTING_MODELS).delete()
    # Half a second apart: a million requests over the last 5.8 days.
    _insert_requests(
        models=LISTING_MODELS,
        statuses_sql=LISTING_STATUSES,
        start_sql="now()",
        step_seconds=0.5,
        owner_ids=_owners(),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE workrequests_workrequest")
    print(f"  made {REQUESTS} requests in {time.perf_counter() - started:.1f} s")
    return REQUESTS


def make_purge_data() -> float:
    """1,000,000 requests of the year 2000, with inputs and results; seconds."""
    started = time.perf_counter()
    _models([PURGE_MODEL])
    # Three seconds apart, back from the end of the year 2000.
    _insert_requests(
        models=[PURGE_MODEL],
        statuses_sql=ENDED_STATUSES,
        start_sql="timestamptz '2000-12-31T00:00:00Z'",
        step_seconds=3,
        owner_ids=_owners(),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO workrequests_workrequestinputs (work_request_id, inputs)
            SELECT id, '["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"]'::jsonb
            FROM workrequests_workrequest WHERE model_id = %s
            """,
            [PURGE_MODEL],
        )
        cursor.execute(
            """
            INSERT INTO workrequests_resultchunk (work_request_id, source, positions,
                records, duration_ms, created_at)
            SELECT id, 'MODEL', '[0, 1, 2]'::jsonb,
                '[{"length": 3}, {"length": 8}, {"length": 21}]'::jsonb, 12,
                submitted_at
            FROM workrequests_workrequest WHERE model_id = %s
            """,
            [PURGE_MODEL],
        )
        cursor.execute("ANALYZE workrequests_workrequest")
        cursor.execute("ANALYZE workrequests_workrequestinputs")
        cursor.execute("ANALYZE workrequests_resultchunk")
    return time.perf_counter() - started
