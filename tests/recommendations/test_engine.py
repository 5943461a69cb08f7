"""The arithmetic: the worked example, exactness, bands, floors, OOM and caps."""

import math
import re
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.exceptions import ImproperlyConfigured

from recommendations.conf import caps
from recommendations.engine import (
    Band,
    Caps,
    ProfileRule,
    decimal_text,
    recommend_profile,
    round_half_up,
    validate_bands,
)
from recommendations.models import ModelRecommendation
from tests.factories import ModelFactory
from tests.recommendations.helpers import EXAMPLE_RESOURCES, latest

CPU_BANDS = (
    Band("very_under", Fraction(0), Fraction(40)),
    Band("under", Fraction(40), Fraction(65)),
    Band("recommended", Fraction(65), Fraction(85)),
    Band("over", Fraction(85), Fraction(95)),
    Band("very_over", Fraction(95), None),
)
CPU_MAX = ProfileRule(name="cpu_max", floor=200, bands=CPU_BANDS)
CPU_MIN = ProfileRule(name="cpu_min", floor=10, bands=CPU_BANDS)
MEMORY_BANDS = (
    Band("very_under", Fraction(0), Fraction(40)),
    Band("under", Fraction(40), Fraction(65)),
    Band("recommended", Fraction(65), Fraction(80)),
    Band("over", Fraction(80), Fraction(90)),
    Band("very_over", Fraction(90), None),
)
MEMORY_MAX = ProfileRule(name="memory_max", floor=300, bands=MEMORY_BANDS)


def test_it_computes_the_worked_example_exactly(example_model, compute):
    compute()

    result = latest(example_model)
    assert result.status == ModelRecommendation.Status.OK
    assert result.instances == 3
    cpu_min, cpu_max = result.profiles["cpu_min"], result.profiles["cpu_max"]
    memory_min, memory_max = (
        result.profiles["memory_min"],
        result.profiles["memory_max"],
    )

    assert cpu_min["current_value"] == "20"
    assert cpu_min["current_allocation"] == "100"
    assert cpu_min["current_percentage"] == 20
    assert cpu_min["profile_state"] == "very_under"
    assert cpu_min["recommended_value"] == 27
    assert (cpu_min["recommended_min"], cpu_min["recommended_max"]) == (24, 30)
    assert cpu_min["recommended_min_percentage"] == 83  # 20 / 24
    assert cpu_min["recommended_max_percentage"] == 67  # 20 / 30

    assert cpu_max["current_value"] == "900"
    assert cpu_max["current_percentage"] == 90
    assert cpu_max["profile_state"] == "over"
    assert cpu_max["recommended_value"] == 1200
    assert (cpu_max["recommended_min"], cpu_max["recommended_max"]) == (1059, 1384)

    assert memory_min["current_value"] == "100"
    assert memory_min["current_percentage"] == 39
    assert memory_min["profile_state"] == "very_under"
    assert memory_min["recommended_value"] == 138

    assert memory_max["current_value"] == "700"
    assert memory_max["current_percentage"] == 68
    assert memory_max["profile_state"] == "recommended"
    assert memory_max["recommended_value"] == 966
    assert (memory_max["recommended_min"], memory_max["recommended_max"]) == (875, 1076)
    assert memory_max["recommended_min_percentage"] == 80
    assert memory_max["recommended_max_percentage"] == 65
    assert result.warnings == []


def test_it_finds_900m_at_75_percent_is_exactly_1200m():
    recommendation = recommend_profile(
        rule=CPU_MAX, usage=Fraction(900), allocation=Fraction(1000)
    )

    assert recommendation["recommended_value"] == 1200


def test_it_does_not_drift_where_floats_would():
    # In floats, 0.033 cores / 0.75 is 0.04400000000000001 cores, which
    # rounded up to whole millicores would be 45m instead of 44m.
    assert math.ceil(0.033 / 0.75 * 1000) == 45

    recommendation = recommend_profile(
        rule=CPU_MIN, usage=Fraction(33), allocation=Fraction(100)
    )

    assert recommendation["recommended_value"] == 44


def test_it_classifies_on_the_exact_percentage_not_the_rounded_one():
    # 84.9 % shows as 85 % but sits in the recommended band (below 85).
    just_below = recommend_profile(
        rule=CPU_MAX, usage=Fraction("849"), allocation=Fraction(1000)
    )
    at_edge = recommend_profile(
        rule=CPU_MAX, usage=Fraction(850), allocation=Fraction(1000)
    )

    assert just_below["current_percentage"] == 85
    assert just_below["profile_state"] == "recommended"
    assert at_edge["profile_state"] == "over"


@pytest.mark.parametrize(
    ("usage", "state"),
    [
        (0, "very_under"),
        (399, "very_under"),
        (400, "under"),
        (650, "recommended"),
        (950, "very_over"),
        (5000, "very_over"),
    ],
)
def test_it_includes_the_lower_bound_and_excludes_the_upper(usage, state):
    recommendation = recommend_profile(
        rule=CPU_MAX, usage=Fraction(usage), allocation=Fraction(1000)
    )

    assert recommendation["profile_state"] == state


