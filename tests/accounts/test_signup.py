"""Signup: the same rules, the same messages, on the page and the API."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import IntegrityError
from django.test import override_settings

from accounts import services
from accounts.models import AnonymousIdentity, User
from accounts.services import SignupRejected, user_signup
from tests.factories import UserFactory

PAGE = "/accounts/signup/"
API = "/api/auth/signup/"
GOOD_PASSWORD = "violet-Harbour-1987"

# (what is wrong, the input, the field, the message)
REJECTIONS = [
    ("missing email", {"email": ""}, "email", "Enter your email address."),
    (
        "bad email",
        {"email": "ada.example.org"},
        "email",
        "Enter a valid email address.",
    ),
    (
        "duplicate email in another case",
        {"email": "Taken@Example.ORG"},
        "email",
        "An account with this email address already exists.",
    ),
    ("missing username", {"username": ""}, "username", "Choose a username."),
    (
        "username with a space",
        {"username": "ada lovelace"},
        "username",
        "A username uses only letters, digits, '.', '_' and '-', and starts with "
        "a letter or a digit.",
    ),
    (
        "username with an @",
        {"username": "ada@home"},
        "username",
        "A username uses only letters, digits, '.', '_' and '-', and starts with "
        "a letter or a digit.",
    ),
    (
        "short username",
        {"username": "ad"},
        "username",
        "A username has 3 to 30 characters.",
    ),
    (
        "long username",
        {"username": "a" * 31},
        "username",
        "A username has 3 to 30 characters.",
    ),
    (
        "taken username in another case",
        {"username": "TAKEN"},
        "username",
        "That username is taken.",
    ),
    ("missing password", {"password": ""}, "password", "Choose a password."),
    (
        "short password",
        {"password": "Vx7-q"},
        "password",
        "This password is too short. It must contain at least 8 characters.",
    ),
    (
        "common password",
        {"password": "password123"},
        "password",
        "This password is too common.",
    ),
    (
        "numeric password",
        {"password": "4829301746"},
        "password",
        "This password is entirely numeric.",
    ),
    (
        "password like the username",
        {"username": "margaret", "password": "margaret1"},
        "password",
        "The password is too similar to the username.",
    ),
    (
        "overlong password",
        {"password": "x" * 1025},
        "password",
        "A password has at most 1024 characters.",
    ),
]
_PAGE_FIELD = {"username": "username", "email": "email", "password": "password1"}


@pytest.fixture
def taken(db):
    return UserFactory(username="taken", email="taken@example.org")


def _input(**changes):
    data = {"username": "ada", "email": "ada@example.org", "password": GOOD_PASSWORD}
    data.update(changes)
    return data


def _page_input(data):
    return {
        "username": data["username"],
        "email": data["email"],
        "password1": data["password"],
        "password2": data["password"],
    }


def _counts():
    return (
        User.objects.count(),
        EmailAddress.objects.count(),
        AnonymousIdentity.objects.filter(claimed_by__isnull=False).count(),
    )


@pytest.mark.parametrize(
    ("case", "change", "field", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_it_rejects_bad_signups_on_the_api_with_the_message(
    api_client, taken, case, change, field, message
):
    before = _counts()

    response = api_client.post(API, _input(**change), format="json")

    assert response.status_code == 400, response.content
    assert message in response.json()[field]
    assert _counts() == before
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("case", "change", "field", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_it_rejects_bad_signups_on_the_page_with_the_message(
    client, taken, case, change, field, message
):
    before = _counts()

    response = client.post(PAGE, _page_input(_input(**change)))

    assert response.status_code == 200
    assert message in response.context["form"].errors[_PAGE_FIELD[field]]
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert _counts() == before
    assert "_auth_user_id" not in client.session


def test_it_reports_every_broken_rule_at_once(api_client, db):
    response = api_client.post(
        API, {"username": "a b", "email": "nope", "password": "12345678"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"username", "email", "password"}
    assert body["password"] == [
        "This password is too common.",
        "This password is entirely numeric.",
    ]


def test_it_treats_a_missing_body_like_empty_fields(api_client, db):
    response = api_client.post(API, {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "username": ["Choose a username."],
        "email": ["Enter your email address."],
        "password": ["Choose a password."],
    }


def test_it_rejects_values_that_are_not_text(api_client, db):
    response = api_client.post(
        API,
        {"username": ["ada"], "email": {"a": 1}, "password": GOOD_PASSWORD},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "username": ["Not a valid string."],
        "email": ["Not a valid string."],
    }
    assert User.objects.count() == 0


def test_the_page_asks_for_the_same_password_twice(client, db):
    data = _page_input(_input())
    data["password2"] = "something-Else-2"

    response = client.post(PAGE, data)

    assert response.context["form"].errors["password2"] == [
        "The two passwords are not the same."
    ]
    assert User.objects.count() == 0


def test_the_api_creates_an_account_and_mails_the_confirmation_link(api_client, db):
    response = api_client.post(
        API, _input(username=" Ada ", email=" Ada@Example.org "), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "Ada"
    assert body["email"] == "ada@example.org"
    assert body["email_verified"] is False
    assert "password" not in body
    user = User.objects.get()
    assert user.check_password(GOOD_PASSWORD)
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == (
        "ada@example.org",
        True,
        False,
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.org"]
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_the_page_creates_an_account_signs_in_and_mails_the_link(client, db):
    response = client.post(PAGE, _page_input(_input()))

    assert response.status_code == 302
    user = User.objects.get(username="ada")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert len(mail.outbox) == 1
    confirm_path = next(
        line for line in mail.outbox[0].body.splitlines() if "/confirm-email/" in line
    )
    confirm_path = confirm_path[confirm_path.index("/accounts/") :].strip()

    client.post(confirm_path)

    assert EmailAddress.objects.get(user=user).verified is True


def test_signed_in_visitors_cannot_sign_up_again_on_the_api(owner_client, owner):
    response = owner_client.post(API, _input(), format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("You are signed in already")
    assert User.objects.count() == 1


def test_a_signup_that_loses_a_race_for_the_username_is_rejected(db, monkeypatch):
    # Another signup takes the name between the check and the insert: the
    # first check sees nothing, the database constraint catches it.
    UserFactory(username="ADA", email="rival@example.org")
    checks = []
    real_check = services.signup_errors

    def check_before_the_rival(**fields):
        checks.append(fields)
        return {} if len(checks) == 1 else real_check(**fields)

    monkeypatch.setattr(services, "signup_errors", check_before_the_rival)

    with pytest.raises(SignupRejected) as rejected:
        user_signup(**_input())

    assert rejected.value.errors == {"username": ["That username is taken."]}
    assert len(checks) == 2
    assert list(User.objects.values_list("username", flat=True)) == ["ADA"]
    assert EmailAddress.objects.count() == 0


def test_the_database_refuses_usernames_that_differ_only_in_case(db):
    UserFactory(username="grace")

    with pytest.raises(IntegrityError):
        UserFactory(username="GRACE", email="g2@example.org")


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_with_mandatory_verification_the_page_waits_for_the_link(client, db):
    response = client.post(PAGE, _page_input(_input()))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session
    assert User.objects.filter(username="ada").exists()
    assert len(mail.outbox) == 1
