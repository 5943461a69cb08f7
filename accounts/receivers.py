"""Receivers for Django's and allauth's signals, connected in `ready()`."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.sessions import session_start


@receiver(user_logged_in, dispatch_uid="accounts.session_start")
def stamp_session_on_login(
    sender: Any, request: HttpRequest | None, **kwargs: Any
) -> None:
    # Every way of signing in (page, admin, tests' force_login) goes through
    # Django's login(), so the absolute limit counts from the real moment.
    if request is not None and hasattr(request, "session"):
        session_start(request.session)
