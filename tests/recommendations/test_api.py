"""The recommendations API: shape, runs, apply, permissions and bad input."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from instances.services import instance_request
from models_registry.services import model_set_resources
from recommendations import services
from recommendations.api import (
    RecommendationModelSerializer,
    RecommendationOverviewSerializer,
    RecommendationProfileSerializer,
)
from recommendations.models import (
    ModelRecommendation,
    RecommendationApplication,
    RecommendationRun,
)
from recommendations.services import RunParameters, run_start
from tests.factories import ModelFactory, UserFactory
from tests.recommendations.helpers import EXAMPLE_RESOURCES, latest, signed_in

LIST = "/api/recommendations/"
STATE = "/api/recommendations/state/"
RUN = "/api/recommendations/run/"
Run = RecommendationRun


def run_url(model_id: str) -> str:
    return f"/api/recommendations/run/{model_id}/"


def apply_url(model_id: str) -> str:
    return f"/api/recommendations/{model_id}/apply/"


ENDPOINTS = [
    ("get", LIST),
    ("get", STATE),
    ("post", RUN),
    ("post", run_url("example")),
    ("post", apply_url("example")),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_it_refuses_anonymous_visitors(example_model, method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")

    assert response.status_code in (401, 403)
    assert not Run.objects.exists()


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_it_refuses_users_without_the_admin_role(example_model, user_api, method, url):
    response = getattr(user_api, method)(url, {}, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "This needs the admin role."}
    assert not Run.objects.exists()


def test_it_lets_superusers_in(example_model):
    client = APIClient()
    client.force_login(signed_in(UserFactory(is_superuser=True)))

    assert client.get(LIST).status_code == 200


def test_it_lists_the_state_and_every_model(example_model, compute, admin_api):
    ModelFactory(id="unprofiled")
    run = compute()
    ModelFactory(id="added-later")

    response = admin_api.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "outdated"  # a model was added after the run
    assert body["last_run_at"] is not None
    assert body["run"] is None
    assert body["last_run"]["id"] == run.pk
    assert body["last_run"]["state"] == "succeeded"
    assert set(body["models"]) == {"example", "unprofiled", "added-later"}

    entry = body["models"]["example"]
    assert entry["status"] == "ok"
    assert entry["instances"] == 3
    assert entry["run"] == run.pk
    assert entry["outdated"] is False
    assert entry["needs_attention"] is True
    assert entry["allocation"] == EXAMPLE_RESOURCES
    assert entry["window"]["since"] is None
    assert entry["cpu"]["max"] == {
        "profile": "cpu_max",
        "unit": "m",
        "profile_state": "over",
        "current_value": "900",
        "current_allocation": "1000",
        "current_percentage": 90,
        "recommended_value": 1200,
        "recommended_min": 1059,
        "recommended_min_percentage": 85,
        "recommended_max": 1384,
        "recommended_max_percentage": 65,
        "recommended_band": {"lower": "65", "upper": "85"},
        "notes": [],
        "warnings": [],
    }
    assert entry["cpu"]["min"]["recommended_value"] == 27
    assert entry["memory"]["min"]["recommended_value"] == 138
    assert entry["memory"]["max"]["recommended_value"] == 966

    assert body["models"]["unprofiled"]["status"] == "not_enough_data"
    assert body["models"]["unprofiled"]["cpu"] == {"min": None, "max": None}
    assert body["models"]["added-later"]["status"] == "not_profiled"
    assert body["models"]["added-later"]["timestamp"] is None


def test_the_list_costs_the_same_queries_for_more_models(
    persist, compute, admin_api, django_assert_max_num_queries
):
    for index in range(3):
        model = ModelFactory(id=f"few-{index}", k8s_resources=EXAMPLE_RESOURCES)
        for _ in range(3):
            persist(model)
    compute()
    with django_assert_max_num_queries(8):
        admin_api.get(LIST)
    for index in range(20):
        ModelFactory(id=f"more-{index}")
    compute()

    with django_assert_max_num_queries(8):
        response = admin_api.get(LIST)

    assert len(response.json()["models"]) == 23


def test_run_all_answers_202_and_a_worker_computes_it(
    example_model,
    admin_api,
    admin_user,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_api.post(RUN, {"limit": 50}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "running"
    assert body["started_by"] == admin_user.username
    assert body["trigger"] == "user"
    assert body["scope"] == "all"
    assert body["limit"] == 50
    assert len(callbacks) == 1
    run = Run.objects.get(pk=body["id"])
    assert run.state == Run.State.SUCCEEDED
    assert latest(example_model).run == run
    assert admin_api.get(STATE).json()["state"] == "up_to_date"


def test_run_all_is_not_queued_before_the_run_is_saved(
    example_model, admin_api, django_capture_on_commit_callbacks
):
    with mock.patch("recommendations.tasks.run_recommendations.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            admin_api.post(RUN, {}, format="json")
        assert not delay.called

        callbacks[0]()

    delay.assert_called_once_with(Run.objects.get().pk)


def test_run_all_with_the_broker_down_fails_the_run_cleanly(
    example_model, admin_api, django_capture_on_commit_callbacks
):
    with (
        mock.patch(
            "recommendations.tasks.run_recommendations.delay",
            side_effect=ConnectionError("broker down"),
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_api.post(RUN, {}, format="json")

    assert response.status_code == 202
    run = Run.objects.get()
    assert run.state == Run.State.FAILED
    assert "could not be queued" in run.error.lower()
    assert admin_api.get(STATE).json()["last_run"]["state"] == "failed"


def test_a_run_request_during_a_run_gets_409_and_the_state(example_model, admin_api):
    going = run_start(trigger="user", parameters=RunParameters())

    for url in (RUN, run_url("example")):
        response = admin_api.post(url, {}, format="json")

        assert response.status_code == 409
        body = response.json()
        assert body["detail"] == (
            "A recommendation run is already going on; wait for it to finish."
        )
        assert body["state"]["state"] == "running"
        assert body["state"]["run"]["id"] == going.pk
    assert Run.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_run_requests_at_once_one_runs_one_gets_409(admin_user):
    ModelFactory(id="raced", k8s_resources=EXAMPLE_RESOURCES)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        client = APIClient()
        client.force_login(signed_in(admin_user))
        try:
            barrier.wait(timeout=10)
            statuses.append(client.post(RUN, {}, format="json").status_code)
        finally:
            connection.close()

    with mock.patch("recommendations.tasks.run_recommendations.delay"):
        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)

    assert sorted(statuses) == [202, 409]
    assert Run.objects.filter(state=Run.State.RUNNING).count() == 1


def test_run_one_model_answers_200_with_its_result(example_model, admin_api):
    response = admin_api.post(run_url("example"), {}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "example"
    assert body["status"] == "ok"
    assert body["cpu"]["max"]["recommended_value"] == 1200
    run = Run.objects.get()
    assert (run.scope, run.model_id, run.state) == ("model", "example", "succeeded")


def test_run_one_model_with_a_window(example_model, admin_api):
    response = admin_api.post(
        run_url("example"),
        {"since": "2000-01-01T00:00:00Z", "until": "2000-02-01T00:00:00Z"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "not_enough_data"
    assert response.json()["window"]["since"] == "2000-01-01T00:00:00Z"


def test_run_one_model_refuses_a_disabled_model(admin_api, db):
    ModelFactory(id="dormant", enabled=False)

    response = admin_api.post(run_url("dormant"), {}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "dormant is disabled; only enabled models are profiled."
    )
    assert not Run.objects.exists()


def test_run_one_model_that_fails_answers_a_generic_500(example_model, admin_api):
    admin_api.raise_request_exception = False
    with mock.patch.object(
        services, "usage_by_model", side_effect=RuntimeError("db x")
    ):
        response = admin_api.post(run_url("example"), {}, format="json")

    assert response.status_code == 500
    assert "db x" not in response.content.decode()
    assert Run.objects.get().state == Run.State.FAILED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-45T00:00:00Z"}, "until"),
        ({"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, "since"),
        ({"since": "2024-01-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, "since"),
        ({"limit": "many"}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": 2}, "limit"),
        ({"limit": 100000}, "limit"),
    ],
)
@pytest.mark.parametrize("url", [RUN, run_url("example")])
def test_run_endpoints_reject_bad_parameters(
    example_model, admin_api, url, body, field
):
    response = admin_api.post(url, body, format="json")

    assert response.status_code == 400
    payload = response.json()
    assert field in payload or payload.get("field") == field
    assert not Run.objects.exists()


@pytest.mark.parametrize("url", [RUN, run_url("example"), apply_url("example")])
def test_post_endpoints_reject_a_body_that_is_not_an_object(
    example_model, admin_api, url
):
    response = admin_api.post(url, "[1, 2]", content_type="application/json")
    broken = admin_api.post(url, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert broken.status_code == 400
    assert not Run.objects.exists()


@pytest.mark.parametrize("url", [run_url("no-such-model"), apply_url("no-such-model")])
def test_unknown_models_are_404(admin_api, url, db):
    response = admin_api.post(url, {}, format="json")

    assert response.status_code == 404
    assert not Run.objects.exists()


def test_apply_writes_the_stored_values_and_the_next_instance_gets_them(
    example_model, compute, admin_api, admin_user
):
    compute()

    response = admin_api.post(
        apply_url("example"), {"profiles": ["cpu_max", "memory_max"]}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["old"] == EXAMPLE_RESOURCES
    assert body["new"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1200m", "memory": "966Mi"},
    }
    assert body["profiles"] == ["cpu_max", "memory_max"]
    assert body["applied_by"] == admin_user.username
    example_model.refresh_from_db()
    assert example_model.k8s_resources == body["new"]
    assert example_model.resources_changed_at is not None
    application = RecommendationApplication.objects.get()
    assert application.applied_by == admin_user
    assert application.recommendation == latest(example_model)

    instance = instance_request(model=example_model)
    assert instance.allocation["limits"] == {"cpu": "1200m", "memory": "966Mi"}


def test_apply_defaults_to_all_four_profiles(example_model, compute, admin_api):
    compute()

    response = admin_api.post(apply_url("example"), {}, format="json")

    assert response.status_code == 200
    assert response.json()["profiles"] == [
        "cpu_min",
        "cpu_max",
        "memory_min",
        "memory_max",
    ]
    assert response.json()["new"] == {
        "requests": {"cpu": "27m", "memory": "138Mi"},
        "limits": {"cpu": "1200m", "memory": "966Mi"},
    }


def test_apply_ignores_values_in_the_body(example_model, compute, admin_api):
    compute()

    response = admin_api.post(
        apply_url("example"),
        {"profiles": ["cpu_max"], "recommended_value": 99999, "cpu_max": "64"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["new"]["limits"]["cpu"] == "1200m"


@pytest.mark.parametrize(
    "body",
    [
        {"profiles": ["cpu"]},
        {"profiles": ["CPU_MAX"]},
        {"profiles": "cpu_max"},
        {"profiles": [None]},
        {"profiles": []},
    ],
)
def test_apply_rejects_bad_profile_names(example_model, compute, admin_api, body):
    compute()

    response = admin_api.post(apply_url("example"), body, format="json")

    assert response.status_code == 400
    assert "profiles" in response.json() or response.json()["field"] == "profiles"
    example_model.refresh_from_db()
    assert example_model.k8s_resources == EXAMPLE_RESOURCES
    assert not RecommendationApplication.objects.exists()


def test_apply_refuses_when_there_is_not_enough_data(persist, compute, admin_api):
    model = ModelFactory(id="thin", k8s_resources=EXAMPLE_RESOURCES)
    persist(model)
    compute()

    response = admin_api.post(apply_url("thin"), {}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "There is nothing to apply: not enough data. A recommendation needs at "
        "least 3 finished instances in the window; this model has 1."
    )
    assert not RecommendationApplication.objects.exists()


def test_apply_refuses_a_model_never_profiled(admin_api, db):
    ModelFactory(id="new")

    response = admin_api.post(apply_url("new"), {}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "This model has no recommendation yet; run it first."
    )


def test_apply_refuses_once_the_allocation_changed(example_model, compute, admin_api):
    compute()
    changed = {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    model_set_resources(model=example_model, k8s_resources=changed)

    response = admin_api.post(
        apply_url("example"), {"profiles": ["cpu_max"]}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "The CPU limit changed from 1000m to 2 after this recommendation was "
        "computed; run the model again before applying it."
    )
    example_model.refresh_from_db()
    assert example_model.k8s_resources == changed
    assert not RecommendationApplication.objects.exists()


def test_apply_refuses_any_change_to_the_allocation(example_model, compute, admin_api):
    compute()
    model_set_resources(
        model=example_model,
        k8s_resources={
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1000m", "memory": "2Gi"},
        },
    )

    response = admin_api.post(
        apply_url("example"), {"profiles": ["cpu_max"]}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["detail"].startswith(
        "The memory limit changed from 1Gi to 2Gi after this recommendation"
    )


def test_apply_takes_one_profile_at_a_time(example_model, compute, admin_api):
    compute()

    first = admin_api.post(
        apply_url("example"), {"profiles": ["cpu_min"]}, format="json"
    )
    second = admin_api.post(
        apply_url("example"), {"profiles": ["memory_max"]}, format="json"
    )

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["old"]["requests"]["cpu"] == "27m"
    example_model.refresh_from_db()
    assert example_model.k8s_resources == {
        "requests": {"cpu": "27m", "memory": "256Mi"},
        "limits": {"cpu": "1000m", "memory": "966Mi"},
    }
    assert RecommendationApplication.objects.count() == 2


def test_apply_accepts_the_same_amount_written_another_way(
    example_model, compute, admin_api
):
    compute()
    model_set_resources(
        model=example_model,
        k8s_resources={
            "requests": {"cpu": "0.1", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1024Mi"},
        },
    )

    response = admin_api.post(apply_url("example"), {}, format="json")

    assert response.status_code == 200


def test_apply_refuses_a_request_above_its_limit(persist, compute, admin_api):
    model = ModelFactory(id="steady", k8s_resources=EXAMPLE_RESOURCES)
    for _ in range(3):
        persist(model, cpu=(900, 950))
    compute()

    # cpu_min asks for 1200m (900m at 75 %), above the 1000m limit as it is.
    alone = admin_api.post(
        apply_url("steady"), {"profiles": ["cpu_min"]}, format="json"
    )

    assert alone.status_code == 409
    assert alone.json()["detail"] == (
        "This would set the cpu request (1200m) above its limit (1000m); apply the "
        "cpu limit as well, or change it first."
    )
    model.refresh_from_db()
    assert model.k8s_resources == EXAMPLE_RESOURCES
    assert not RecommendationApplication.objects.exists()

    together = admin_api.post(
        apply_url("steady"), {"profiles": ["cpu_min", "cpu_max"]}, format="json"
    )

    assert together.status_code == 200
    assert together.json()["new"]["requests"]["cpu"] == "1200m"
    assert together.json()["new"]["limits"]["cpu"] == "1267m"


def test_the_schema_documents_every_endpoint(db):
    # Only this app's routes, so another app's schema does not decide this.
    generator = SchemaGenerator(
        patterns=[path("api/", include("recommendations.api_urls"))]
    )

    schema = generator.get_schema(request=None, public=True)

    paths = schema["paths"]
    assert set(paths) == {
        "/api/recommendations/",
        "/api/recommendations/state/",
        "/api/recommendations/run/",
        "/api/recommendations/run/{model_id}/",
        "/api/recommendations/{model_id}/apply/",
    }
    assert set(paths["/api/recommendations/run/"]["post"]["responses"]) == {
        "202",
        "400",
        "409",
    }
    apply = paths["/api/recommendations/{model_id}/apply/"]["post"]
    assert set(apply["responses"]) == {"200", "400", "404", "409"}
    profile = schema["components"]["schemas"]["RecommendationProfile"]
    assert "recommended_value" in profile["properties"]
    assert ModelRecommendation.Status.NOT_ENOUGH_DATA in str(schema)


def test_the_list_matches_its_documented_shape(
    example_model, persist, compute, admin_api
):
    thin = ModelFactory(id="thin", k8s_resources=EXAMPLE_RESOURCES)
    persist(thin)
    compute(since=timezone.now() - timedelta(days=1))
    ModelFactory(id="unprofiled")

    body = admin_api.get(LIST).json()

    overview = RecommendationOverviewSerializer(data=body)
    assert overview.is_valid(), overview.errors
    documented = set(RecommendationModelSerializer().fields)
    profile_fields = set(RecommendationProfileSerializer().fields)
    for entry in body["models"].values():
        assert set(entry) == documented
    assert set(body["models"]["example"]["memory"]["max"]) == profile_fields
