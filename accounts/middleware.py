"""Sliding, bounded sessions that end cleanly.

Runs after Django's authentication and messages middleware. For a
signed-in session it applies the idle and absolute limits of
accounts/sessions.py; for an anonymous visitor's session it only keeps the
session alive while used. When a browser that was signed in arrives without
a valid signed-in session (it expired, or a password change elsewhere ended
it), the visitor is signed out, a page request is sent to the login page
with "Your session has expired", and an API request gets a 401: nothing
from the old session (its user's name included) reaches the response.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import resolve_url

from accounts.identity import SESSION_KEY as ANONYMOUS_SESSION_KEY
from accounts.sessions import (
    EXPIRED_MESSAGE,
    SIGNED_IN_COOKIE,
    SessionState,
    anonymous_session_touch,
    signed_in_session_check,
)

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class SessionActivityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self._check_session(request)
        if response is None:
            response = self.get_response(request)
        self._mark_signed_in(request, response)
        return response

    def _check_session(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        if user.is_authenticated:
            if signed_in_session_check(request.session) is not SessionState.EXPIRED:
                return None
            logger.info("Session expired", extra={"user": user.pk})
            logout(request)
            return self._expired(request)

        if request.COOKIES.get(SIGNED_IN_COOKIE):
            return self._expired(request)
        if ANONYMOUS_SESSION_KEY in request.session:
            anonymous_session_touch(request.session)
        return None

    def _expired(self, request: HttpRequest) -> HttpResponse | None:
        if request.path.startswith(API_PREFIX):
            if "HTTP_AUTHORIZATION" in request.META:
                # A script's own credentials decide, not the browser's past.
                return None
            return JsonResponse(
                {"detail": EXPIRED_MESSAGE},
                status=401,
                headers={"WWW-Authenticate": "Token"},
            )
        # Messages still waiting from the old session ("Signed in as ...")
        # are dropped: nothing of it may show.
        for _ in messages.get_messages(request):
            pass
        messages.warning(request, EXPIRED_MESSAGE)
        if request.path == resolve_url(settings.LOGIN_URL):
            return None
        return redirect_to_login(request.get_full_path())

    def _mark_signed_in(self, request: HttpRequest, response: HttpResponse) -> None:
        # The session says whether the request ended signed in (after a
        # login or a logout in the view); `request.user` would also count a
        # token sent to the API, which is not the browser's session.
        signed_in = USER_SESSION_KEY in request.session
        marked = bool(request.COOKIES.get(SIGNED_IN_COOKIE))
        if signed_in and not marked:
            response.set_cookie(
                SIGNED_IN_COOKIE,
                "1",
                max_age=settings.SESSION_ABSOLUTE_SECONDS
                + settings.SESSION_IDLE_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        elif marked and not signed_in:
            response.delete_cookie(SIGNED_IN_COOKIE, samesite="Lax")