def test_it_rounds_displayed_percentages_half_up():
    assert round_half_up(Fraction(385, 10)) == 39
    assert round_half_up(Fraction(3849, 100)) == 38
    assert round_half_up(Fraction(1, 2)) == 1
    recommendation = recommend_profile(
        rule=CPU_MAX, usage=Fraction(125), allocation=Fraction(1000)
    )
    assert recommendation["current_percentage"] == 13  # 12.5 %


def test_it_raises_the_value_to_the_floor_but_leaves_the_range():
    recommendation = recommend_profile(
        rule=CPU_MAX, usage=Fraction(30), allocation=Fraction(1000)
    )

    assert recommendation["recommended_value"] == 200
    assert (recommendation["recommended_min"], recommendation["recommended_max"]) == (
        36,
        46,
    )
    assert recommendation["notes"] == [
        "Raised to the 200m floor; usage alone asks for 40m."
    ]


def test_it_treats_cpu_as_a_rate_whatever_the_instance_ran_for(persist, compute):
    short = ModelFactory(id="short-jobs", k8s_resources=EXAMPLE_RESOURCES)
    long = ModelFactory(id="long-jobs", k8s_resources=EXAMPLE_RESOURCES)
    for _ in range(3):
        persist(short, cpu=(50, 500), duration=timedelta(seconds=5))
        persist(long, cpu=(50, 500), duration=timedelta(hours=30))

    compute()

    # 500 millicores against a 1000m limit is 50 %, however long it ran: a
    # counter of CPU-seconds would have grown with the duration instead.
    for model in (short, long):
        cpu_max = latest(model).profiles["cpu_max"]
        assert cpu_max["current_value"] == "500"
        assert cpu_max["current_percentage"] == 50
        assert cpu_max["recommended_value"] == 667


def test_it_keeps_fractional_millicores_exact(persist, compute):
    model = ModelFactory(id="tiny", k8s_resources=EXAMPLE_RESOURCES)
    for low in ("12.5", "13.25", "14"):
        persist(model, cpu=(Decimal(low), 300))

    compute()

    cpu_min = latest(model).profiles["cpu_min"]
    assert cpu_min["current_value"] == "12.5"
    assert cpu_min["current_percentage"] == 13  # 12.5 % rounds half up
    assert cpu_min["recommended_value"] == 17  # 12.5 / 0.75 = 16.67


def test_it_raises_memory_max_after_an_oom_kill_and_says_why(persist, compute):
    model = ModelFactory(id="oom", k8s_resources=EXAMPLE_RESOURCES)
    for _ in range(2):
        persist(model, memory=(100, 700))
    persist(model, memory=(100, 1000), oom_killed=True)

    compute()

    result = latest(model)
    memory_max = result.profiles["memory_max"]
    # Usage alone (1000Mi at 72.5 %) asks for 1380Mi; the OOM rule wants at
    # least max(1.2 x 1024, 1024 + 100) = 1228.8, so 1380 stands here.
    assert memory_max["recommended_value"] == 1380
    assert result.oom_killed_instances == 1
    assert "OOMKilled at its 1024Mi limit" in memory_max["notes"][0]


def test_it_lifts_memory_max_to_the_oom_minimum(persist, compute):
    model = ModelFactory(id="oom-low", k8s_resources=EXAMPLE_RESOURCES)
    for _ in range(2):
        persist(model, memory=(100, 300))
    persist(model, memory=(100, 400), oom_killed=True)

    compute()

    memory_max = latest(model).profiles["memory_max"]
    # Usage asks for 552Mi; 1.2 x 1024Mi = 1228.8Mi, rounded up to 1229Mi.
    assert memory_max["recommended_value"] == 1229
    assert memory_max["notes"] == [
        "Raised to 1229Mi because an instance was OOMKilled at its 1024Mi limit: "
        "at least the larger of 1.2 x 1024Mi and 1024Mi + 100Mi."
    ]
    assert latest(model).profiles["memory_min"]["recommended_value"] == 138


def test_it_uses_the_100mi_bump_for_small_limits_and_the_largest_oom_limit():
    small = recommend_profile(
        rule=MEMORY_MAX,
        usage=Fraction(100),
        allocation=Fraction(400),
        oom_limit=Fraction(256),
    )
    # 1.2 x 256 = 307.2 < 256 + 100 = 356.
    assert small["recommended_value"] == 356


def test_it_takes_the_limit_an_instance_died_at_not_the_current_one(persist, compute):
    model = ModelFactory(id="oom-old-limit", k8s_resources=EXAMPLE_RESOURCES)
    for _ in range(2):
        persist(model, memory=(100, 300))
    persist(
        model,
        memory=(100, 500),
        oom_killed=True,
        allocation={
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "2Gi"},
        },
    )

    compute()

    memory_max = latest(model).profiles["memory_max"]
    assert memory_max["recommended_value"] == 2458  # 1.2 x 2048 = 2457.6
    assert "OOMKilled at its 2048Mi limit" in memory_max["notes"][0]


