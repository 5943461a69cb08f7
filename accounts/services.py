"""Writes to accounts: signup, passwords, deletion, tokens, anonymous identities.

Signup rules live here once, for the signup page and `POST /api/auth/signup/`
alike: a username of ACCOUNT_USERNAME_MIN_LENGTH to _MAX_LENGTH letters,
digits, '.', '_' or '-' (never '@', so that a login with an @ is always an
email address), unique whatever its case; a valid email address no account
uses yet, whatever its case; and a password that passes Django's validators
(length, common, numeric, similar to the username or email).
"""

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from allauth.account.utils import has_verified_email
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import AnonymousIdentity, ApiToken, User
from accounts.selectors import (
    email_in_use,
    primary_email_address,
    token_key_hash,
    user_for_login,
    username_taken,
)
from accounts.signals import anonymous_identity_claimed
from config.errors import DomainError

logger = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
EMAIL_MAX_LENGTH = 254
# Hashing a password costs time in proportion to its length; this bounds
# what one request can make the server do.
PASSWORD_MAX_LENGTH = 1024

SignupErrors = dict[str, list[str]]


class AccountError(DomainError):
    pass


class SignupRejected(AccountError):
    """Signup input that breaks the rules; `errors` maps fields to messages."""

    def __init__(self, errors: SignupErrors) -> None:
        super().__init__("The account could not be created; see the fields.")
        self.errors = errors


class InvalidCredentials(AccountError):
    def __init__(self) -> None:
        super().__init__(
            "Unable to sign in with that username (or email) and password."
        )


# --- Signup ---------------------------------------------------------------


def _username_problems(username: str) -> list[str]:
    if not username:
        return ["Choose a username."]
    shortest = settings.ACCOUNT_USERNAME_MIN_LENGTH
    longest = settings.ACCOUNT_USERNAME_MAX_LENGTH
    problems = []
    if not shortest <= len(username) <= longest:
        problems.append(f"A username has {shortest} to {longest} characters.")
    if not USERNAME_PATTERN.match(username):
        problems.append(
            "A username uses only letters, digits, '.', '_' and '-', and "
            "starts with a letter or a digit."
        )
    if not problems and username_taken(username):
        problems.append("That username is taken.")
    return problems


def _email_problems(email: str) -> list[str]:
    if not email:
        return ["Enter your email address."]
    if len(email) > EMAIL_MAX_LENGTH:
        return [f"An email address has at most {EMAIL_MAX_LENGTH} characters."]
    try:
        validate_email(email)
    except ValidationError:
        return ["Enter a valid email address."]
    if email_in_use(email):
        return ["An account with this email address already exists."]
    return []


def _password_problems(password: str, *, username: str, email: str) -> list[str]:
    if not password:
        return ["Choose a password."]
    if len(password) > PASSWORD_MAX_LENGTH:
        return [f"A password has at most {PASSWORD_MAX_LENGTH} characters."]
    try:
        # An unsaved user, so the similarity check sees the new name and email.
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as error:
        return list(error.messages)
    return []


def _normalised(username: Any, email: Any) -> tuple[str, str]:
    return str(username or "").strip(), str(email or "").strip().lower()


def signup_errors(*, username: str, email: str, password: str) -> SignupErrors:
    """Every rule the signup input breaks, by field; empty when it is fine."""
    username, email = _normalised(username, email)
    password = password or ""
    errors = {
        "username": _username_problems(username),
        "email": _email_problems(email),
        "password": _password_problems(password, username=username, email=email),
    }
    return {field: problems for field, problems in errors.items() if problems}


def user_signup(
    *,
    username: str,
    email: str,
    password: str,
    anonymous: AnonymousIdentity | None = None,
) -> User:
    """Create an account, moving `anonymous`'s requests into it.

    Nothing is written unless every rule holds. The email address is
    recorded unverified; sending the link is the caller's part, since only
    the caller knows the address the visitor used to reach the site.
    """
    errors = signup_errors(username=username, email=email, password=password)
    if errors:
        raise SignupRejected(errors)
    username, email = _normalised(username, email)

    with transaction.atomic():
        user = User(username=username, email=email)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            # Someone took the name or the address between the check and now.
            errors = signup_errors(username=username, email=email, password=password)
            raise SignupRejected(errors or {"username": ["That username is taken."]})
        EmailAddress.objects.create(user=user, email=email, primary=True)
        if anonymous is not None:
            anonymous_identity_claim(identity=anonymous, user=user)

    logger.info(
        "User signed up",
        extra={"user": user.pk, "claimed_identity": anonymous is not None},
    )
    return user


