"""Abuse limits: 429 with Retry-After, per address, account, user or identity."""

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from accounts.models import AnonymousIdentity, User
from accounts.services import api_token_issue
from accounts.throttling import parse_rate, submission_wait
from tests.accounts.factories import UserWithPasswordFactory
from tests.factories import AnonymousIdentityFactory
from workrequests.models import WorkRequest

PASSWORD = "a-long-Passphrase-42"
GOOD_SIGNUP = {"email": "x@example.org", "password": "violet-Harbour-1987"}


def _rates(**low):
    return {**settings.THROTTLE_RATES, **low}


def _from(address):
    return APIClient(REMOTE_ADDR=address)


def _assert_refused(response, longest):
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= longest


@override_settings(THROTTLE_RATES=_rates(login="2/m"))
def test_token_requests_are_limited_per_address(db):
    UserWithPasswordFactory(username="ada")
    client = _from("10.0.0.1")
    answers = [
        client.post(
            "/api/auth/token/", {"username": f"guess{n}", "password": "x"}
        ).status_code
        for n in range(2)
    ]

    refused = client.post("/api/auth/token/", {"username": "ada", "password": PASSWORD})
    elsewhere = _from("10.0.0.2").post(
        "/api/auth/token/", {"username": "ada", "password": PASSWORD}
    )

    assert answers == [400, 400]
    _assert_refused(refused, 60)
    assert elsewhere.status_code == 201


@override_settings(THROTTLE_RATES=_rates(login="100/m", login_account="2/5m"))
def test_token_requests_are_limited_per_account_from_any_address(db):
    UserWithPasswordFactory(username="ada")
    for n in range(2):
        _from(f"10.0.1.{n}").post(
            "/api/auth/token/", {"username": "ada", "password": "x"}
        )

    refused = _from("10.0.1.9").post(
        "/api/auth/token/", {"username": "ADA ", "password": PASSWORD}
    )
    other_account = _from("10.0.1.9").post(
        "/api/auth/token/", {"username": "someone", "password": "x"}
    )

    _assert_refused(refused, 300)
    assert other_account.status_code == 400


