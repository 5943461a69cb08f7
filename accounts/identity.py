"""Who is asking: a registered user or an anonymous identity.

Every work request is owned by exactly one `Owner`. Registered users are
Django users; everyone else is an `AnonymousIdentity`, found through the
browser's session (created on the first submission) or set on the request by
token authentication for scripts.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.models import AnonymousIdentity, User

SESSION_KEY = "modelhub_anonymous_identity"


@dataclass(frozen=True)
class Owner:
    user: User | None = None
    anonymous: AnonymousIdentity | None = None

    def __post_init__(self) -> None:
        if (self.user is None) == (self.anonymous is None):
            raise ValueError("An owner is either a user or an anonymous identity.")

    @property
    def is_registered(self) -> bool:
        return self.user is not None

    def as_filter(self) -> dict[str, Any]:
        """Keyword arguments that select rows owned by this owner."""
        if self.user is not None:
            return {"user": self.user}
        return {"anonymous": self.anonymous}

    def __str__(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return str(self.anonymous)


def owner_for_request(request: HttpRequest | Any, *, create: bool) -> Owner | None:
    """The owner behind `request`; with `create`, a new anonymous one if none.

    A new anonymous identity is bound to the session, so the same browser
    keeps seeing its requests. Identities whose holder has since signed up
    are not used again.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Owner(user=user)

    anonymous = getattr(request, "anonymous_identity", None)
    if anonymous is not None:
        return Owner(anonymous=anonymous)

    session = request.session
    identity_id = session.get(SESSION_KEY)
    if identity_id:
        identity = AnonymousIdentity.objects.filter(
            pk=identity_id, claimed_by__isnull=True
        ).first()
        if identity is not None:
            return Owner(anonymous=identity)

    if not create:
        return None
    identity = AnonymousIdentity.objects.create()
    session[SESSION_KEY] = str(identity.pk)
    # The browser keeps its identity as long as its requests are kept, not
    # just for a signed-in session's idle age.
    session.set_expiry(settings.ANONYMOUS_SESSION_SECONDS)
    return Owner(anonymous=identity)


def anonymous_identity_of(request: HttpRequest | Any) -> AnonymousIdentity | None:
    """The anonymous identity `request` acts as, if it is not signed in."""
    owner = owner_for_request(request, create=False)
    if owner is None or owner.is_registered:
        return None
    return owner.anonymous
