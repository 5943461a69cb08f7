"""Model callables for tests, served by the built-in model server."""

import time

OUTPUT_COLUMNS = ["length", "upper"]


def describe(inputs: list[str]) -> list[dict]:
    """A tiny deterministic model: each input's length and upper-case form."""
    return [
        {"length": len(value), "upper": value.upper(), "error": None}
        if value != "bad"
        else {"length": None, "upper": None, "error": "This input is bad."}
        for value in inputs
    ]


def broken(inputs: list[str]) -> list[dict]:
    raise RuntimeError("internal detail that must not reach users")


def too_few(inputs: list[str]) -> list[dict]:
    return [{"length": 1}] * (len(inputs) - 1)


def slow(inputs: list[str]) -> list[dict]:
    time.sleep(3)
    return describe(inputs)


def fractions(inputs: list[str]) -> list[dict]:
    return [{"length": 1 / 3, "upper": 'say "hi", then, bye'} for _ in inputs]
