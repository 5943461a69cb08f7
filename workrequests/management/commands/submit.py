"""Submit a file of inputs to a model from the command line.

For people and scripts on the machine that runs modelhub: the same rules as
the site and the API apply, the request shows up in the admin like any other,
and with --wait the command follows it to the end and writes the results.
"""

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.identity import Owner
from accounts.models import AnonymousIdentity, User
from config.errors import DomainError
from workrequests.models import WorkRequest
from workrequests.results import render_csv, result_table
from workrequests.selectors import work_request_inputs
from workrequests.services import work_request_submit

POLL_SECONDS = 0.5
BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Submit a file of inputs (one per line, or a CSV with a smiles column)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="Model id, such as rdkit-descriptors.")
        parser.add_argument("file", type=Path, help="The input file.")
        parser.add_argument("--wait", action="store_true", help="Follow the request.")
        parser.add_argument(
            "--output", type=Path, help="Where to write the CSV (default: stdout)."
        )
        parser.add_argument(
            "--user", help="Username to submit as (default: anonymous)."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=3600.0,
            help="Stop waiting after this many seconds (the request goes on).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path | None = options["output"]
        if output and not options["wait"]:
            raise CommandError("--output writes the results, so it needs --wait.")
        if output and (output.is_dir() or not output.parent.is_dir()):
            raise CommandError(
                f"Cannot write {output}: give a file in a folder that exists."
            )
        if options["timeout"] <= 0:
            raise CommandError("--timeout must be more than zero seconds.")
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.")

        try:
            # A new anonymous identity is only kept with its request.
            with transaction.atomic():
                owner = self._owner(options["user"])
                work_request = work_request_submit(
                    owner=owner, model_id=options["model"], upload=data
                )
        except DomainError as error:
            raise CommandError(error.message)

        if owner.anonymous is not None and options["user"] is None:
            self.stderr.write(f"Created anonymous identity {owner.anonymous.pk}.")
        self.stderr.write(
            f"Submitted work request {work_request.pk} "
            f"({work_request.input_count} inputs) as {owner}."
        )
        if not options["wait"]:
            return

        work_request = self._follow(work_request, options["timeout"])
        if work_request.status != WorkRequest.Status.COMPLETED:
            reason = f": {work_request.reason}" if work_request.reason else "."
            raise CommandError(
                f"Work request {work_request.pk} {work_request.status.lower()}{reason}"
            )

        table = result_table(work_request, work_request_inputs(work_request))
        csv_text = render_csv(table)
        if output:
            try:
                output.write_text(csv_text, encoding="utf-8", newline="")
            except OSError as error:
                raise CommandError(
                    f"Cannot write {output}: {error.strerror}. The results stay "
                    f"downloadable from work request {work_request.pk}."
                )
            self.stderr.write(
                self.style.SUCCESS(f"Wrote {len(table['rows'])} rows to {output}.")
            )
        else:
            self.stdout.write(csv_text, ending="")

    def _owner(self, username: str | None) -> Owner:
        if username:
            user = User.objects.filter(username__iexact=username).first()
            if user is None:
                raise CommandError(f"There is no user called {username!r}.")
            return Owner(user=user)
        return Owner(anonymous=AnonymousIdentity.objects.create())

    def _follow(self, work_request: WorkRequest, timeout: float) -> WorkRequest:
        deadline = time.monotonic() + timeout
        interactive = sys.stderr.isatty()
        shown = None
        try:
            while True:
                work_request.refresh_from_db()
                state = (work_request.status, work_request.done_count)
                if state != shown:
                    self._show_progress(work_request, interactive)
                    shown = state
                if work_request.status in WorkRequest.TERMINAL_STATUSES:
                    break
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"Stopped waiting after {timeout:.0f} s; work request "
                        f"{work_request.pk} is still {work_request.status.lower()}."
                    )
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            raise CommandError(
                f"Stopped waiting; work request {work_request.pk} goes on."
            )
        if interactive:
            self.stderr.write("")
        return work_request

    def _show_progress(self, work_request: WorkRequest, interactive: bool) -> None:
        total = max(work_request.input_count, 1)
        filled = BAR_WIDTH * work_request.done_count // total
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = (
            f"[{bar}] {work_request.done_count}/{work_request.input_count} "
            f"{work_request.get_status_display()}"
        )
        if interactive:
            self.stderr.write(f"\r{line}", ending="")
            self.stderr.flush()
        else:
            self.stderr.write(line)
