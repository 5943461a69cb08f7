"""Fixtures for the recommendations tests: persisted metrics and runs."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from config.celery import app as celery_app
from instances.models import InstanceMetrics
from recommendations.models import RecommendationRun
from recommendations.services import RunParameters, run_execute, run_start
from tests.factories import ModelFactory
from tests.recommendations.helpers import (
    EXAMPLE_INSTANCES,
    EXAMPLE_RESOURCES,
    persisted,
    signed_in,
)


@pytest.fixture
def persist(db) -> Callable[..., InstanceMetrics]:
    """Make a finished instance and its metrics: see `helpers.persisted`."""
    return persisted


@pytest.fixture
def example_model(persist):
    """The issue's worked example: three persisted instances."""
    model = ModelFactory(id="example", k8s_resources=EXAMPLE_RESOURCES)
    for cpu, memory in EXAMPLE_INSTANCES:
        persist(model, cpu=cpu, memory=memory)
    return model


@pytest.fixture
def compute(db) -> Callable[..., RecommendationRun]:
    """Claim and compute a run at once, as the worker would."""

    def run(*, model: Any = None, **parameters: Any) -> RecommendationRun:
        claimed = run_start(
            trigger=RecommendationRun.Trigger.USER,
            model=model,
            parameters=RunParameters(**parameters),
        )
        finished = run_execute(run_id=claimed.pk)
        assert finished is not None
        return finished

    return run


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    client = APIClient()
    client.force_login(signed_in(admin_user))
    return client


@pytest.fixture
def user_api(owner) -> APIClient:
    client = APIClient()
    client.force_login(signed_in(owner))
    return client


@pytest.fixture
def admin_page(admin_user) -> Client:
    client = Client()
    client.force_login(signed_in(admin_user))
    return client


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Run Celery tasks in the calling thread, as a worker would."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous
