"""Callables for the instance tests, served by the built-in model server.

They import nothing from Django: the model server runs them in a child
process that knows nothing of the platform.
"""

import time

VERSION = "1.2.3"
OUTPUT_COLUMNS = ["value"]

# What `hog` allocated stays referenced, so it is resident until the process
# ends (or is killed for it).
_held: list[bytes] = []


def echo(inputs: list[str]) -> list[dict]:
    return [{"value": text} for text in inputs]


def slow(inputs: list[str]) -> list[dict]:
    """Takes half a second per call, doing nothing."""
    time.sleep(0.5)
    return echo(inputs)


def spin(inputs: list[str]) -> list[dict]:
    """Keeps one core busy for as many seconds as the first input says (max 10)."""
    seconds = min(float(inputs[0]) if inputs else 1.0, 10.0)
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        count += 1
    return [{"value": count} for _ in inputs]


def hog(inputs: list[str]) -> list[dict]:
    """Allocates the first input's number of MiB (max 1024), 16 MiB at a time.

    Every page is written, so the memory is resident, and it is held for up
    to 10 s afterwards so that a sampler has time to see it.
    """
    mebibytes = min(int(inputs[0]) if inputs else 256, 1024)
    for _ in range(mebibytes // 16):
        _held.append(b"\x01" * (16 * 2**20))
        time.sleep(0.01)
    time.sleep(10)
    return [{"value": mebibytes} for _ in inputs]
