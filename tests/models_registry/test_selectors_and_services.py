"""models_visible_to, models_set_enabled and model_set_resources."""

import pytest
from django.contrib.auth.models import AnonymousUser

from models_registry.models import Model
from models_registry.selectors import models_visible_to
from models_registry.services import (
    ModelRegistryError,
    model_set_resources,
    models_set_enabled,
)
from tests.factories import ModelFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def models():
    return [ModelFactory(id="on"), ModelFactory(id="off", enabled=False)]


def visible(user) -> list[str]:
    return list(models_visible_to(user).values_list("pk", flat=True))


def test_it_shows_enabled_models_to_visitors_and_users(models, owner):
    assert visible(AnonymousUser()) == ["on"]
    assert visible(owner) == ["on"]


def test_it_shows_every_model_to_admins(models, admin_user):
    superuser = UserFactory(username="root", is_superuser=True)

    assert visible(admin_user) == ["off", "on"]
    assert visible(superuser) == ["off", "on"]


def test_it_treats_an_inactive_admin_as_a_visitor(models, admin_user):
    admin_user.is_active = False

    assert visible(admin_user) == ["on"]


def test_it_enables_and_disables_only_what_changes(models):
    assert models_set_enabled(model_ids=["on", "off", "missing"], enabled=False) == [
        "on"
    ]
    assert set(Model.objects.values_list("enabled", flat=True)) == {False}
    assert models_set_enabled(model_ids=["on"], enabled=True) == ["on"]
    assert models_set_enabled(model_ids=[], enabled=True) == []


def test_it_records_when_resources_change(models):
    model = models[0]
    resources = {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }

    model_set_resources(model=model, k8s_resources=resources)
    first = model.resources_changed_at
    model_set_resources(model=model, k8s_resources=resources)

    assert model.k8s_resources == resources
    assert first is not None
    assert model.resources_changed_at == first


def test_it_refuses_bad_resources_and_keeps_the_old_ones(models):
    model = models[0]
    bad = {
        "requests": {"cpu": "1K", "memory": "512Mi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }

    with pytest.raises(ModelRegistryError) as error:
        model_set_resources(model=model, k8s_resources=bad)

    assert error.value.field == "k8s_resources"
    assert error.value.message.startswith("requests.cpu: '1K' is not a Kubernetes")
    model.refresh_from_db()
    assert model.k8s_resources["requests"]["cpu"] == "250m"
    assert model.resources_changed_at is None