@override_settings(THROTTLE_RATES=_rates(login="2/m"))
def test_a_forged_forwarded_for_header_does_not_reset_the_count(db):
    client = _from("10.0.2.1")
    answers = [
        client.post(
            "/api/auth/token/",
            {"username": "a", "password": "x"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        ).status_code
        for n in range(3)
    ]

    assert answers == [400, 400, 429]


@override_settings(THROTTLE_RATES=_rates(signup="2/h"))
def test_api_signups_are_limited_per_address(db):
    client = _from("10.0.3.1")
    for n in range(2):
        client.post(
            "/api/auth/signup/",
            {"username": f"user{n}", **GOOD_SIGNUP, "email": f"u{n}@example.org"},
        )

    refused = client.post("/api/auth/signup/", {"username": "third", **GOOD_SIGNUP})

    _assert_refused(refused, 3600)
    assert not User.objects.filter(username="third").exists()


@override_settings(THROTTLE_RATES=_rates(anonymous="2/h"))
def test_anonymous_identities_are_limited_per_address(db):
    client = _from("10.0.4.1")
    made = [client.post("/api/auth/anonymous/").status_code for _ in range(2)]

    refused = client.post("/api/auth/anonymous/")

    assert made == [201, 201]
    _assert_refused(refused, 3600)
    assert AnonymousIdentity.objects.count() == 2


@override_settings(ACCOUNT_RATE_LIMITS={"login": "2/m/ip", "login_failed": ""})
def test_the_login_page_is_limited_per_address(client, db):
    for _ in range(2):
        client.post("/accounts/login/", {"login": "ada", "password": "wrong"})

    refused = client.post("/accounts/login/", {"login": "ada", "password": "wrong"})

    _assert_refused(refused, 60)
    assert int(refused["Retry-After"]) == 60
    assert "Too many attempts" in refused.content.decode()


@override_settings(
    ACCOUNT_RATE_LIMITS={"login": "", "login_failed": "100/m/ip,2/5m/key"}
)
def test_failed_logins_on_the_page_are_limited_per_account(db):
    UserWithPasswordFactory(username="ada")
    for n in range(2):
        APIClient(REMOTE_ADDR=f"10.0.5.{n}").post(
            "/accounts/login/", {"login": "ada", "password": "wrong"}
        )

    refused = APIClient(REMOTE_ADDR="10.0.5.9").post(
        "/accounts/login/", {"login": "ada", "password": PASSWORD}
    )

    # allauth locks the account out with a message on the form, even for
    # the right password, rather than with a 429.
    assert refused.status_code == 200
    assert refused.context["form"].non_field_errors() == [
        "Too many failed login attempts. Try again later."
    ]
    assert "_auth_user_id" not in refused.wsgi_request.session


@override_settings(ACCOUNT_RATE_LIMITS={"signup": "2/h/ip"})
def test_the_signup_page_is_limited_per_address(db):
    for n in range(2):
        APIClient(REMOTE_ADDR="10.0.6.1").post(
            "/accounts/signup/",
            {"username": f"bad {n}", "email": "", "password1": "", "password2": ""},
        )

    refused = APIClient(REMOTE_ADDR="10.0.6.1").post(
        "/accounts/signup/",
        {
            "username": "third",
            "email": "third@example.org",
            "password1": GOOD_SIGNUP["password"],
            "password2": GOOD_SIGNUP["password"],
        },
    )

    _assert_refused(refused, 3600)
    assert int(refused["Retry-After"]) == 3600
    assert User.objects.count() == 0


@override_settings(ACCOUNT_RATE_LIMITS={"reset_password": "2/h/ip"})
def test_password_reset_requests_are_limited_per_address(client, db):
    for n in range(2):
        client.post("/accounts/password/reset/", {"email": f"n{n}@example.org"})

    refused = client.post("/accounts/password/reset/", {"email": "n9@example.org"})

    _assert_refused(refused, 3600)


@override_settings(THROTTLE_RATES=_rates(submission="2/m"))
def test_submissions_are_limited_per_user(owner, other_user, model):
    mine = APIClient()
    mine.force_authenticate(owner)
    theirs = APIClient()
    theirs.force_authenticate(other_user)
    body = {"model": model.id, "inputs": ["CCO"]}
    accepted = [
        mine.post("/api/work-requests/", body, format="json").status_code
        for _ in range(2)
    ]

    refused = mine.post("/api/work-requests/", body, format="json")
    reading = mine.get("/api/work-requests/")
    other = theirs.post("/api/work-requests/", body, format="json")

    assert accepted == [201, 201]
    _assert_refused(refused, 60)
    assert reading.status_code == 200
    assert other.status_code == 201
    assert WorkRequest.objects.filter(user=owner).count() == 2


@override_settings(THROTTLE_RATES=_rates(submission="1/m"))
def test_submissions_are_limited_per_anonymous_identity(model):
    tokens = [
        api_token_issue(anonymous=AnonymousIdentityFactory()).key for _ in range(2)
    ]
    clients = []
    for key in tokens:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        clients.append(client)
    body = {"model": model.id, "inputs": ["CCO"]}

    first = clients[0].post("/api/work-requests/", body, format="json")
    again = clients[0].post("/api/work-requests/", body, format="json")
    second_identity = clients[1].post("/api/work-requests/", body, format="json")

    assert first.status_code == 201
    _assert_refused(again, 60)
    assert second_identity.status_code == 201


@override_settings(THROTTLE_RATES=_rates(anonymous="2/h", submission="100/m"))
def test_first_submissions_count_as_new_identities_per_address(model):
    body = {"model": model.id, "inputs": ["CCO"]}
    # Each fresh client is a browser that threw its cookies away.
    first = _from("10.0.7.1").post("/api/work-requests/", body, format="json")
    second = _from("10.0.7.1").post("/api/work-requests/", body, format="json")

    third = _from("10.0.7.1").post("/api/work-requests/", body, format="json")
    asked_outright = _from("10.0.7.1").post("/api/auth/anonymous/")

    assert (first.status_code, second.status_code) == (201, 201)
    _assert_refused(third, 3600)
    _assert_refused(asked_outright, 3600)
    assert AnonymousIdentity.objects.count() == 2
    assert WorkRequest.objects.count() == 2


@override_settings(THROTTLE_RATES=_rates(submission="1/m"))
def test_pages_share_the_submission_limit(owner, model):
    api = APIClient()
    api.force_authenticate(owner)
    api.post(
        "/api/work-requests/", {"model": model.id, "inputs": ["CCO"]}, format="json"
    )
    page_request = RequestFactory().post("/requests/new/")
    page_request.user = owner
    page_request.session = {}

    wait = submission_wait(page_request)

    assert wait is not None and 0 < wait <= 60


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("20/m", (20, 60)),
        ("5/5m", (5, 300)),
        ("100/h", (100, 3600)),
        ("1/0.5s", (1, 1)),
        ("3/2d", (3, 172800)),
    ],
)
def test_it_reads_rates(rate, expected):
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["", "5", "five/m", "5/minute", "5/-1m", "/m"])
def test_it_refuses_rates_it_cannot_read(rate):
    with pytest.raises(ValueError):
        parse_rate(rate)


def test_a_bad_rate_stops_the_system_check(settings):
    settings.THROTTLE_RATES = _rates(signup="ten per hour")

    errors = [message for message in run_checks() if message.id == "accounts.E001"]

    assert len(errors) == 1
    assert "THROTTLE_SIGNUP" in errors[0].msg
