"""The life of a signed-in session: when it started, when it was last used.

Two timestamps (seconds since the epoch) are kept in the session itself:
when its user signed in, for the absolute limit, and when it was last seen,
for the idle limit. "Last seen" is written at most once every
SESSION_REFRESH_SECONDS; writing it is what makes Django save the session
and push its expiry back, so an active user costs one session write a
minute rather than one per request.
"""

import enum
import time

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

SIGNED_IN_AT = "modelhub_signed_in_at"
SEEN_AT = "modelhub_seen_at"

# A browser that was signed in carries this cookie (it holds no name and no
# secret). When it comes back without a signed-in session, its session
# expired or was ended elsewhere, and the visitor is told so.
SIGNED_IN_COOKIE = "modelhub_signed_in"

EXPIRED_MESSAGE = "Your session has expired. Please sign in again."


class SessionState(enum.Enum):
    CURRENT = "current"
    REFRESHED = "refreshed"
    EXPIRED = "expired"


def now() -> float:
    return time.time()


def session_start(session: SessionBase) -> None:
    """Stamp a session whose user just signed in.

    The expiry goes back to the signed-in idle age, in case the session was
    an anonymous visitor's, which lives longer.
    """
    moment = now()
    session[SIGNED_IN_AT] = moment
    session[SEEN_AT] = moment
    session.set_expiry(None)


def signed_in_session_check(session: SessionBase) -> SessionState:
    """Whether a signed-in session is still valid, refreshing it when due."""
    moment = now()
    signed_in_at = session.get(SIGNED_IN_AT)
    seen_at = session.get(SEEN_AT)
    if signed_in_at is None or seen_at is None:
        session_start(session)
        return SessionState.REFRESHED

    if moment - signed_in_at >= settings.SESSION_ABSOLUTE_SECONDS:
        return SessionState.EXPIRED
    if moment - seen_at >= settings.SESSION_IDLE_SECONDS:
        return SessionState.EXPIRED
    return _refresh_when_due(session, moment, seen_at)


def anonymous_session_touch(session: SessionBase) -> SessionState:
    """Keep an anonymous visitor's session (and identity) alive while used."""
    moment = now()
    seen_at = session.get(SEEN_AT)
    if seen_at is None:
        session[SEEN_AT] = moment
        return SessionState.REFRESHED
    return _refresh_when_due(session, moment, seen_at)


def _refresh_when_due(
    session: SessionBase, moment: float, seen_at: float
) -> SessionState:
    if moment - seen_at < settings.SESSION_REFRESH_SECONDS:
        return SessionState.CURRENT
    session[SEEN_AT] = moment
    return SessionState.REFRESHED
