"""API tokens and anonymous identities: who gets in, who gets 401 or 403."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AnonymousIdentity, ApiToken
from accounts.selectors import token_key_hash
from accounts.services import api_token_issue
from tests.accounts.factories import UserWithPasswordFactory
from tests.factories import AnonymousIdentityFactory, WorkRequestFactory

TOKEN = "/api/auth/token/"
MINE = "/api/work-requests/"
ADMIN_ONLY = "/api/admin/work-requests/"
PASSWORD = "a-long-Passphrase-42"


def _with_token(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_it_trades_a_username_and_password_for_a_token(api_client, owner):
    response = api_client.post(TOKEN, {"username": "owner", "password": PASSWORD})

    assert response.status_code == 201, response.content
    body = response.json()
    token = ApiToken.objects.get()
    assert token.user == owner
    assert token.key_hash == token_key_hash(body["token"])
    assert body["token"] not in token.key_hash
    lifetime = token.expires_at - token.created_at
    assert abs(lifetime - timedelta(days=30)) < timedelta(seconds=5)


def test_it_accepts_the_email_address_in_any_case_instead(api_client, owner):
    response = api_client.post(
        TOKEN, {"username": "OWNER@example.org", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 201
    assert ApiToken.objects.get().user == owner


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "owner", "password": "wrong-password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "nobody@example.org", "password": PASSWORD},
    ],
)
def test_wrong_credentials_all_get_the_same_answer(api_client, owner, credentials):
    response = api_client.post(TOKEN, credentials, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Unable to sign in with that username (or email) and password."
    }
    assert ApiToken.objects.count() == 0


def test_missing_fields_are_named(api_client, db):
    response = api_client.post(TOKEN, {"username": ""}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_a_disabled_account_gets_no_token(api_client, db):
    UserWithPasswordFactory(username="gone", is_active=False)

    response = api_client.post(TOKEN, {"username": "gone", "password": PASSWORD})

    assert response.status_code == 400
    assert ApiToken.objects.count() == 0


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_with_mandatory_verification_an_unconfirmed_address_gets_no_token(
    api_client, owner
):
    EmailAddress.objects.create(user=owner, email=owner.email, primary=True)

    refused = api_client.post(TOKEN, {"username": "owner", "password": PASSWORD})
    EmailAddress.objects.filter(user=owner).update(verified=True)
    accepted = api_client.post(TOKEN, {"username": "owner", "password": PASSWORD})

    assert refused.status_code == 400
    assert "Confirm your email address" in refused.json()["detail"]
    assert accepted.status_code == 201


def test_a_token_opens_its_users_requests_only(owner, other_user):
    mine = WorkRequestFactory(user=owner)
    WorkRequestFactory(user=other_user)
    client = _with_token(api_token_issue(user=owner).key)

    response = client.get(MINE)

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [mine.pk]


@pytest.mark.parametrize(
    "header",
    ["Token not-a-real-key", "Token", "Token two parts", "token \u00e9t\u00e9"],
    ids=["unknown", "no-key", "spaces", "not-ascii"],
)
def test_bad_token_headers_get_401_not_anonymous_access(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode().decode("latin-1"))

    response = client.get(MINE)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_expired_token_gets_401(owner):
    issued = api_token_issue(user=owner)
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now())

    response = _with_token(issued.key).get(MINE)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or expired token."}


def test_a_token_of_a_disabled_account_gets_401(owner):
    issued = api_token_issue(user=owner)
    owner.is_active = False
    owner.save()

    assert _with_token(issued.key).get(MINE).status_code == 401


def test_use_is_recorded_at_most_once_a_minute(owner, django_assert_num_queries):
    issued = api_token_issue(user=owner)
    client = _with_token(issued.key)
    client.get(MINE)
    first_use = ApiToken.objects.get().last_used_at

    client.get(MINE)

    assert first_use is not None
    assert ApiToken.objects.get().last_used_at == first_use


def test_the_sent_token_can_be_revoked(owner):
    issued = api_token_issue(user=owner)
    kept = api_token_issue(user=owner)
    client = _with_token(issued.key)

    response = client.delete(TOKEN)

    assert response.status_code == 204
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [kept.token.pk]
    assert client.get(MINE).status_code == 401


def test_revoking_needs_a_token(owner_client):
    response = owner_client.delete(TOKEN)

    assert response.status_code == 400
    assert "Authorization: Token" in response.json()["detail"]


def test_a_script_becomes_an_anonymous_visitor(api_client, db):
    response = api_client.post("/api/auth/anonymous/")

    assert response.status_code == 201
    body = response.json()
    identity = AnonymousIdentity.objects.get()
    assert body["identity"] == str(identity.pk)
    token = ApiToken.objects.get()
    assert token.anonymous == identity
    assert token.key_hash == token_key_hash(body["token"])
    lifetime = token.expires_at - token.created_at
    assert abs(lifetime - timedelta(days=7)) < timedelta(seconds=5)


def test_signed_in_users_do_not_need_an_anonymous_identity(owner_client):
    response = owner_client.post("/api/auth/anonymous/")

    assert response.status_code == 400
    assert AnonymousIdentity.objects.count() == 0


def test_anonymous_visitors_never_see_each_others_requests(db):
    first = AnonymousIdentityFactory()
    second = AnonymousIdentityFactory()
    theirs = WorkRequestFactory(user=None, anonymous=first)
    client = _with_token(api_token_issue(anonymous=second).key)

    listing = client.get(MINE)
    guessed = client.get(f"{MINE}{theirs.pk}/")
    result = client.get(f"{MINE}{theirs.pk}/result/?format=csv")
    cancel = client.post(f"{MINE}{theirs.pk}/cancel/")

    assert listing.json()["results"] == []
    assert (guessed.status_code, result.status_code, cancel.status_code) == (
        404,
        404,
        404,
    )
    theirs.refresh_from_db()
    assert theirs.status == "QUEUED"


def test_admin_apis_answer_401_403_or_200_by_credentials(owner, admin_user):
    anonymous_key = api_token_issue(anonymous=AnonymousIdentityFactory()).key

    nobody = APIClient().get(ADMIN_ONLY)
    anonymous = _with_token(anonymous_key).get(ADMIN_ONLY)
    user = _with_token(api_token_issue(user=owner).key).get(ADMIN_ONLY)
    admin = _with_token(api_token_issue(user=admin_user).key).get(ADMIN_ONLY)

    assert (nobody.status_code, nobody["WWW-Authenticate"]) == (401, "Token")
    assert anonymous.status_code == 403
    assert user.status_code == 403
    assert user.json() == {"detail": "This needs the admin role."}
    assert admin.status_code == 200


def test_an_absurdly_long_username_is_refused_before_any_lookup(client, db):
    from rest_framework.test import APIClient

    response = APIClient().post(
        "/api/auth/token/", {"username": "a" * 60_000, "password": "x"}, format="json"
    )

    assert response.status_code == 400
    assert "username" in response.json()
