"""manage.py register_models and the service behind it."""

from dataclasses import replace
from io import StringIO
from types import MappingProxyType

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command

from models_registry.builtin.definitions import BUILTIN_MODELS, RDKIT_DESCRIPTORS
from models_registry.models import Model
from models_registry.services import models_register_builtin

pytestmark = pytest.mark.django_db


def register(*arguments: str) -> str:
    out = StringIO()
    call_command("register_models", *arguments, stdout=out, no_color=True)
    return out.getvalue()


def test_it_creates_the_builtin_models():
    output = register()

    model = Model.objects.get(pk="rdkit-descriptors")
    assert output == "Created model rdkit-descriptors.\n"
    assert model.title == "RDKit molecular descriptors"
    assert model.entrypoint == "models_registry.builtin.rdkit_descriptors:predict"
    assert model.output_columns == [
        "molecular_weight",
        "logp",
        "tpsa",
        "h_bond_donors",
        "h_bond_acceptors",
        "qed",
    ]
    assert model.execution_mode == Model.ExecutionMode.SYNC
    assert model.tag == "1.0.0"
    assert model.enabled
    assert model.k8s_resources == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert Model.objects.count() == len(BUILTIN_MODELS)


def test_it_writes_nothing_in_a_dry_run():
    output = register("--dry-run")

    assert output == "Would create model rdkit-descriptors.\n"
    assert not Model.objects.exists()


def test_it_changes_nothing_on_a_second_run():
    register()
    before = Model.objects.get(pk="rdkit-descriptors")

    output = register()

    after = Model.objects.get(pk="rdkit-descriptors")
    assert output == "Built-in models are up to date.\n"
    assert after.updated_at == before.updated_at


def test_it_keeps_operator_edits_and_restores_code_owned_fields():
    register()
    operated = {
        "title": "Descriptors (operators' title)",
        "description": "Edited.",
        "enabled": False,
        "k8s_resources": {
            "requests": {"cpu": "200m", "memory": "300Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        },
        "min_instances": 1,
        "max_instances": 4,
        "idle_timeout": 60,
        "input_limit": 50,
        "job_timeout": 99,
        "cache_enabled": False,
    }
    Model.objects.filter(pk="rdkit-descriptors").update(
        **operated, entrypoint="somewhere:else", output_columns=["mw"]
    )

    output = register()

    model = Model.objects.get(pk="rdkit-descriptors")
    assert output == "Updated model rdkit-descriptors: entrypoint, output_columns.\n"
    assert model.entrypoint == RDKIT_DESCRIPTORS.entrypoint
    assert model.output_columns == list(RDKIT_DESCRIPTORS.output_columns)
    assert {name: getattr(model, name) for name in operated} == operated


def test_it_reports_updates_in_a_dry_run_without_making_them():
    register()
    Model.objects.filter(pk="rdkit-descriptors").update(execution_mode="ASYNC")

    output = register("--dry-run")

    assert output == "Would update model rdkit-descriptors: execution_mode.\n"
    assert Model.objects.get(pk="rdkit-descriptors").execution_mode == "ASYNC"


def test_it_respects_verbosity():
    assert register("--verbosity", "0") == ""
    assert Model.objects.filter(pk="rdkit-descriptors").exists()
    assert register("--verbosity", "2") == (
        "Model rdkit-descriptors is up to date.\nBuilt-in models are up to date.\n"
    )


def test_it_refuses_a_broken_definition_and_writes_nothing():
    broken = replace(
        RDKIT_DESCRIPTORS,
        id="second-model",
        k8s_resources=MappingProxyType(
            {
                "requests": {"cpu": "1K", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            }
        ),
    )

    with pytest.raises(ValidationError) as error:
        models_register_builtin(definitions=[RDKIT_DESCRIPTORS, broken])

    assert "requests.cpu: '1K' is not a Kubernetes quantity" in str(error.value)
    assert not Model.objects.exists()


def test_it_refuses_a_definition_with_a_bad_id():
    with pytest.raises(ValidationError, match="lower-case letters"):
        models_register_builtin(definitions=[replace(RDKIT_DESCRIPTORS, id="Bad_Id")])

    assert not Model.objects.exists()


def test_it_returns_what_it_did():
    first = models_register_builtin()
    second = models_register_builtin()

    assert (first.created, first.updated, first.unchanged) == (
        ["rdkit-descriptors"],
        {},
        [],
    )
    assert (second.created, second.updated, second.unchanged) == (
        [],
        {},
        ["rdkit-descriptors"],
    )
    assert first.changed and not second.changed


def test_it_runs_in_make_run_after_migrate():
    makefile = (settings.BASE_DIR / "Makefile").read_text()

    assert makefile.index("manage.py migrate") < makefile.index(
        "manage.py register_models"
    )
