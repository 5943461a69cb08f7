"""allauth's hooks, pointed at modelhub's services."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter

from accounts.models import User
from accounts.services import user_set_password


class AccountAdapter(DefaultAccountAdapter):
    def set_password(self, user: Any, password: str) -> None:
        # Password change and reset both land here; the service also ends
        # the API tokens made with the old password.
        assert isinstance(user, User)
        user_set_password(user=user, password=password)
