from typing import Any

from django.http import HttpRequest

from accounts.roles import is_admin


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the sidebar needs: whether the visitor holds the admin role."""
    return {"is_admin": is_admin(request.user)}
