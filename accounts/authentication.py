"""How the API knows who is calling: a token, or the browser's session.

`Authorization: Token <key>` opens a user's account or an anonymous
identity. A token that is unknown, expired or malformed is a 401, never a
silent fall back to anonymous: a script should learn at once that its key
stopped working. No credentials at all means an anonymous visitor.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.identity import SESSION_KEY as ANONYMOUS_SESSION_KEY
from accounts.models import ApiToken
from accounts.selectors import api_token_for_key
from accounts.services import api_token_touch

REFUSED_MESSAGE = "Invalid or expired token."


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts:
            return None
        if parts[0].lower() != self.keyword.lower().encode():
            # Credentials of a kind we do not take (Bearer, Basic, ...) are
            # refused rather than ignored: read as "no credentials", they
            # would turn the script into a new anonymous visitor.
            raise AuthenticationFailed(
                "Send the token as 'Authorization: Token <key>'."
            )
        if len(parts) != 2:
            raise AuthenticationFailed(
                "Send the token as 'Authorization: Token <key>'."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(REFUSED_MESSAGE)

        token = api_token_for_key(key)
        if token is None or token.is_expired(now=timezone.now()):
            raise AuthenticationFailed(REFUSED_MESSAGE)
        principal = self._principal(request, token)
        api_token_touch(token=token)
        return principal, token

    def _principal(self, request: Request, token: ApiToken) -> Any:
        if token.user is not None:
            if not token.user.is_active:
                raise AuthenticationFailed("This account is disabled.")
            return token.user

        identity = token.anonymous
        if identity is None or identity.claimed_by_id is not None:
            raise AuthenticationFailed(REFUSED_MESSAGE)
        # `accounts.identity.owner_for_request` finds the identity here.
        setattr(request._request, "anonymous_identity", identity)  # noqa: B010
        return AnonymousUser()

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, with CSRF checked for anonymous browsers too.

    DRF only checks CSRF for signed-in sessions. A browser's anonymous
    identity is worth protecting as well: without the check, another site
    could make the browser sign up into an account of that site's choosing
    and so hand over the visitor's requests.
    """

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None and ANONYMOUS_SESSION_KEY in request._request.session:
            self.enforce_csrf(request)
        return result


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, from POST /api/auth/token/ or "
            "POST /api/auth/anonymous/.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
