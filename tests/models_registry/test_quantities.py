"""Kubernetes quantities: the grammar of apimachinery's resource.Quantity."""

from decimal import Decimal

import pytest

from models_registry.quantities import (
    QuantityError,
    cpu_millicores,
    format_cpu,
    format_memory,
    memory_bytes,
    memory_mebibytes,
    parse_non_negative,
    parse_quantity,
)

GUIDE = "use forms such as 250m, 0.5, 128Mi, 1G or 1e3 (suffixes are case-sensitive)."


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Decimal("0.25")),
        ("1", Decimal(1)),
        ("0", Decimal(0)),
        ("0.5", Decimal("0.5")),
        ("12345n", Decimal("0.000012345")),
        ("1500000000n", Decimal("1.5")),
        ("250u", Decimal("0.00025")),
        ("128Mi", Decimal(128 * 2**20)),
        ("1G", Decimal(10**9)),
        ("0.5Gi", Decimal(2**29)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1e+3", Decimal(1000)),
        ("1e-3", Decimal("0.001")),
        ("+1", Decimal(1)),
        ("-1", Decimal(-1)),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("1.G", Decimal(10**9)),
        ("1Ki", Decimal(1024)),
        ("1Ei", Decimal(2**60)),
        ("1k", Decimal(1000)),
        ("1M", Decimal(10**6)),
        ("2T", Decimal(2 * 10**12)),
        ("3P", Decimal(3 * 10**15)),
        ("1E", Decimal(10**18)),
        ("1.5Ti", Decimal(3 * 2**39)),
        ("007", Decimal(7)),
    ],
)
def test_it_parses_quantities_exactly(text, value):
    parsed = parse_quantity(text)

    assert parsed == value
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1n", Decimal("0.000000001")),
        ("1.5n", Decimal("0.000000002")),
        ("1.0000000001", Decimal("1.000000001")),
        ("-1.5n", Decimal("-0.000000002")),
        ("1e-30", Decimal("0.000000001")),
        ("0.000000001", Decimal("0.000000001")),
    ],
)
def test_it_rounds_below_a_nano_unit_up_as_kubernetes_does(text, value):
    assert parse_quantity(text) == value


def test_it_caps_binary_quantities_as_kubernetes_does():
    assert parse_quantity("9Ei") == Decimal(2**63 - 1)
    assert parse_quantity("7Ei") == Decimal(7 * 2**60)


@pytest.mark.parametrize(
    "text",
    [
        "1K",
        "abc",
        "1.2.3",
        "1mi",
        "Mi",
        "",
        " 1",
        "1 ",
        "1\n",
        "1e",
        "1e3.5",
        "--1",
        "+-1",
        ".",
        "+",
        "1 Mi",
        "1Mib",
        "1KI",
        "1ki",
        "e3",
        "1e3Mi",
        "0x10",
        "1_000",
        "\u0661",
        "1,5",
        "NaN",
        "Infinity",
    ],
)
def test_it_rejects_text_that_is_not_a_quantity(text):
    with pytest.raises(QuantityError) as error:
        parse_quantity(text)

    assert str(error.value).startswith(
        f"{text!r} is not a Kubernetes quantity; {GUIDE}"
    )


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [("1K", "1k"), ("1mi", "1Mi"), ("250M", None), ("0.5gi", "0.5Gi"), ("1e", None)],
)
def test_it_suggests_the_suffix_with_its_case_corrected(text, suggestion):
    try:
        parse_quantity(text)
    except QuantityError as error:
        message = str(error)
    else:
        message = ""

    if suggestion:
        assert message.endswith(
            f"(suffixes are case-sensitive). Did you mean {suggestion}?"
        )
    else:
        assert "Did you mean" not in message


@pytest.mark.parametrize("value", [1, 0.5, None, b"1", ["1"], {"cpu": "1"}, True])
def test_it_rejects_values_that_are_not_text(value):
    with pytest.raises(QuantityError) as error:
        parse_quantity(value)

    assert str(error.value) == (
        f'{value!r} is not a Kubernetes quantity: write it as text, such as "250m".'
    )


@pytest.mark.parametrize(
    "text",
    ["1" * 100, "1." + "1" * 100 + "Ki", "1e99999999999999999999", "1e" + "9" * 5000],
)
def test_it_refuses_quantities_it_cannot_hold_exactly(text):
    with pytest.raises(QuantityError, match="than can be held exactly"):
        parse_quantity(text)


def test_it_cuts_long_text_short_in_messages():
    with pytest.raises(QuantityError) as error:
        parse_quantity("x" * 10_000)

    assert len(str(error.value)) < 200
    assert str(error.value).startswith("'xxxxxxxx")


def test_it_rejects_negative_resource_amounts():
    assert parse_non_negative("0") == 0
    with pytest.raises(QuantityError) as error:
        parse_non_negative("-1")

    assert str(error.value) == "'-1' is negative; a resource amount cannot be."


def test_it_rejects_resource_amounts_beyond_what_kubernetes_holds():
    with pytest.raises(QuantityError) as error:
        memory_bytes("1e30")

    assert str(error.value) == "'1e30' is too large to be a resource amount."


@pytest.mark.parametrize(
    ("text", "millicores"),
    [
        ("250m", 250),
        ("1", 1000),
        ("0.5", 500),
        ("12345n", Decimal("0.012345")),
        ("2", 2000),
    ],
)
def test_it_converts_cpu_to_millicores(text, millicores):
    assert cpu_millicores(text) == millicores


@pytest.mark.parametrize(
    ("text", "mebibytes"),
    [
        ("1Gi", 1024),
        ("128Mi", 128),
        ("1G", Decimal("953.67431640625")),
        ("512Ki", Decimal("0.5")),
        ("1e6", Decimal("0.95367431640625")),
    ],
)
def test_it_converts_memory_to_mebibytes(text, mebibytes):
    assert memory_mebibytes(text) == mebibytes


@pytest.mark.parametrize(
    ("text", "count"),
    [("1Ki", 1024), ("1.5", 2), ("0.5Gi", 2**29), ("1k", 1000), ("1n", 1)],
)
def test_it_converts_memory_to_whole_bytes_rounding_up(text, count):
    assert memory_bytes(text) == count
    assert isinstance(memory_bytes(text), int)


def test_it_formats_canonical_amounts():
    assert format_cpu(1200) == "1200m"
    assert format_memory(966) == "966Mi"
    assert parse_quantity(format_cpu(1200)) == Decimal("1.2")
    assert parse_quantity(format_memory(966)) == 966 * 2**20
