"""The admin role: superusers and members of the `admin` group.

The role opens the admin pages and APIs, instance actions, model management
and recommendations. Pages send visitors without it to the login page (or
answer 403 when they are signed in); the API answers 401 without credentials
and 403 with credentials that lack the role.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

ADMIN_GROUP = "admin"


_CACHE_ATTRIBUTE = "_modelhub_is_admin"


def is_admin(user: Any) -> bool:
    """Whether `user` holds the admin role, asked once per user object.

    The answer is kept on the object because one page asks many times (the
    sidebar, every model of the Django admin); a user object lives for one
    request, so a role granted or taken away applies from the next request.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = user.groups.filter(name=ADMIN_GROUP).exists()
        setattr(user, _CACHE_ATTRIBUTE, cached)
    return bool(cached)


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Page decorator: signed-out visitors log in; others without the role get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class IsAdminRole(BasePermission):
    message = "This needs the admin role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_admin(request.user)
