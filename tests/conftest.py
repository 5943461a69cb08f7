"""Fixtures shared by the whole suite: personas, models and model servers."""

import threading
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.roles import ADMIN_GROUP
from models_registry.serving.app import load_app
from models_registry.serving.server import make_server
from tests.factories import ModelFactory, UserFactory


@pytest.fixture
def owner(db):
    return UserFactory(username="owner")


@pytest.fixture
def other_user(db):
    return UserFactory(username="other")


@pytest.fixture
def admin_user(db):
    user = UserFactory(username="operator")
    group, _ = Group.objects.get_or_create(name=ADMIN_GROUP)
    user.groups.add(group)
    return user


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def owner_client(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.fixture
def model(db):
    return ModelFactory(id="describe", entrypoint="tests.callables:describe")


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start a real model server in a thread; returns its endpoint URL."""
    servers = []

    def start(entrypoint: str = "tests.callables:describe", model_id: str = "describe"):
        server = make_server(load_app(entrypoint=entrypoint, model_id=model_id))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
