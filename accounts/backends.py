"""An authentication backend that only answers permission questions.

Django's admin asks `user.has_perm(...)` for every model it shows. The admin
role (accounts/roles.py) is meant to open all of it, so instead of keeping a
copy of every permission on the `admin` group, in step with every new model,
this backend grants them all to whoever holds the role. It never signs
anyone in.
"""

from typing import Any

from django.contrib.auth.backends import BaseBackend

from accounts.roles import is_admin


class AdminRoleBackend(BaseBackend):
    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return is_admin(user_obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return is_admin(user_obj)