def anonymous_identity_claim(*, identity: AnonymousIdentity, user: User) -> bool:
    """Hand an anonymous identity, and everything it owns, to `user`.

    The conditional update makes a second claim of the same identity (two
    signups racing from one browser) do nothing. The identity's tokens stop
    working: they would now open an empty identity.
    """
    claimed = AnonymousIdentity.objects.filter(
        pk=identity.pk, claimed_by__isnull=True
    ).update(claimed_by=user)
    if not claimed:
        return False

    ApiToken.objects.filter(anonymous=identity).delete()
    identity.claimed_by = user
    anonymous_identity_claimed.send(
        sender=AnonymousIdentity, identity=identity, user=user
    )
    logger.info(
        "Anonymous identity claimed",
        extra={"identity": str(identity.pk), "user": user.pk},
    )
    return True


def signup_confirmation_send(*, request: HttpRequest, user: User) -> bool:
    """Mail the link that verifies `user`'s address, unless verification is off."""
    if settings.ACCOUNT_EMAIL_VERIFICATION == "none":
        return False
    address = primary_email_address(user=user)
    if address is None or address.verified:
        return False
    address.send_confirmation(request, signup=True)
    return True


# --- Signing in, passwords, deletion --------------------------------------


def user_for_credentials(
    *, request: HttpRequest | None, login: str, password: str
) -> User:
    """The active account that `login` (username or email) and `password` open.

    Failures all read the same, so the answer does not tell which accounts
    exist. An unknown login still goes through `authenticate`, which hashes
    the password anyway, so the answer takes as long either way.
    """
    login = (login or "").strip()
    found = user_for_login(login) if login else None
    username = found.get_username() if found is not None else login
    user = authenticate(request, username=username, password=password or "")
    if not isinstance(user, User):
        raise InvalidCredentials()
    if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory" and not has_verified_email(
        user
    ):
        raise AccountError(
            "Confirm your email address first: follow the link we sent you."
        )
    return user


def user_set_password(*, user: User, password: str) -> None:
    """Give `user` a new password and end every other way in.

    Django stores a hash of the password in each session, so every session
    made with the old password stops working on its next request; the
    caller keeps its own session with `update_session_auth_hash` (allauth
    does). API tokens do not carry that hash, so they are deleted here.
    """
    user.set_password(password)
    user.save(update_fields=["password"])
    revoked = api_tokens_revoke_all(user=user)
    logger.info("Password changed", extra={"user": user.pk, "tokens_revoked": revoked})


def user_delete(*, user: User) -> int:
    """Delete an account with its requests, their inputs and results, and tokens.

    Results it shared with the result cache stay in the cache, without its
    name (the cache is shared by everyone who uses the model). Returns how
    many rows went.
    """
    user_id = user.pk
    with transaction.atomic():
        deleted, _ = user.delete()
    logger.info("Account deleted", extra={"user": user_id, "rows": deleted})
    return deleted


# --- API tokens and anonymous identities ----------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its key; the key is never stored, only shown once."""

    key: str
    token: ApiToken


def api_token_issue(
    *, user: User | None = None, anonymous: AnonymousIdentity | None = None
) -> IssuedToken:
    if (user is None) == (anonymous is None):
        raise ValueError("A token belongs to a user or an anonymous identity.")
    lifetime = (
        settings.API_TOKEN_TTL_SECONDS
        if user is not None
        else settings.ANONYMOUS_TOKEN_TTL_SECONDS
    )
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        key_hash=token_key_hash(key),
        user=user,
        anonymous=anonymous,
        expires_at=timezone.now() + timedelta(seconds=lifetime),
    )
    return IssuedToken(key=key, token=token)


def anonymous_identity_create() -> IssuedToken:
    """A new anonymous identity for a script, with the token that opens it."""
    with transaction.atomic():
        identity = AnonymousIdentity.objects.create()
        issued = api_token_issue(anonymous=identity)
    logger.info("Anonymous identity created", extra={"identity": str(identity.pk)})
    return issued


def api_token_touch(*, token: ApiToken) -> None:
    """Record that a token was used, at most once every SESSION_REFRESH_SECONDS."""
    now = timezone.now()
    refresh = timedelta(seconds=settings.SESSION_REFRESH_SECONDS)
    if token.last_used_at is not None and now - token.last_used_at < refresh:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def api_token_revoke(*, token: ApiToken) -> None:
    token_id = token.pk
    token.delete()
    logger.info("API token revoked", extra={"token": token_id})


def api_tokens_revoke_all(*, user: User) -> int:
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


# --- Housekeeping ---------------------------------------------------------


@dataclass(frozen=True)
class ClearedExpired:
    tokens: int


def accounts_clear_expired() -> ClearedExpired:
    """Delete expired sessions (Django's `clearsessions`) and expired tokens."""
    store: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    store.clear_expired()
    tokens, _ = ApiToken.objects.filter(expires_at__lte=timezone.now()).delete()
    logger.info("Expired sessions and tokens cleared", extra={"tokens": tokens})
    return ClearedExpired(tokens=tokens)
