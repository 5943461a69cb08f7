from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's own app is called "Accounts" in the admin too.
    verbose_name = "Users and identities"
    default = True

    def ready(self) -> None:
        from accounts import checks, receivers  # noqa: F401


class ModelhubAdminConfig(admin_apps.AdminConfig):
    """Django's admin app with the admin-role site (accounts/sites.py)."""

    default = False
    default_site = "accounts.sites.ModelhubAdminSite"
