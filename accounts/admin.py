from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.http import HttpRequest

from accounts.models import AnonymousIdentity, User


class UserCreationWithEmailForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
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
