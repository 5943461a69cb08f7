"""Kubernetes resource quantities, parsed and formatted exactly.

The grammar is the one Kubernetes itself accepts (apimachinery's
`resource.Quantity`)::

    quantity        ::= signedNumber suffix
    signedNumber    ::= [ "+" | "-" ] number
    number          ::= digits | digits "." digits | digits "." | "." digits
    suffix          ::= binarySI | decimalExponent | decimalSI
    binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei
    decimalSI       ::= n | u | m | "" | k | M | G | T | P | E
    decimalExponent ::= ( "e" | "E" ) [ "+" | "-" ] digits
    digits          ::= one or more of the ASCII digits 0-9

The decimal suffixes are nano (10^-9), micro (10^-6), milli, none, kilo,
mega, giga, tera, peta and exa: metrics.k8s.io reports CPU in nanocores such
as `12345n`. Values are `Decimal`s in the base unit (cores for CPU, bytes for
memory), so `250m` is exactly 0.25 and `0.5Gi` exactly 536870912: no float
ever rounds a quantity. Like Kubernetes, a value with digits below one nano
unit is rounded up, away from zero, to the next nano unit (`0.1n` is `1n`),
and a binary-suffixed value above 2^63 - 1 is capped there. Suffixes are
case-sensitive: `1K` and `1mi` are not quantities.
"""

import re
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_CEILING,
    ROUND_UP,
    Decimal,
    DecimalException,
    Inexact,
    localcontext,
)

_PATTERN = re.compile(
    r"""
    (?P<number>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))
    (?:
        (?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)
      | [eE](?P<exponent>[+-]?[0-9]+)
      | (?P<decimal>[numkMGTPE]?)
    )
    """,
    re.VERBOSE,
)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
# Enough digits for any quantity a person writes; one that needs more is
# refused rather than rounded.
_PRECISION = 80
_NANO = Decimal("1e-9")
_MAX_BINARY = Decimal(2**63 - 1)
# Kubernetes holds a resource amount in a signed 64-bit integer; anything
# larger cannot be an allocation (and would be costly to turn into bytes).
MAX_RESOURCE = Decimal(2**63 - 1)

MEBIBYTE = Decimal(2**20)
MILLI = Decimal(1000)


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity, or not one allowed here."""


def parse_quantity(text: str) -> Decimal:
    """Return the exact value of a quantity, in its base unit."""
    if not isinstance(text, str):
        raise QuantityError(
            f"{_shown(text)} is not a Kubernetes quantity: write it as text, "
            'such as "250m".'
        )
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise QuantityError(_not_a_quantity(text))

    try:
        return _value(match)
    except (DecimalException, ValueError):
        raise QuantityError(
            f"{_shown(text)} has more digits, or a larger exponent, than can be held "
            "exactly; use a shorter form."
        )


def _shown(text: object) -> str:
    """`text` quoted for a message, cut short: it may be any length."""
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:39] + "…"


def _value(match: re.Match[str]) -> Decimal:
    with localcontext() as context:
        context.prec = _PRECISION
        context.Emax = MAX_EMAX
        context.Emin = MIN_EMIN
        context.traps[Inexact] = True

        number = Decimal(match["number"])
        if match["binary"]:
            value = number * Decimal(2) ** _BINARY[match["binary"]]
        elif match["exponent"] is not None:
            value = number.scaleb(int(match["exponent"]))
        else:
            value = number.scaleb(_DECIMAL[match["decimal"]])

        context.traps[Inexact] = False
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -9:
            value = value.quantize(_NANO, rounding=ROUND_UP)
        if match["binary"] and value > _MAX_BINARY:
            value = _MAX_BINARY
        return value


def _not_a_quantity(text: str) -> str:
    message = (
        f"{_shown(text)} is not a Kubernetes quantity; use forms such as 250m, 0.5, "
        "128Mi, 1G or 1e3 (suffixes are case-sensitive)."
    )
    suggestion = _case_corrected(text)
    if suggestion:
        message += f" Did you mean {suggestion}?"
    return message


def _case_corrected(text: str) -> str | None:
    """`1k` for `1K`: the suffix with the case of its first letter changed."""
    number = _NUMBER.match(text)
    suffix = text[number.end() :] if number else ""
    if not number or not suffix:
        return None
    flipped = suffix[0].swapcase() + suffix[1:]
    # A lone "e" is an exponent missing its digits, not a misspelt exa.
    if suffix != "e" and (flipped in _BINARY or flipped in _DECIMAL):
        return number.group() + flipped
    return None


def parse_non_negative(text: str) -> Decimal:
    """A quantity that can be a resource amount: not negative, not absurd."""
    value = parse_quantity(text)
    if value < 0:
        raise QuantityError(f"{_shown(text)} is negative; a resource amount cannot be.")
    if value > MAX_RESOURCE:
        raise QuantityError(f"{_shown(text)} is too large to be a resource amount.")
    return value


def cpu_millicores(text: str) -> Decimal:
    """A CPU quantity in millicores: `250m` is 250, `1` is 1000."""
    with localcontext() as context:
        context.prec = _PRECISION
        return parse_non_negative(text) * MILLI


def memory_mebibytes(text: str) -> Decimal:
    """A memory quantity in MiB: `1Gi` is 1024, `1G` is 953.67431640625."""
    with localcontext() as context:
        context.prec = _PRECISION
        return parse_non_negative(text) / MEBIBYTE


def memory_bytes(text: str) -> int:
    """A memory quantity in whole bytes, rounded up as Kubernetes does."""
    return int(parse_non_negative(text).to_integral_value(rounding=ROUND_CEILING))


def format_cpu(millicores: int) -> str:
    """The canonical text for a CPU amount: `1200m`."""
    return f"{int(millicores)}m"


def format_memory(mebibytes: int) -> str:
    """The canonical text for a memory amount: `966Mi`."""
    return f"{int(mebibytes)}Mi"
