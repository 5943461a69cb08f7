import uuid
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A registered person. Email and username are unique, whatever their case.

    Usernames keep the case they were typed in, but "Ada" and "ada" cannot
    both exist: people sign in with either spelling, and two accounts that
    only differ in case are an easy way to impersonate someone.
    """

    email = models.EmailField("email address")

    REQUIRED_FIELDS = ["email"]

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_unique_ci",
                violation_error_message=(
                    "A user with that email address already exists."
                ),
            ),
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_unique_ci",
                violation_error_message="A user with that username already exists.",
            ),
        ]


class AnonymousIdentity(models.Model):
    """Someone using the platform without an account.

    A browser gets one on its first submission, bound to its Django session; a
    script gets one from the API with a token. Work requests owned by an
    identity are visible to that identity only. When its holder signs up, the
    requests move to the new account and `claimed_by` records where they went.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    claimed_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="claimed_identities",
    )

    class Meta:
        verbose_name = "anonymous identity"
        verbose_name_plural = "anonymous identities"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"anonymous {self.id}"


class ApiToken(models.Model):
    """A secret that lets a script call the API as a user or an anonymous identity.

    Only the SHA-256 of the key is stored: the key itself is shown once, when
    the token is made, so a copy of the database cannot be used to call the
    API. Keys are 256 random bits, which makes a plain hash (rather than a
    slow password hash) enough. Every token expires.
    """

    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    anonymous = models.ForeignKey(
        AnonymousIdentity,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, anonymous__isnull=True)
                    | models.Q(user__isnull=True, anonymous__isnull=False)
                ),
                name="apitoken_exactly_one_owner",
                violation_error_message="A token belongs to exactly one owner.",
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="apitoken_expires")]

    def __str__(self) -> str:
        owner = self.user if self.user_id else self.anonymous
        return f"API token of {owner}"

    def is_expired(self, *, now: datetime) -> bool:
        """True from `expires_at` on: a token is valid strictly before it."""
        return now >= self.expires_at
