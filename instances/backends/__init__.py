"""The instance backend chosen by `settings.INSTANCE_BACKEND`.

A backend keeps state about the instances it started (the local one holds its
child processes and their samples), so each process has one backend object,
made on first use.
"""

import threading
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from instances.backends.base import InstanceBackend

BACKENDS = {
    "local": "instances.backends.local.LocalBackend",
}

_backends: dict[str, InstanceBackend] = {}
_lock = threading.Lock()


def get_backend() -> InstanceBackend:
    """The backend named by `settings.INSTANCE_BACKEND`, one per process."""
    name = settings.INSTANCE_BACKEND
    with _lock:
        if name not in _backends:
            _backends[name] = _make_backend(name)
        return _backends[name]


def _make_backend(name: str) -> InstanceBackend:
    if name not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ImproperlyConfigured(
            f"INSTANCE_BACKEND is {name!r}, which is not a known instance backend; "
            f"use one of: {known}."
        )
    module_name, _, class_name = BACKENDS[name].rpartition(".")
    backend_class = getattr(import_module(module_name), class_name)
    backend: InstanceBackend = backend_class()
    return backend
