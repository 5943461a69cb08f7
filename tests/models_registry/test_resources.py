"""The shape and rules of a model's k8s_resources."""

import pytest
from django.core.exceptions import ValidationError

from models_registry.resources import default_k8s_resources, validate_k8s_resources

SHAPE = 'Give exactly "requests" and "limits", each with "cpu" and "memory".'


def resources(
    request_cpu="250m", request_memory="256Mi", limit_cpu="1", limit_memory="1Gi"
):
    return {
        "requests": {"cpu": request_cpu, "memory": request_memory},
        "limits": {"cpu": limit_cpu, "memory": limit_memory},
    }


def messages(value):
    with pytest.raises(ValidationError) as error:
        validate_k8s_resources(value)
    return error.value.messages


def test_it_accepts_the_default():
    validate_k8s_resources(default_k8s_resources())


@pytest.mark.parametrize(
    "value",
    [
        resources(),
        resources(request_cpu="0", request_memory="0"),
        resources(request_cpu="1", limit_cpu="1000m"),
        resources(request_memory="1G", limit_memory="1Gi"),
        resources(request_cpu="12345n", limit_cpu="0.5"),
    ],
)
def test_it_accepts_well_formed_resources(value):
    validate_k8s_resources(value)


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        "requests",
        {},
        {"requests": {"cpu": "1", "memory": "1Gi"}},
        {**resources(), "extra": {}},
    ],
)
def test_it_rejects_the_wrong_top_level_shape(value):
    assert messages(value) == [SHAPE]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            ['"requests" must have exactly "cpu" and "memory".'],
        ),
        (
            {
                "requests": ["1", "1Gi"],
                "limits": {"cpu": "1", "memory": "1Gi", "gpu": "1"},
            },
            [
                '"requests" must have exactly "cpu" and "memory".',
                '"limits" must have exactly "cpu" and "memory".',
            ],
        ),
    ],
)
def test_it_rejects_sections_of_the_wrong_shape(value, expected):
    assert messages(value) == expected


def test_it_names_every_bad_quantity():
    found = messages(resources(request_cpu="1K", limit_memory="-1", limit_cpu=2))

    assert found == [
        "requests.cpu: '1K' is not a Kubernetes quantity; use forms such as 250m, 0.5, "
        "128Mi, 1G or 1e3 (suffixes are case-sensitive). Did you mean 1k?",
        'limits.cpu: 2 is not a Kubernetes quantity: write it as text, such as "250m".',
        "limits.memory: '-1' is negative; a resource amount cannot be.",
    ]


def test_it_rejects_a_request_above_its_limit():
    found = messages(resources(request_cpu="2", request_memory="2Gi"))

    assert found == [
        "requests.cpu (2) cannot exceed limits.cpu (1).",
        "requests.memory (2Gi) cannot exceed limits.memory (1Gi).",
    ]


def test_it_compares_amounts_across_suffixes():
    assert messages(resources(request_memory="1025Mi", limit_memory="1Gi")) == [
        "requests.memory (1025Mi) cannot exceed limits.memory (1Gi)."
    ]


def test_it_rejects_zero_limits():
    found = messages(
        resources(request_cpu="0", request_memory="0", limit_cpu="0m", limit_memory="0")
    )

    assert found == [
        "limits.cpu must be more than zero.",
        "limits.memory must be more than zero.",
    ]
