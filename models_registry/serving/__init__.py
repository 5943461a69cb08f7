"""modelhub's own model server: the model protocol around a Python callable.

It runs as a child process of the local agent (and as the entry point of a
built-in model's image), so it imports nothing from Django and starts in the
time it takes to import the model's module. Run it with::

    python -m models_registry.serving --entrypoint MODULE:FUNCTION \\
        --model-id ID [--version V] [--host 127.0.0.1] [--port N] \\
        [--port-file PATH]

See `models_registry.serving.server` for the protocol it speaks.
"""
