"""Signing up moves an anonymous visitor's requests into the new account."""

import pytest
from rest_framework.test import APIClient

from accounts.models import AnonymousIdentity, ApiToken, User
from accounts.signals import anonymous_identity_claimed
from tests.factories import AnonymousIdentityFactory, WorkRequestFactory
from workrequests.models import WorkRequest

SUBMIT = "/api/work-requests/"
SIGNUP = {
    "username": "ada",
    "email": "ada@example.org",
    "password": "violet-Harbour-1987",
}


def _submit(client, model, smiles="CCO"):
    response = client.post(
        SUBMIT, {"model": model.id, "inputs": [smiles]}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _anonymous_token_client():
    client = APIClient()
    token = client.post("/api/auth/anonymous/").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_signing_up_on_the_page_moves_the_browsers_requests(client, model):
    request_id = _submit(client, model)
    identity = AnonymousIdentity.objects.get()
    someone_elses = WorkRequestFactory(user=None, anonymous=AnonymousIdentityFactory())

    response = client.post(
        "/accounts/signup/",
        {
            "username": "ada",
            "email": "ada@example.org",
            "password1": SIGNUP["password"],
            "password2": SIGNUP["password"],
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="ada")
    moved = WorkRequest.objects.get(pk=request_id)
    assert (moved.user, moved.anonymous) == (user, None)
    identity.refresh_from_db()
    assert identity.claimed_by == user
    someone_elses.refresh_from_db()
    assert someone_elses.user is None
    listed = client.get(SUBMIT).json()["results"]
    assert [item["id"] for item in listed] == [request_id]


def test_signing_up_on_the_api_with_an_anonymous_token_moves_its_requests(model):
    anonymous = _anonymous_token_client()
    first = _submit(anonymous, model, "CCO")
    second = _submit(anonymous, model, "CCN")

    response = anonymous.post("/api/auth/signup/", SIGNUP, format="json")

    assert response.status_code == 201, response.content
    user = User.objects.get(username="ada")
    assert set(user.work_requests.values_list("pk", flat=True)) == {first, second}
    assert ApiToken.objects.filter(anonymous__isnull=False).count() == 0
    # The anonymous token opened an identity that is now empty: it is refused.
    assert anonymous.get(SUBMIT).status_code == 401


def test_signing_up_on_the_api_with_the_browser_session_moves_its_requests(model):
    browser = APIClient(enforce_csrf_checks=True)
    request_id = _submit(browser, model)
    csrf = browser.get("/accounts/login/").cookies["csrftoken"].value

    response = browser.post(
        "/api/auth/signup/", SIGNUP, format="json", HTTP_X_CSRFTOKEN=csrf
    )

    assert response.status_code == 201, response.content
    assert WorkRequest.objects.get(pk=request_id).user.username == "ada"


def test_another_site_cannot_sign_the_browser_up_into_its_own_account(model):
    # Without the CSRF token (a form posted from another site), the browser's
    # anonymous requests must not be handed to an account the site chose.
    browser = APIClient(enforce_csrf_checks=True)
    request_id = _submit(browser, model)

    response = browser.post("/api/auth/signup/", SIGNUP, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert User.objects.count() == 0
    assert WorkRequest.objects.get(pk=request_id).user is None


def test_a_failing_move_undoes_the_signup(client, model):
    request_id = _submit(client, model)

    def refuse(**kwargs):
        raise RuntimeError("the move failed")

    anonymous_identity_claimed.connect(refuse, dispatch_uid="test-refuse")
    try:
        with pytest.raises(RuntimeError):
            _signup_with_session(client)
    finally:
        anonymous_identity_claimed.disconnect(dispatch_uid="test-refuse")

    assert User.objects.count() == 0
    assert AnonymousIdentity.objects.get().claimed_by is None
    assert WorkRequest.objects.get(pk=request_id).anonymous is not None


def _signup_with_session(client):
    return client.post(
        "/accounts/signup/",
        {
            "username": "ada",
            "email": "ada@example.org",
            "password1": SIGNUP["password"],
            "password2": SIGNUP["password"],
        },
    )


def test_a_visitor_without_requests_signs_up_without_any_move(client, db):
    response = _signup_with_session(client)

    assert response.status_code == 302
    assert AnonymousIdentity.objects.count() == 0
