"""GET /api/models/ and /api/models/{id}/: read-only, disabled models hidden."""

import pytest
from django.urls import include, path, reverse
from drf_spectacular.generators import SchemaGenerator

from tests.factories import ModelFactory

pytestmark = pytest.mark.django_db

FIELDS = [
    "id",
    "title",
    "description",
    "image",
    "tag",
    "version",
    "enabled",
    "execution_mode",
    "output_columns",
    "input_limit",
    "cache_enabled",
    "k8s_resources",
    "min_instances",
    "max_instances",
]


@pytest.fixture
def models():
    return [
        ModelFactory(id="alpha", output_columns=["a", "b"], version="2.0"),
        ModelFactory(id="beta", execution_mode="ASYNC"),
        ModelFactory(id="retired", enabled=False),
    ]


@pytest.fixture
def admin_client(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    return api_client


def listed(client, **params) -> list[str]:
    response = client.get(reverse("model-list"), params)
    assert response.status_code == 200
    return [model["id"] for model in response.json()["results"]]


def test_it_lists_enabled_models_to_anyone(api_client, models):
    response = api_client.get(reverse("model-list"))

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 2
    assert body["next"] is None
    assert [model["id"] for model in body["results"]] == ["alpha", "beta"]
    assert list(body["results"][0]) == FIELDS


def test_it_hides_disabled_models_from_users(owner_client, models):
    assert listed(owner_client) == ["alpha", "beta"]
    assert listed(owner_client, enabled="false") == []


def test_it_shows_disabled_models_to_admins(admin_client, models):
    assert listed(admin_client) == ["alpha", "beta", "retired"]
    assert listed(admin_client, enabled="false") == ["retired"]


def test_it_filters_by_execution_mode(api_client, models):
    assert listed(api_client, execution_mode="ASYNC") == ["beta"]


def test_it_rejects_an_unknown_execution_mode(api_client, models):
    response = api_client.get(reverse("model-list"), {"execution_mode": "FAST"})

    assert response.status_code == 400
    assert response.json() == {
        "execution_mode": [
            "Select a valid choice. FAST is not one of the available choices."
        ]
    }


def test_it_pages_the_list(api_client, models):
    response = api_client.get(reverse("model-list"), {"page_size": 1, "page": 2})

    body = response.json()
    assert [model["id"] for model in body["results"]] == ["beta"]
    assert body["count"] == 2


def test_it_answers_a_page_past_the_end_with_404(api_client, models):
    response = api_client.get(reverse("model-list"), {"page": 9})

    assert response.status_code == 404


def test_it_returns_one_model(api_client, models):
    response = api_client.get(reverse("model-detail", args=["alpha"]))

    assert response.status_code == 200
    model = models[0]
    assert response.json() == {
        "id": "alpha",
        "title": model.title,
        "description": "",
        "image": "modelhub/test",
        "tag": "1.0",
        "version": "2.0",
        "enabled": True,
        "execution_mode": "SYNC",
        "output_columns": ["a", "b"],
        "input_limit": model.input_limit,
        "cache_enabled": True,
        "k8s_resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "min_instances": model.min_instances,
        "max_instances": model.max_instances,
    }


@pytest.mark.parametrize("model_id", ["nope", "ALPHA", "alpha.json.x", "%20"])
def test_it_answers_404_for_unknown_models(api_client, models, model_id):
    response = api_client.get(f"/api/models/{model_id}/")

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_it_answers_404_for_a_disabled_model_to_users(api_client, owner_client, models):
    assert api_client.get(reverse("model-detail", args=["retired"])).status_code == 404
    assert (
        owner_client.get(reverse("model-detail", args=["retired"])).status_code == 404
    )


def test_it_shows_a_disabled_model_to_admins(admin_client, models):
    response = admin_client.get(reverse("model-detail", args=["retired"]))

    assert response.status_code == 200
    assert response.json()["enabled"] is False


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_is_read_only(admin_client, models, method):
    url = (
        reverse("model-list")
        if method == "post"
        else reverse("model-detail", args=["alpha"])
    )

    response = getattr(admin_client, method)(url, {"title": "x"}, format="json")

    assert response.status_code == 405
    assert models[0].title != "x"


def test_it_lists_in_a_fixed_number_of_queries(api_client, django_assert_num_queries):
    for number in range(10):
        ModelFactory(id=f"model-{number}")

    with django_assert_num_queries(2):
        response = api_client.get(reverse("model-list"))

    assert response.json()["count"] == 10


def test_it_is_documented_in_the_schema():
    # Generated from this app's routes alone, so that another app's schema
    # problem cannot hide (or cause) a failure here.
    generator = SchemaGenerator(
        patterns=[path("api/", include("models_registry.urls"))]
    )

    paths = generator.get_schema(request=None, public=True)["paths"]

    listing = paths["/api/models/"]["get"]
    assert listing["summary"] == "List models"
    assert {parameter["name"] for parameter in listing["parameters"]} == {
        "enabled",
        "execution_mode",
        "page",
        "page_size",
    }
    assert paths["/api/models/{id}/"]["get"]["summary"] == "Get a model"
    assert set(paths["/api/models/{id}/"]) == {"get"}
