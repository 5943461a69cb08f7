"""Abuse limits for the API: sliding windows counted in the shared cache.

Rates come from `settings.THROTTLE_RATES`, read on every request, in the
form "<count>/<period>" where the period is s, m, h or d with an optional
multiple ("5/5m": five per five minutes). The same strings drive allauth's
limits on the pages (ACCOUNT_RATE_LIMITS), so a page and its API twin share
one limit setting. A refusal is a 429 with `Retry-After`.
"""

import hashlib
import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from accounts.identity import owner_for_request

_PERIOD = re.compile(r"(\d+(?:\.\d+)?)?([smhd])\Z")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`"5/5m"` → `(5, 300)`: how many requests in how many seconds."""
    count, _, period = rate.partition("/")
    match = _PERIOD.match(period.strip())
    if not count.strip().isdigit() or match is None:
        raise ValueError(f"{rate!r} is not a rate such as '20/m', '5/5m' or '100/h'.")
    multiple = float(match.group(1) or 1)
    return int(count), max(1, round(multiple * _SECONDS[match.group(2)]))


class RateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str:
        assert self.scope is not None
        return settings.THROTTLE_RATES[self.scope]

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        if rate is None:
            return None, None
        return parse_rate(rate)


class ClientAddressThrottle(RateThrottle):
    """Counts per client address (see TRUSTED_PROXY_COUNT)."""

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {
            "scope": self.scope,
            "ident": self.get_ident(request),
        }


class LoginThrottle(ClientAddressThrottle):
    scope = "login"


class LoginAccountThrottle(RateThrottle):
    """Counts per account named, so many addresses cannot guess one password."""

    scope = "login_account"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        login = request.data.get("username") if hasattr(request, "data") else None
        if not isinstance(login, str) or not login.strip():
            return None
        digest = hashlib.sha256(login.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class SignupThrottle(ClientAddressThrottle):
    scope = "signup"


class AnonymousIdentityThrottle(ClientAddressThrottle):
    """New anonymous identities per address, however they are made."""

    scope = "anonymous"


class SubmissionThrottle(RateThrottle):
    """Submissions per owner: a user, or an anonymous identity."""

    scope = "submission"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        owner = owner_for_request(request, create=False)
        if owner is None:
            return None
        if owner.user is not None:
            ident = f"user-{owner.user.pk}"
        else:
            assert owner.anonymous is not None
            ident = f"anonymous-{owner.anonymous.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class FirstSubmissionThrottle(AnonymousIdentityThrottle):
    """A submission without an owner makes an anonymous identity: per address.

    It shares its count with `POST /api/auth/anonymous/`, so a client that
    throws its cookies away after each submission is held to the same limit
    as one that asks for identities outright.
    """

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if owner_for_request(request, create=False) is not None:
            return None
        return super().get_cache_key(request, view)


SUBMISSION_THROTTLES = (SubmissionThrottle, FirstSubmissionThrottle)


def submission_wait(request: HttpRequest) -> float | None:
    """For pages that submit: seconds to wait, or None when allowed.

    The same limits as `POST /api/work-requests/`, counted together with it.
    """
    waits = []
    for throttle_class in SUBMISSION_THROTTLES:
        throttle = throttle_class()
        # The throttles only read the address and the owner, which a plain
        # HttpRequest has as well; no view is involved.
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]
            waits.append(throttle.wait() or 1)
    return max(waits) if waits else None
