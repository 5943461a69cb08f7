"""Kubernetes resource quantities, parsed and formatted exactly.

The grammar is the one Kubernetes itself accepts (apimachinery's
`resource.Quantity`)::

    quantity        ::= signedNumber suffix
    signedNumber    ::= [ "+" | "-" ] number
    number          ::= digits | digits "." digits | digits "." | "." digits
    suffix          ::= binarySI | decimalExponent | decimalSI
    binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei
    decimalSI       ::= m | "" | k | M | G | T | P | E
    decimalExponent ::= ( "e" | "E" ) [ "+" | "-" ] digits

Values are `Decimal`s in the base unit (cores for CPU, bytes for memory), so
`250m` is exactly 0.25 and `0.5Gi` exactly 536870912: no float ever rounds a
quantity. The suffixes are case-sensitive: `1K` and `1mi` are not quantities.
"""

import re
from decimal import ROUND_CEILING, Decimal, localcontext

_PATTERN = re.compile(
    r"""
    (?P<number>[+-]?(?:\d+\.?\d*|\.\d+))
    (?:
        (?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)
      | [eE](?P<exponent>[+-]?\d+)
      | (?P<decimal>[mkMGTPE]?)
    )
    """,
    re.VERBOSE,
)

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_PRECISION = 80

MEBIBYTE = Decimal(2**20)
MILLI = Decimal(1000)


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity, or not one allowed here."""


def parse_quantity(text: str) -> Decimal:
    """Return the exact value of a quantity, in its base unit."""
    if not isinstance(text, str):
        raise QuantityError(f"{text!r} is not a Kubernetes quantity: it must be text.")
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise QuantityError(
            f"{text!r} is not a Kubernetes quantity; use forms such as 250m, 0.5, "
            "128Mi, 1G or 1e3 (suffixes are case-sensitive)."
        )

    with localcontext() as context:
        context.prec = _PRECISION
        number = Decimal(match["number"])
        if match["binary"]:
            return number * Decimal(1024) ** _BINARY[match["binary"]]
        if match["exponent"] is not None:
            return number.scaleb(int(match["exponent"]))
        return number.scaleb(_DECIMAL[match["decimal"]])


def parse_non_negative(text: str) -> Decimal:
    value = parse_quantity(text)
    if value < 0:
        raise QuantityError(f"{text!r} is negative; a resource amount cannot be.")
    return value


def cpu_millicores(text: str) -> Decimal:
    """A CPU quantity in millicores: `250m` is 250, `1` is 1000."""
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
