"""The layout, the home page, the account pages and the Django admin's door."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import ApiToken, User
from accounts.services import api_token_issue
from tests.accounts.factories import UserWithPasswordFactory
from tests.factories import WorkRequestFactory
from workrequests.models import ResultChunk, WorkRequest, WorkRequestInputs

PASSWORD = "a-long-Passphrase-42"
OPERATIONS = "Operations"


def _client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_home_page_says_what_modelhub_is_and_links_onwards(client, db):
    html = client.get("/").content.decode()

    assert "modelhub runs machine-learning models for you" in html
    assert 'href="/requests/new/"' in html
    assert 'href="/models/"' in html
    assert "Not signed in" in html
    assert 'href="/accounts/login/"' in html


def test_the_sidebar_shows_operations_only_to_the_admin_role(owner, admin_user):
    visitor = Client().get("/").content.decode()
    user = _client_for(owner).get("/").content.decode()
    admin = _client_for(admin_user).get("/").content.decode()

    assert OPERATIONS not in visitor
    assert OPERATIONS not in user
    assert 'href="/admin/"' not in user
    assert OPERATIONS in admin
    assert 'href="/admin/"' in admin
    assert re.search(r'class="signed-in-name">owner<', user)
    assert re.search(r'class="signed-in-name">operator<', admin)


def test_every_page_has_the_loader_and_its_script(client, db):
    html = client.get("/accounts/login/").content.decode()

    assert 'id="page-loader"' in html
    assert "/static/js/modelhub.js" in html
    assert "/static/css/modelhub.css" in html
    assert "http://" not in html and "https://" not in html


def test_the_account_page_needs_a_signed_in_user(client, db):
    response = client.get("/accounts/profile/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/profile/"


def test_the_account_page_shows_the_account_and_its_tokens(owner):
    api_token_issue(user=owner)

    html = _client_for(owner).get("/accounts/profile/").content.decode()

    assert "owner@example.org" in html
    assert 'data-field="active-tokens">1<' in html


def test_all_tokens_can_be_revoked_from_the_account_page(owner, other_user):
    api_token_issue(user=owner)
    api_token_issue(user=owner)
    theirs = api_token_issue(user=other_user)
    client = _client_for(owner)

    refused_get = client.get("/accounts/profile/tokens/revoke/")
    response = client.post("/accounts/profile/tokens/revoke/", follow=True)

    assert refused_get.status_code == 405
    assert "2 API token(s) revoked." in response.content.decode()
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [theirs.token.pk]


def test_deleting_the_account_needs_the_password(owner):
    WorkRequestFactory(user=owner)
    client = _client_for(owner)

    missing = client.post("/accounts/delete/", {})
    wrong = client.post("/accounts/delete/", {"password": "not-it"})

    assert missing.context["form"].errors["password"] == [
        "Type your password to confirm."
    ]
    assert wrong.context["form"].errors["password"] == ["That is not your password."]
    assert User.objects.filter(pk=owner.pk).exists()
    assert WorkRequest.objects.filter(user=owner).count() == 1


def test_deleting_the_account_deletes_its_requests_results_and_tokens(
    owner, other_user
):
    mine = WorkRequestFactory(user=owner)
    ResultChunk.objects.create(
        work_request=mine, source="MODEL", positions=[0, 1], records=[{}, {}]
    )
    theirs = WorkRequestFactory(user=other_user)
    api_token_issue(user=owner)
    client = _client_for(owner)

    response = client.post("/accounts/delete/", {"password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/"
    assert "Your account, its requests and their results were deleted." in (
        response.content.decode()
    )
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(pk=owner.pk).exists()
    assert list(WorkRequest.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert not WorkRequestInputs.objects.filter(work_request_id=mine.pk).exists()
    assert not ResultChunk.objects.filter(work_request_id=mine.pk).exists()
    assert ApiToken.objects.count() == 0


def test_the_django_admin_sends_signed_out_visitors_to_the_login_page(client, db):
    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[0][0] == "/admin/login/?next=/admin/"
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=/admin/"


def test_the_django_admin_refuses_signed_in_users_without_the_role(owner):
    owner.is_staff = True
    owner.save()
    client = _client_for(owner)

    index = client.get("/admin/")
    login = client.get(index["Location"])
    changelist = client.get("/admin/accounts/user/")

    assert index.status_code == 302
    assert login.status_code == 403
    assert changelist.status_code == 302


def test_the_admin_role_opens_the_django_admin_without_staff_status(admin_user):
    assert admin_user.is_staff is False
    client = _client_for(admin_user)

    index = client.get("/admin/")
    users = client.get("/admin/accounts/user/")
    login = client.get("/admin/login/?next=/admin/accounts/user/")

    assert index.status_code == 200
    assert "Work requests" in index.content.decode()
    assert users.status_code == 200
    assert login["Location"] == "/admin/accounts/user/"


def test_the_admin_login_does_not_redirect_to_other_sites(admin_user):
    response = _client_for(admin_user).get("/admin/login/?next=https://evil.example/")

    assert response["Location"] == "/admin/"


def test_tokens_can_be_revoked_in_the_admin(admin_user, owner):
    issued = api_token_issue(user=owner)
    client = _client_for(admin_user)

    listing = client.get("/admin/accounts/apitoken/")
    response = client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [issued.token.pk]},
        follow=True,
    )

    assert listing.status_code == 200
    assert issued.key not in listing.content.decode()
    assert issued.token.key_hash not in listing.content.decode()
    assert "1 token(s) revoked." in response.content.decode()
    assert ApiToken.objects.count() == 0


def test_a_forgotten_password_is_reset_by_email(client, db):
    user = UserWithPasswordFactory(username="ada", email="ada@example.org")
    api_token_issue(user=user)

    client.post("/accounts/password/reset/", {"email": "ADA@example.org"})
    link = re.search(
        r"http\S+/accounts/password/reset/key/\S+", mail.outbox[0].body
    ).group(0)
    form = client.get(link.split("testserver", 1)[1], follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"password1": "new-Lighthouse-77", "password2": "new-Lighthouse-77"},
    )

    assert mail.outbox[0].to == ["ada@example.org"]
    assert mail.outbox[0].subject.startswith("[modelhub] ")
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("new-Lighthouse-77")
    assert ApiToken.objects.count() == 0


def test_a_reset_for_an_unknown_address_looks_the_same_and_mails_nobody(client, db):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.org"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert mail.outbox == []


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/inactive/",
    ],
)
def test_the_entrance_pages_use_the_site_layout(client, db, path):
    html = client.get(path).content.decode()

    assert 'class="sidebar"' in html
    assert "· modelhub</title>" in html


def test_the_manage_pages_use_the_site_layout(owner):
    client = _client_for(owner)

    for path in ("/accounts/email/", "/accounts/password/change/", "/accounts/logout/"):
        html = client.get(path).content.decode()
        assert 'class="sidebar"' in html, path


def test_the_login_page_signs_in_with_a_username_or_an_email(db):
    UserWithPasswordFactory(username="ada", email="ada@example.org")
    page = Client().get("/accounts/login/").content.decode()

    by_name = Client()
    by_name.post("/accounts/login/", {"login": "ADA", "password": PASSWORD})
    by_email = Client()
    by_email.post(
        "/accounts/login/", {"login": "Ada@Example.org", "password": PASSWORD}
    )

    assert '<label for="id_login">Username or email</label>' in page
    assert "_auth_user_id" in by_name.session
    assert "_auth_user_id" in by_email.session


def test_the_password_pages_speak_the_sites_language(client, db):
    reset = client.get("/accounts/password/reset/").content.decode()

    assert "Reset your password" in reset
    assert "Send the link" in reset
    assert "contact us" not in reset


def test_the_login_page_refuses_an_absurdly_long_username(client, db):
    response = client.post("/accounts/login/", {"login": "a" * 60_000, "password": "x"})

    assert response.status_code == 200
    assert "at most 254 characters" in response.content.decode()
