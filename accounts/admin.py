from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import AnonymousIdentity, ApiToken, User
from accounts.services import api_token_revoke


class UserCreationWithEmailForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "email")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationWithEmailForm
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "password1", "password2"),
            },
        ),
    )
    list_display = ("username", "email", "is_staff", "is_superuser", "date_joined")


@admin.register(AnonymousIdentity)
class AnonymousIdentityAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "last_seen_at", "claimed_by")
    list_select_related = ("claimed_by",)
    search_fields = ("id",)
    readonly_fields = ("id", "created_at", "last_seen_at", "claimed_by")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by their owners; here they can only be seen and revoked."""

    list_display = (
        "id",
        "user",
        "anonymous",
        "created_at",
        "expires_at",
        "last_used_at",
    )
    list_select_related = ("user", "anonymous")
    list_filter = (("user", admin.EmptyFieldListFilter),)
    search_fields = ("user__username", "user__email")
    readonly_fields = ("user", "anonymous", "created_at", "expires_at", "last_used_at")
    exclude = ("key_hash",)
    show_full_result_count = False
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = list(queryset)
        for token in tokens:
            api_token_revoke(token=token)
        self.message_user(request, f"{len(tokens)} token(s) revoked.", messages.SUCCESS)
