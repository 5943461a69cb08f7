"""Purging 1,000,000 expired requests, with their inputs and results.

Makes 1,000,000 requests of the year 2000 (each with its inputs and a result
chunk; bench/workrequests_data.py), purges them as the hourly task does, and
reports the total time and how long each batch held its locks: a batch is
one transaction, so its duration is the longest any row lock is held. The
recent requests of the list benchmarks are left alone (the purge runs as of
2001-01-08).
"""

import statistics
from datetime import UTC, datetime

from common import report, setup_django
from workrequests_data import PURGE_MODEL, REQUESTS, make_purge_data


def main() -> None:
    setup_django()
    from workrequests.models import WorkRequest
    from workrequests.purge import work_requests_purge

    WorkRequest.objects.filter(model_id=PURGE_MODEL).delete()
    made_in = make_purge_data()
    batches: list[float] = []

    purge = work_requests_purge(
        now=datetime(2001, 1, 8, tzinfo=UTC),
        on_batch=lambda requests, ms: batches.append(ms),
    )
    left = WorkRequest.objects.filter(model_id=PURGE_MODEL).count()

    ordered = sorted(batches)
    report(
        f"Purging {REQUESTS:,} expired requests",
        [
            ("made in (INSERT ... SELECT)", f"{made_in:.1f} s"),
            (
                "deleted",
                f"{purge.requests:,} requests, {purge.inputs:,} input lists, "
                f"{purge.result_chunks:,} result chunks ({left} left)",
            ),
            ("total time", f"{purge.elapsed_ms / 1000:.1f} s"),
            ("rate", f"{purge.requests / (purge.elapsed_ms / 1000):,.0f} requests/s"),
            ("batches", f"{purge.batches} of up to 1000 requests"),
            (
                "lock held per batch",
                f"median {statistics.median(ordered):.1f} ms, "
                f"p95 {ordered[int(len(ordered) * 0.95)]:.1f} ms, "
                f"longest {purge.longest_batch_ms:.1f} ms",
            ),
        ],
    )


if __name__ == "__main__":
    main()
