"""The admin role: superusers and members of the `admin` group."""

from typing import Any

ADMIN_GROUP = "admin"


def is_admin(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=ADMIN_GROUP).exists()
