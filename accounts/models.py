import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A registered person. Email is required and unique, whatever its case."""

    email = models.EmailField("email address")

    REQUIRED_FIELDS = ["email"]

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_unique_ci",
                violation_error_message=(
                    "A user with that email address already exists."
                ),
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
