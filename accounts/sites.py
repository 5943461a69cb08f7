"""The Django admin, opened by the admin role rather than by `is_staff`.

Signing in happens on the site's own login page (allauth), which is rate
limited and accepts email addresses; the admin's login page only sends
people there. Someone signed in without the role gets 403, not a second
login form.
"""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.roles import is_admin


class ModelhubAdminSite(admin.AdminSite):
    site_header = "modelhub administration"
    site_title = "modelhub admin"
    index_title = "Operations"

    def has_permission(self, request: HttpRequest) -> bool:
        return is_admin(request.user)

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}
        ):
            target = reverse("admin:index", current_app=self.name)

        if self.has_permission(request):
            return HttpResponseRedirect(target)
        if request.user.is_authenticated:
            raise PermissionDenied
        return redirect_to_login(target, settings.LOGIN_URL)
