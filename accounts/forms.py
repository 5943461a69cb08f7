"""Forms of the account pages. Their rules are the services' rules."""

from typing import Any

from allauth.account import forms as allauth_forms
from django import forms
from django.core.validators import MaxLengthValidator

from accounts.models import User
from accounts.services import SignupErrors, signup_errors

# The longest username or email address anyone can sign in with.
LOGIN_MAX_LENGTH = 254

# The service names the password "password"; the page asks for it twice.
_FORM_FIELD = {"username": "username", "email": "email", "password": "password1"}


def _required(widget: forms.Widget) -> forms.Widget:
    # The fields are optional to Django so that every message, "required"
    # included, comes from the service the API uses too; the browser still
    # asks for them.
    widget.attrs["required"] = True
    return widget


class SignupForm(forms.Form):
    username = forms.CharField(
        required=False,
        widget=_required(forms.TextInput(attrs={"autocomplete": "username"})),
    )
    email = forms.CharField(
        required=False,
        widget=_required(forms.EmailInput(attrs={"autocomplete": "email"})),
    )
    password1 = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=_required(forms.PasswordInput(attrs={"autocomplete": "new-password"})),
    )
    password2 = forms.CharField(
        label="Password (again)",
        required=False,
        strip=False,
        widget=_required(forms.PasswordInput(attrs={"autocomplete": "new-password"})),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        errors = signup_errors(
            username=data.get("username", ""),
            email=data.get("email", ""),
            password=data.get("password1", ""),
        )
        self.add_signup_errors(errors)
        if "password" not in errors and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords are not the same.")
        return data

    def add_signup_errors(self, errors: SignupErrors) -> None:
        for field, messages in errors.items():
            for message in messages:
                self.add_error(_FORM_FIELD[field], message)

    def credentials(self) -> dict[str, str]:
        return {
            "username": self.cleaned_data["username"],
            "email": self.cleaned_data["email"],
            "password": self.cleaned_data["password1"],
        }


class LoginForm(allauth_forms.LoginForm):
    """allauth's sign-in form, saying what its first field accepts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Username or email"
        # No username or email is longer; a longer one is refused before it
        # reaches a database lookup.
        self.fields["login"].max_length = LOGIN_MAX_LENGTH
        self.fields["login"].validators.append(MaxLengthValidator(LOGIN_MAX_LENGTH))


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Type your password to confirm."},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password
