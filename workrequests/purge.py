"""Deleting requests past the retention age, with their inputs and results.

Age counts from submission (`WORK_REQUEST_RETENTION_DAYS`, 7 by default). A
request that is still queued, scheduling or processing is never purged,
whatever its age. Results answered from the cache are the request's own
`CACHE` chunk, so they go with it; the shared result cache is not per
request and stays.

Rows go in batches, each claimed and deleted in one short transaction, so
no lock is held for long and the web and workers keep going meanwhile. A
batch claims its rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
purges running at once take different rows and never delete one twice;
SQLite runs one writing transaction at a time, which gives the same.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from workrequests.models import ResultChunk, WorkRequest, WorkRequestInputs

logger = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    cutoff: datetime
    dry_run: bool
    requests: int = 0
    inputs: int = 0
    result_chunks: int = 0
    batches: int = 0
    longest_batch_ms: float = 0.0
    elapsed_ms: float = 0.0


def expired_work_requests(*, cutoff: datetime) -> QuerySet[WorkRequest]:
    """Requests submitted before `cutoff` that are no longer active."""
    return WorkRequest.objects.filter(submitted_at__lt=cutoff).exclude(
        status__in=WorkRequest.ACTIVE_STATUSES
    )


def work_requests_purge(
    *,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    now: datetime | None = None,
    on_batch: Callable[[int, float], None] | None = None,
) -> PurgeReport:
    """Delete expired requests batch by batch; with `dry_run`, only count them.

    `on_batch` hears, after each batch, how many requests it deleted and how
    long its transaction took (ms).
    """
    if older_than is None:
        older_than = timedelta(days=settings.WORK_REQUEST_RETENTION_DAYS)
    size = batch_size or settings.WORK_REQUEST_PURGE_BATCH_SIZE
    cutoff = (now or timezone.now()) - older_than
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    started = time.monotonic()

    if dry_run:
        _count(report)
    else:
        while _purge_batch(report, size, on_batch):
            pass

    report.elapsed_ms = (time.monotonic() - started) * 1000
    if not dry_run:
        logger.info(
            "Expired work requests purged",
            extra={
                "requests": report.requests,
                "batches": report.batches,
                "longest_batch_ms": round(report.longest_batch_ms, 1),
            },
        )
    return report


def _count(report: PurgeReport) -> None:
    expired = expired_work_requests(cutoff=report.cutoff)
    report.requests = expired.count()
    report.inputs = WorkRequestInputs.objects.filter(
        work_request__in=expired.values("pk")
    ).count()
    report.result_chunks = ResultChunk.objects.filter(
        work_request__in=expired.values("pk")
    ).count()


def _purge_batch(
    report: PurgeReport, size: int, on_batch: Callable[[int, float], None] | None
) -> bool:
    """Delete one batch; False when none was left to claim."""
    started = time.monotonic()
    with transaction.atomic():
        claimed = expired_work_requests(cutoff=report.cutoff).order_by(
            "submitted_at", "id"
        )
        if connection.features.has_select_for_update_skip_locked:
            claimed = claimed.select_for_update(skip_locked=True)
        ids = list(claimed.values_list("pk", flat=True)[:size])
        if not ids:
            return False
        chunks, _ = ResultChunk.objects.filter(work_request__in=ids).delete()
        inputs, _ = WorkRequestInputs.objects.filter(work_request__in=ids).delete()
        # With its children gone, the rows go in one statement. A plain
        # delete() would first load every row as an object to look for
        # children, which doubles the time the batch holds its locks.
        rows = WorkRequest.objects.filter(pk__in=ids)
        requests = rows._raw_delete(using=router.db_for_write(WorkRequest))
    duration_ms = (time.monotonic() - started) * 1000

    report.requests += requests
    report.inputs += inputs
    report.result_chunks += chunks
    report.batches += 1
    report.longest_batch_ms = max(report.longest_batch_ms, duration_ms)
    if on_batch is not None:
        on_batch(requests, duration_ms)
    return True
