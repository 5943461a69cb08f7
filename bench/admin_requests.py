"""The admin's view of all requests on 1,000,000 requests in PostgreSQL.

Times, in process with Django's test client signed in as an admin (so the
figures are server time: routing, queries, rendering), one page of the
Django admin changelist and of `GET /api/admin/work-requests/`, unfiltered
and with each filter. Target: under 300 ms per page. The requests are made
once (bench/workrequests_data.py) and reused on later runs.
"""

from datetime import timedelta

from common import report, setup_django, timed

CHANGELIST = "/admin/workrequests/workrequest/"
API = "/api/admin/work-requests/"
TARGET_MS = 300


def main() -> None:
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from workrequests_data import LISTING_MODELS, ensure_listing_data

    from accounts.models import User
    from workrequests.models import WorkRequest

    # Pages render with the production static storage, which needs its
    # manifest.
    call_command("collectstatic", "--noinput", verbosity=0)
    total = ensure_listing_data()
    sample = WorkRequest.objects.filter(model_id__in=LISTING_MODELS)
    user_id = sample.filter(user__isnull=False).values_list("user_id", flat=True)[0]
    anonymous_id = sample.filter(anonymous__isnull=False).values_list(
        "anonymous_id", flat=True
    )[0]
    day = timezone.localdate() - timedelta(days=2)

    admin, _ = User.objects.get_or_create(
        username="bench-admin",
        defaults={"email": "bench-admin@example.org", "is_superuser": True},
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)

    model = LISTING_MODELS[1]
    # label, changelist query, API query
    cases = [
        ("no filter", "", ""),
        ("user id", f"user_id={user_id}", f"user_id={user_id}"),
        (
            "anonymous id",
            f"anonymous_id={anonymous_id}",
            f"anonymous_id={anonymous_id}",
        ),
        ("model", f"model__id__exact={model}", f"model={model}"),
        ("status", "status__exact=FAILED", "status=FAILED"),
        (
            "date from + date to (one day)",
            f"date_from={day}&date_to={day}",
            f"date_from={day}&date_to={day}",
        ),
        (
            "model + status + date from",
            f"model__id__exact={model}&status__exact=FAILED&date_from={day}",
            f"model={model}&status=FAILED&date_from={day}",
        ),
    ]
    rows: list[tuple[str, str]] = [("requests in the table", f"{total:,}")]
    worst = 0.0
    for label, admin_query, api_query in cases:
        for name, url in (
            ("changelist", f"{CHANGELIST}?{admin_query}"),
            ("API", f"{API}?{api_query}"),
        ):
            figures, queries = _page(client, url, CaptureQueriesContext, connection)
            worst = max(worst, figures["median_ms"])
            rows.append(
                (
                    f"{name}, {label}",
                    f"{figures['median_ms']:.1f} ms median, "
                    f"{figures['best_ms']:.1f} ms best, {queries} queries",
                )
            )

    figures, queries = _page(
        client, f"{CHANGELIST}?p=100", CaptureQueriesContext, connection
    )
    rows.append(
        (
            "changelist, page 101 (the deepest offered)",
            f"{figures['median_ms']:.1f} ms median, {queries} queries",
        )
    )
    following = client.get(f"{API}?page_size=50").json()
    for _ in range(20):
        following = client.get(following["next"]).json()
    next_url = following["next"]
    figures, _ = _page(client, next_url, CaptureQueriesContext, connection)
    rows.append(("API, 22nd cursor page", f"{figures['median_ms']:.1f} ms median"))
    worst = max(worst, figures["median_ms"])
    stats = timed(lambda: client.get("/requests/stats/"), repeat=3)
    rows.append(
        (
            "stats page, last 7 days by day (not a list page)",
            f"{stats['median_ms']:.0f} ms median",
        )
    )
    rows.append(
        (
            "slowest list page median",
            f"{worst:.1f} ms (target under {TARGET_MS} ms: "
            f"{'met' if worst < TARGET_MS else 'NOT met'})",
        )
    )
    report("Admin view of all requests, one page each", rows)


def _page(client, url, capture, connection) -> tuple[dict[str, float], int]:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    with capture(connection) as queries:
        client.get(url)
    # Read now: the next request clears the log the capture slices.
    count = len(queries.captured_queries)
    return timed(lambda: client.get(url), repeat=7), count


if __name__ == "__main__":
    main()
