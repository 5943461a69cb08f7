"""Purge expired work requests by hand, as the hourly task does.

The beat task keeps the tables at the retention age; this is for operators
who want to see what it would delete (`--dry-run`), catch up after a pause,
or free space sooner with a shorter age (`--older-than`). It is safe to run
beside the task: both claim rows with `SKIP LOCKED` and never delete one
twice.
"""

import argparse
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from workrequests.purge import work_requests_purge


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days.")
    if days < 0:
        raise argparse.ArgumentTypeError("The age cannot be negative.")
    return days


class Command(BaseCommand):
    help = "Delete requests older than the retention age, with their results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=_days,
            metavar="DAYS",
            help="Purge requests submitted more than DAYS days ago (default: "
            "WORK_REQUEST_RETENTION_DAYS, "
            f"now {settings.WORK_REQUEST_RETENTION_DAYS}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be deleted without deleting anything.",
        )

    def handle(
        self,
        *args: Any,
        older_than: int | None,
        dry_run: bool,
        verbosity: int,
        **options: Any,
    ) -> None:
        days = (
            settings.WORK_REQUEST_RETENTION_DAYS if older_than is None else older_than
        )

        def show_batch(requests: int, duration_ms: float) -> None:
            if verbosity >= 2:
                self.stdout.write(
                    f"  batch: {requests} requests in {duration_ms:.0f} ms"
                )

        report = work_requests_purge(
            older_than=timedelta(days=days), dry_run=dry_run, on_batch=show_batch
        )
        if verbosity == 0:
            return

        cutoff = report.cutoff.strftime("%Y-%m-%d %H:%M %Z")
        counts = (
            f"{report.requests} requests, {report.inputs} input lists and "
            f"{report.result_chunks} result chunks"
        )
        if dry_run:
            self.stdout.write(
                self.style.WARNING(f"Would delete {counts} submitted before {cutoff}.")
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {counts} submitted before {cutoff}, in {report.batches} "
                f"batches ({report.elapsed_ms / 1000:.1f} s; longest batch "
                f"{report.longest_batch_ms:.0f} ms)."
            )
        )