def test_it_caps_a_recommendation_with_a_warning(settings, example_model, compute):
    settings.RECOMMENDATIONS_MAX_CPU = "1"

    compute()

    result = latest(example_model)
    cpu_max = result.profiles["cpu_max"]
    assert cpu_max["recommended_value"] == 1000
    assert cpu_max["warnings"] == [
        "Capped at 1000m, the largest cpu allocation allowed "
        "(RECOMMENDATIONS_MAX_CPU); uncapped it would be 1200m."
    ]
    assert result.warnings == cpu_max["warnings"]
    assert result.profiles["cpu_min"]["warnings"] == []


def test_the_cap_wins_over_the_oom_rule(settings, persist, compute):
    settings.RECOMMENDATIONS_MAX_MEMORY = "1100Mi"
    model = ModelFactory(id="oom-capped", k8s_resources=EXAMPLE_RESOURCES)
    for _ in range(2):
        persist(model, memory=(100, 300))
    persist(model, memory=(100, 400), oom_killed=True)

    compute()

    memory_max = latest(model).profiles["memory_max"]
    assert memory_max["recommended_value"] == 1100
    assert "OOMKilled" in memory_max["notes"][0]
    assert memory_max["warnings"] == [
        "Capped at 1100Mi, the largest memory allocation allowed "
        "(RECOMMENDATIONS_MAX_MEMORY); uncapped it would be 1229Mi."
    ]


def test_it_caps_down_to_a_whole_unit():
    capped = recommend_profile(
        rule=MEMORY_MAX,
        usage=Fraction(900),
        allocation=Fraction(1024),
        cap=Fraction("953.67431640625"),  # 1G in MiB
    )

    assert capped["recommended_value"] == 953


def test_it_reports_no_percentage_against_a_zero_request():
    recommendation = recommend_profile(
        rule=CPU_MIN, usage=Fraction(20), allocation=Fraction(0)
    )

    assert recommendation["current_percentage"] is None
    assert recommendation["profile_state"] == "very_over"
    assert recommendation["recommended_value"] == 27


def test_it_writes_usage_as_plain_decimal_text():
    assert decimal_text(Fraction(1200)) == "1200"
    assert decimal_text(Fraction(201, 2)) == "100.5"
    assert decimal_text(Fraction(1, 2**20)) == "0"
    assert decimal_text(Fraction("953.67431640625")) == "953.674"


DEFAULT = [
    ("very_under", Decimal(0), Decimal(40)),
    ("under", Decimal(40), Decimal(65)),
    ("recommended", Decimal(65), Decimal(85)),
    ("over", Decimal(85), Decimal(95)),
    ("very_over", Decimal(95), None),
]


def _with(position, lower, upper):
    bands = list(DEFAULT)
    state = bands[position][0]
    bands[position] = (state, lower, upper)
    return bands


def test_it_accepts_the_default_bands():
    assert validate_bands(DEFAULT) == []


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        (
            _with(0, Decimal(5), Decimal(40)),
            "The very_under band must start at 0 %, not at 5 %.",
        ),
        (
            _with(1, Decimal(45), Decimal(65)),
            "The under band must start at 40 %, where the very_under band ends, "
            "not at 45 %.",
        ),
        (
            _with(2, Decimal(65), Decimal(60)),
            "The recommended band must end above where it starts (65 %), not at 60 %.",
        ),
        (
            _with(4, Decimal(95), Decimal(200)),
            "The very_over band is the last: leave its upper bound blank.",
        ),
        (
            _with(3, Decimal(85), None),
            "The over band needs an upper bound; only the last has none.",
        ),
        (
            DEFAULT[:4],
            "Give exactly one band for each of: very_under, under, recommended, "
            "over, very_over.",
        ),
        (
            [*DEFAULT, ("under", Decimal(40), Decimal(65))],
            "Give exactly one band for each of: very_under, under, recommended, "
            "over, very_over.",
        ),
    ],
)
def test_it_rejects_bands_that_are_not_contiguous_and_increasing(bands, message):
    assert message in validate_bands(bands)


def test_the_settings_default_to_the_issue_values(settings):
    assert settings.RECOMMENDATIONS_MIN_INSTANCES == 3
    assert settings.RECOMMENDATIONS_INSTANCE_LIMIT == 100
    assert caps() == Caps(cpu=None, memory=None)


def test_it_reads_caps_as_quantities(settings):
    settings.RECOMMENDATIONS_MAX_CPU = "7.5"
    settings.RECOMMENDATIONS_MAX_MEMORY = "32Gi"

    assert caps() == Caps(cpu=Fraction(7500), memory=Fraction(32768))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RECOMMENDATIONS_MAX_CPU", "lots", "RECOMMENDATIONS_MAX_CPU: 'lots' is not"),
        ("RECOMMENDATIONS_MAX_MEMORY", "1gi", "RECOMMENDATIONS_MAX_MEMORY: '1gi'"),
        ("RECOMMENDATIONS_MAX_MEMORY", "0", "must be at least 1m (CPU) or 1Mi"),
        ("RECOMMENDATIONS_MAX_CPU", "-2", "negative"),
    ],
)
def test_it_refuses_caps_that_are_not_allocations(settings, name, value, message):
    setattr(settings, name, value)

    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        caps()
