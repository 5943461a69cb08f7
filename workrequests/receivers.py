"""Receivers of the signals of the apps below this one."""

from typing import Any

from django.dispatch import receiver

from accounts.models import AnonymousIdentity, User
from accounts.signals import anonymous_identity_claimed
from workrequests.services import work_requests_move_to_user


# accounts may not import work requests, so it announces a claimed identity
# and this app moves its own rows, inside the signup's transaction.
@receiver(anonymous_identity_claimed, dispatch_uid="workrequests.move_claimed")
def move_claimed_requests(
    sender: Any, identity: AnonymousIdentity, user: User, **kwargs: Any
) -> None:
    work_requests_move_to_user(identity=identity, user=user)
