"""Start the platform's own processes for end-to-end tests.

`running_stack` starts a Celery worker and the local instance agent (and,
when asked, beat) as real child processes with exactly the environment it
is given (build it from `os.environ`: the test settings have put PostgreSQL
and Redis addresses there, which a stack may not want), waits
until they are up, and stops them, with every instance they started, when
the block ends. Their output goes to files under `log_dir`, shown when a test
fails.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKER = [
    "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
    "--pool", "threads", "--concurrency", "2", "--without-gossip", "--without-mingle", "--without-heartbeat",
]  # fmt: skip
BEAT = ["-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]
AGENT = ["manage.py", "instance_agent"]


@contextlib.contextmanager
def running_stack(
    env: dict[str, str], log_dir: Path, *, beat: bool = False
) -> Iterator[dict[str, subprocess.Popen]]:
    log_dir.mkdir(parents=True, exist_ok=True)
    commands = {"worker": WORKER, "agent": AGENT}
    if beat:
        commands["beat"] = BEAT
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, arguments in commands.items():
            log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115
            processes[name] = subprocess.Popen(
                [sys.executable, *arguments],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for_worker(log_dir / "worker.log", processes["worker"])
        yield processes
    finally:
        for process in processes.values():
            _stop(process)


def stack_logs(log_dir: Path) -> str:
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
        for path in sorted(log_dir.glob("*.log"))
    )


def _wait_for_worker(log: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The worker exited:\n{log.read_text(errors='replace')}")
        if log.exists() and b"ready." in log.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError(f"The worker did not start:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
