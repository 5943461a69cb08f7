"""Model callables the server tests run in a real child process.

Kept apart from the test modules so that the child imports nothing but this.
"""

import time
from typing import Any

OUTPUT_COLUMNS = ["input", "length"]
VERSION = "0.1"


def echo(inputs: list[str]) -> list[dict[str, Any]]:
    return [{"input": text, "length": len(text)} for text in inputs]


def sleepy(inputs: list[str]) -> list[dict[str, Any]]:
    time.sleep(1.0)
    return echo(inputs)
