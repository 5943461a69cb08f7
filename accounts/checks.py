"""System checks: the throttle rates must parse before the first request."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from accounts.throttling import parse_rate


@register()
def check_throttle_rates(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for scope, rate in settings.THROTTLE_RATES.items():
        try:
            parse_rate(rate)
        except ValueError as error:
            errors.append(
                Error(f"THROTTLE_{scope.upper()}: {error}", id="accounts.E001")
            )
    return errors
