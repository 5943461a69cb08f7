"""`manage.py instance_agent`: the supervisor of local model instances.

Why it exists: with the local backend, model instances are child processes,
and a process can only be watched, measured and reaped by one long-lived
owner. Web and worker processes come and go (gunicorn recycles them, Celery
runs tasks anywhere), so none of them may own a child. The agent is that
owner for one machine, as a kubelet is for one node: it starts the instances
the database asks for, samples their CPU and memory, enforces their memory
limit, stops them when asked and, when it starts again after a crash, adopts
the children still running and marks the others Lost.

On SIGTERM or SIGINT it stops every instance it runs, keeps their final
metrics, marks them stopped and exits with status 0 within about 5 s.
"""

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from instances.backends import get_backend
from instances.backends.local import LocalBackend
from instances.controller import (
    instances_adopt_or_clean_up,
    instances_shut_down,
    sync_instances,
)

logger = logging.getLogger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Command(BaseCommand):
    help = "Run the local instance agent: start, sample and stop model instances."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Adopt, run one pass and one sample, then exit, leaving the "
            "instances running as an agent restart would.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backend = get_backend() if settings.INSTANCE_BACKEND == "local" else None
        if not isinstance(backend, LocalBackend):
            raise CommandError(
                f"INSTANCE_BACKEND is {settings.INSTANCE_BACKEND!r}; the instance "
                "agent only runs instances of the local backend."
            )
        self.verbosity = options["verbosity"]
        stop = threading.Event()
        previous = {number: signal.getsignal(number) for number in _SIGNALS}
        for number in _SIGNALS:
            signal.signal(number, _stop_on_signal(stop))

        try:
            if options["once"]:
                self._adopt(backend)
                self._pass(backend)
                self._sample(backend)
                return
            self._run(backend, stop)
            self._shut_down(backend)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _run(self, backend: LocalBackend, stop: threading.Event) -> None:
        self._say(1, "Instance agent running; stop it with Ctrl-C.")
        while not stop.is_set() and not self._adopt(backend):
            stop.wait(settings.AGENT_POLL_INTERVAL * 4)

        next_pass = next_sample = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_pass:
                self._pass(backend)
                next_pass = now + settings.AGENT_POLL_INTERVAL
            if now >= next_sample:
                self._sample(backend)
                next_sample = now + settings.AGENT_SAMPLE_INTERVAL
            stop.wait(max(0.0, min(next_pass, next_sample) - time.monotonic()))

    def _adopt(self, backend: LocalBackend) -> bool:
        try:
            counts = instances_adopt_or_clean_up(backend=backend)
        except DatabaseError as error:
            _database_failed("adopt", error)
            return False
        if counts["adopted"] or counts["lost"]:
            self._say(
                1,
                f"Adopted {counts['adopted']} running instance(s); marked "
                f"{counts['lost']} lost.",
            )
        return True

    def _pass(self, backend: LocalBackend) -> None:
        try:
            moved = sync_instances(backend=backend)
        except DatabaseError as error:
            _database_failed("sync", error)
            return
        except Exception:
            logger.exception("Instance agent pass failed")
            return
        if moved:
            self._say(2, f"{moved} instance(s) changed state.")

    def _sample(self, backend: LocalBackend) -> None:
        try:
            killed = backend.sample()
        except Exception:
            logger.exception("Instance agent sampling failed")
            return
        for name in killed:
            self._say(
                1, f"{name} went over its memory limit and was killed.", error=True
            )

    def _shut_down(self, backend: LocalBackend) -> None:
        self._say(1, "Stopping the instances…")
        # The processes are stopped before the database is asked anything, so
        # they end even when the database is unreachable.
        backend.stop_many(backend.tracked_handles())
        try:
            stopped = instances_shut_down(backend=backend)
        except DatabaseError as error:
            _database_failed("shut down", error)
            return
        self._say(1, f"Instance agent stopped; {stopped} instance(s) stopped with it.")

    def _say(self, level: int, text: str, *, error: bool = False) -> None:
        if self.verbosity < level:
            return
        style = self.style.ERROR if error else self.style.SUCCESS
        self.stdout.write(style(text))


def _stop_on_signal(stop: threading.Event) -> Any:
    def handler(number: int, frame: FrameType | None) -> None:
        stop.set()

    return handler


def _database_failed(step: str, error: DatabaseError) -> None:
    # SQLite's "database is locked" and a PostgreSQL restart both land here;
    # the next pass tries again on a fresh connection.
    logger.warning(
        "Instance agent database error", extra={"step": step, "error": str(error)}
    )
    connection.close_if_unusable_or_obsolete()
