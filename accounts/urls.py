from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    # Same path and name as allauth's signup, listed first so it wins.
    path("accounts/signup/", views.SignupView.as_view(), name="account_signup"),
    path("accounts/profile/", views.account_overview, name="account_overview"),
    path(
        "accounts/profile/tokens/revoke/",
        views.api_tokens_revoke,
        name="account_tokens_revoke",
    ),
    path("accounts/delete/", views.account_delete, name="account_delete"),
]
