"""One model-server process under the local backend's supervision.

It keeps the process's readings and usage, notices when it ends (reaping it
when it is a child of this process) and knows how it ended. Recording and
logging what happens stays with the backend.
"""

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil

from instances.backends.processes import Reading, Usage, process_gone, tree_reading


@dataclass
class Supervised:
    name: str
    process: psutil.Process
    # Set for a child this process started; an adopted process has none,
    # and its exit code cannot be known.
    popen: Any
    memory_limit: int | None
    started_at: datetime
    last: Reading
    usage: Usage = field(default_factory=Usage)
    ready: bool = False
    stopping: bool = False
    oom_killed: bool = False
    exit_code: int | None = None
    ended_at: datetime | None = None
    ended_monotonic: float | None = None
    rusage: dict[str, float] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def take_reading(self) -> None:
        """Add a CPU rate over the time since the last reading, and the RSS."""
        reading = tree_reading(self.process)
        elapsed = reading.monotonic - self.last.monotonic
        if elapsed > 0:
            # A child that ended without being waited for takes its CPU time
            # with it, so the total can drop; that interval counts as zero.
            used = max(0.0, reading.cpu_seconds - self.last.cpu_seconds)
            self.usage.add_cpu(used / elapsed * 1000)
        self.usage.add_memory(reading.rss)
        self.last = reading

    def reap(self) -> bool:
        """True when this call noticed that the process has ended.

        For a child of this process the exit code is collected, and the
        kernel's accounting of the CPU it used over its whole life becomes its
        last reading.
        """
        if self.ended:
            return False
        if self.popen is None:
            if not process_gone(self.process):
                return False
            self._end(None)
            return True

        try:
            pid, status, rusage = os.wait4(self.popen.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status, rusage = self.popen.pid, 0, None
        if pid == 0:
            return False
        exit_code = os.waitstatus_to_exitcode(status) if rusage is not None else None
        # Popen must not wait for a process that is gone already.
        self.popen.returncode = exit_code
        if rusage is not None:
            self._final_reading(rusage)
        self._end(exit_code)
        return True

    def _final_reading(self, rusage: Any) -> None:
        """The CPU the kernel accounted to the child over its whole life.

        Its peak RSS (`ru_maxrss`) is not used: it includes the agent's own
        memory, shared with the child between fork and exec.
        """
        cpu_seconds = rusage.ru_utime + rusage.ru_stime
        self.rusage = {"cpu_seconds": round(cpu_seconds, 3)}
        now = time.monotonic()
        elapsed = now - self.last.monotonic
        if elapsed > 0 and cpu_seconds >= self.last.cpu_seconds:
            self.usage.add_cpu((cpu_seconds - self.last.cpu_seconds) / elapsed * 1000)
        self.last = Reading(now, cpu_seconds, self.last.rss)

    def _end(self, exit_code: int | None) -> None:
        self.exit_code = exit_code
        self.ended_at = datetime.now(UTC)
        self.ended_monotonic = time.monotonic()
