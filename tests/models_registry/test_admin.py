"""The model admin: the operators' console, with its validation and actions."""

import json

import pytest
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from models_registry.models import Model
from tests.factories import ModelFactory

pytestmark = pytest.mark.django_db

FORM_FIELDS = [
    "title",
    "description",
    "image",
    "tag",
    "version",
    "entrypoint",
    "port",
    "execution_mode",
    "min_instances",
    "max_instances",
    "idle_timeout",
    "input_limit",
    "schedule_timeout",
    "ready_timeout",
    "job_timeout",
]
RESOURCES = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}


@pytest.fixture
def superuser_client(client):
    user = User.objects.create_superuser("root", "root@example.org", "a-long-Pass-42")
    client.force_login(user)
    return client


@pytest.fixture
def model():
    return ModelFactory(id="describe", k8s_resources=RESOURCES)


def form_data(model: Model, **changes) -> dict[str, str]:
    data = {name: str(getattr(model, name)) for name in FORM_FIELDS}
    data["k8s_resources"] = json.dumps(model.k8s_resources)
    data["output_columns"] = json.dumps(model.output_columns)
    if model.enabled:
        data["enabled"] = "on"
    if model.cache_enabled:
        data["cache_enabled"] = "on"
    data.update(changes)
    return data


def change(client, model: Model, **changes):
    url = reverse("admin:models_registry_model_change", args=[model.pk])
    return client.post(url, form_data(model, **changes))


def resources_text(**amounts: str) -> str:
    value = json.loads(json.dumps(RESOURCES))
    for key, amount in amounts.items():
        section, resource = key.split("_")
        value[section][resource] = amount
    return json.dumps(value)


def form_errors(response) -> dict[str, list[str]]:
    return response.context["adminform"].form.errors


def test_it_lists_models_for_operators(superuser_client, model):
    ModelFactory(id="other", enabled=False, min_instances=1, max_instances=3)

    response = superuser_client.get(reverse("admin:models_registry_model_changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "modelhub/test:1.0" in content
    assert "1 to 3" in content
    assert "describe" in content and "other" in content


def test_it_filters_and_searches(superuser_client, model):
    ModelFactory(id="hidden-one", enabled=False)
    url = reverse("admin:models_registry_model_changelist")

    disabled = superuser_client.get(url, {"enabled__exact": "0"})
    searched = superuser_client.get(url, {"q": "describ"})

    assert [m.pk for m in disabled.context["cl"].result_list] == ["hidden-one"]
    assert [m.pk for m in searched.context["cl"].result_list] == ["describe"]


def test_it_keeps_the_admin_from_people_without_staff_access(client, model):
    client.force_login(
        User.objects.create_user("plain", "plain@example.org", "a-Pass-42x")
    )

    response = client.get(
        reverse("admin:models_registry_model_change", args=[model.pk])
    )

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            resources_text(requests_cpu="1K"),
            "requests.cpu: '1K' is not a Kubernetes quantity; use forms such as 250m, "
            "0.5, 128Mi, 1G or 1e3 (suffixes are case-sensitive). Did you mean 1k?",
        ),
        (
            resources_text(limits_memory="abc"),
            "limits.memory: 'abc' is not a Kubernetes quantity; use forms such as 250m, "
            "0.5, 128Mi, 1G or 1e3 (suffixes are case-sensitive).",
        ),
        (
            resources_text(requests_memory="-1"),
            "requests.memory: '-1' is negative; a resource amount cannot be.",
        ),
        (
            resources_text(requests_cpu="2"),
            "requests.cpu (2) cannot exceed limits.cpu (1).",
        ),
        ('{"requests": {"cpu": "1"', "Enter a valid JSON."),
        (
            '{"requests": {"cpu": "1", "memory": "1Gi"}}',
            'Give exactly "requests" and "limits", each with "cpu" and "memory".',
        ),
    ],
)
def test_it_shows_bad_resources_on_the_field_and_saves_nothing(
    superuser_client, model, resources, message
):
    response = change(superuser_client, model, k8s_resources=resources, title="Changed")

    assert response.status_code == 200
    assert message in form_errors(response)["k8s_resources"]
    assert escape(message) in response.content.decode()
    saved = Model.objects.get(pk=model.pk)
    assert saved.k8s_resources == RESOURCES
    assert saved.title == model.title
    assert saved.resources_changed_at is None


