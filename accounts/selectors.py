"""Reads of accounts: who has a name or an address, which token a key opens."""

import hashlib

from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts.models import ApiToken, User


def token_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def email_in_use(email: str) -> bool:
    """Whether any account has this address, as its own or as one it added."""
    if User.objects.filter(email__iexact=email).exists():
        return True
    return EmailAddress.objects.filter(email__iexact=email).exists()


def user_for_login(login: str) -> User | None:
    """The account a login names: an email address if it has an @, else a username.

    Usernames cannot contain @ (see accounts/services.py), so the two never
    clash.
    """
    if "@" in login:
        return User.objects.filter(email__iexact=login).first()
    return User.objects.filter(username__iexact=login).first()


def api_token_for_key(key: str) -> ApiToken | None:
    # The owner is read with the token: authentication needs it at once.
    return (
        ApiToken.objects.select_related("user", "anonymous")
        .filter(key_hash=token_key_hash(key))
        .first()
    )


def primary_email_address(*, user: User) -> EmailAddress | None:
    return EmailAddress.objects.filter(user=user, primary=True).first()


def api_tokens_active_count(*, user: User) -> int:
    return ApiToken.objects.filter(user=user, expires_at__gt=timezone.now()).count()
