"""An entrypoint module that takes 20 s to import, for the ready-timeout tests.

The model server only listens once the module is imported, so an instance of
it stays not-ready for that long; the tests stop it well before.
"""

import time

time.sleep(20)


def echo(inputs: list[str]) -> list[dict]:
    return [{"value": text} for text in inputs]