def test_it_rejects_more_minimum_than_maximum_instances(superuser_client, model):
    response = change(superuser_client, model, min_instances="3", max_instances="2")

    assert response.status_code == 200
    assert form_errors(response)["min_instances"] == [
        "Minimum instances (3) cannot exceed maximum instances (2)."
    ]
    saved = Model.objects.get(pk=model.pk)
    assert (saved.min_instances, saved.max_instances) == (
        model.min_instances,
        model.max_instances,
    )


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            '{"a": 1}',
            'Give a JSON list of column names, such as ["molecular_weight", "logp"].',
        ),
        (
            '["a", 2]',
            'Give a JSON list of column names, such as ["molecular_weight", "logp"].',
        ),
        ('["a", "a"]', "Each column name may appear only once."),
        (
            '["a", "error"]',
            'Downloads add "input" and "error" themselves; leave them out.',
        ),
    ],
)
def test_it_rejects_bad_output_columns(superuser_client, model, columns, message):
    response = change(superuser_client, model, output_columns=columns)

    assert form_errors(response)["output_columns"] == [message]
    assert Model.objects.get(pk=model.pk).output_columns == model.output_columns


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_instances", "0"),
        ("input_limit", "0"),
        ("idle_timeout", "-5"),
        ("port", "x"),
    ],
)
def test_it_rejects_bad_limits(superuser_client, model, field, value):
    response = change(superuser_client, model, **{field: value})

    assert response.status_code == 200
    assert form_errors(response)[field]
    assert str(getattr(Model.objects.get(pk=model.pk), field)) == str(
        getattr(model, field)
    )


def test_it_changes_resources_through_the_service(superuser_client, model):
    new = resources_text(requests_cpu="500m", limits_memory="2Gi")

    response = change(superuser_client, model, k8s_resources=new, title="Renamed")

    assert response.status_code == 302
    saved = Model.objects.get(pk=model.pk)
    assert saved.k8s_resources == json.loads(new)
    assert saved.title == "Renamed"
    assert saved.resources_changed_at is not None


def test_it_leaves_the_resources_timestamp_alone_for_other_changes(
    superuser_client, model
):
    response = change(superuser_client, model, title="Renamed")

    assert response.status_code == 302
    saved = Model.objects.get(pk=model.pk)
    assert saved.title == "Renamed"
    assert saved.resources_changed_at is None


def test_it_does_not_let_the_id_change(superuser_client, model):
    response = change(superuser_client, model, id="renamed")

    assert response.status_code == 302
    assert list(Model.objects.values_list("pk", flat=True)) == ["describe"]


def test_it_adds_a_model(superuser_client):
    model = Model(id="eos3b5e", title="Molecular weight", image="ersiliaos/eos3b5e")
    data = form_data(model, id="eos3b5e")

    response = superuser_client.post(reverse("admin:models_registry_model_add"), data)

    assert response.status_code == 302
    assert Model.objects.get(pk="eos3b5e").image_reference == "ersiliaos/eos3b5e:latest"


def test_it_refuses_a_bad_model_id(superuser_client):
    model = Model(id="x", title="Bad", image="img")
    data = form_data(model, id="Bad_ID")

    response = superuser_client.post(reverse("admin:models_registry_model_add"), data)

    assert response.status_code == 200
    assert form_errors(response)["id"] == [
        "Use lower-case letters, digits and single hyphens, such as "
        "rdkit-descriptors or eos3b5e."
    ]
    assert not Model.objects.exists()


def run_action(client, action: str, *models: Model):
    return client.post(
        reverse("admin:models_registry_model_changelist"),
        {"action": action, "_selected_action": [m.pk for m in models]},
        follow=True,
    )


def test_it_disables_and_enables_selected_models(superuser_client, model):
    other = ModelFactory(id="other")
    untouched = ModelFactory(id="untouched")

    disabled = run_action(superuser_client, "disable_models", model, other)
    assert set(Model.objects.filter(enabled=False).values_list("pk", flat=True)) == {
        "describe",
        "other",
    }
    enabled = run_action(superuser_client, "enable_models", model)

    assert "2 model(s) disabled: describe, other." in disabled.content.decode()
    assert "1 model(s) enabled: describe." in enabled.content.decode()
    assert Model.objects.get(pk="other").enabled is False
    assert Model.objects.get(pk=untouched.pk).enabled is True
    assert Model.objects.get(pk=model.pk).enabled is True


def test_it_says_when_nothing_needed_changing(superuser_client, model):
    response = run_action(superuser_client, "enable_models", model)

    assert "The selected models were already enabled." in response.content.decode()
