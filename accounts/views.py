"""Pages: the home page, signup, the account page and account deletion.

Signing in and out, email verification and password reset and change are
allauth's own pages (templates under templates/account/); signup is
allauth's page too, with modelhub's form and service behind it.
"""

from allauth.account import app_settings as allauth_settings
from allauth.account import views as allauth_views
from allauth.account.utils import complete_signup
from allauth.core.exceptions import ImmediateHttpResponse
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import DeleteAccountForm, SignupForm
from accounts.identity import anonymous_identity_of
from accounts.models import User
from accounts.selectors import api_tokens_active_count, primary_email_address
from accounts.services import (
    SignupRejected,
    api_tokens_revoke_all,
    user_delete,
    user_signup,
)
from accounts.throttling import parse_rate

# Which of allauth's limits guards each of its pages, to tell a refused
# visitor how long to wait.
_PAGE_LIMITS = {
    "account_login": ("login", "login_failed"),
    "account_signup": ("signup",),
    "account_reset_password": ("reset_password",),
    "account_reset_password_from_key": ("reset_password_from_key",),
    "account_change_password": ("change_password",),
    "account_email": ("manage_email",),
    "account_reauthenticate": ("reauthenticate",),
}
_ALL_PAGE_LIMITS = tuple(
    sorted({name for names in _PAGE_LIMITS.values() for name in names})
)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/home.html")


class SignupView(allauth_views.SignupView):
    """allauth's signup page, creating the account through `user_signup`."""

    form_class = SignupForm

    def form_valid(self, form: SignupForm) -> HttpResponse:
        try:
            self.user = user_signup(
                **form.credentials(), anonymous=anonymous_identity_of(self.request)
            )
        except SignupRejected as rejected:
            form.add_signup_errors(rejected.errors)
            return self.form_invalid(form)

        try:
            return complete_signup(
                self.request,
                self.user,
                allauth_settings.EMAIL_VERIFICATION,
                self.get_success_url(),
            )
        except ImmediateHttpResponse as immediate:
            return immediate.response


@login_required
def account_overview(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    context = {
        "email_address": primary_email_address(user=user),
        "active_tokens": api_tokens_active_count(user=user),
    }
    return render(request, "accounts/overview.html", context)


@login_required
@require_POST
def api_tokens_revoke(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    revoked = api_tokens_revoke_all(user=user)
    messages.success(request, f"{revoked} API token(s) revoked.")
    return redirect("account_overview")


@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    data = request.POST if request.method == "POST" else None
    form = DeleteAccountForm(data, user=user)
    if form.is_valid():
        logout(request)
        user_delete(user=user)
        messages.success(
            request, "Your account, its requests and their results were deleted."
        )
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})


def too_many_requests(request: HttpRequest) -> HttpResponse:
    """allauth's answer when a page's limit is reached, with `Retry-After`.

    allauth does not say which window was full, so the wait is the longest
    window of the page's limits: by then every one of them has room again.
    """
    url_name = request.resolver_match.url_name if request.resolver_match else None
    actions = _PAGE_LIMITS.get(url_name or "", _ALL_PAGE_LIMITS)
    wait = _longest_window(actions)
    response = render(
        request, "accounts/too_many_requests.html", {"wait": wait}, status=429
    )
    response["Retry-After"] = str(wait)
    return response


def _longest_window(actions: tuple[str, ...]) -> int:
    windows = [60]
    for action in actions:
        for rate in (allauth_settings.RATE_LIMITS.get(action) or "").split(","):
            count_and_period = "/".join(rate.strip().split("/")[:2])
            if count_and_period:
                windows.append(parse_rate(count_and_period)[1])
    return max(windows)
