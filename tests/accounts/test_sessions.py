"""Sessions: cached, sliding, bounded, and ending cleanly."""

import time

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import sessions
from accounts.services import api_token_issue
from tests.accounts.factories import UserWithPasswordFactory

PASSWORD = "a-long-Passphrase-42"
PAGE = "/accounts/profile/"
API = "/api/work-requests/"
EXPIRED = "Your session has expired. Please sign in again."


@pytest.fixture
def zephyr(db):
    # A name that appears nowhere on a page unless the page shows who is in.
    return UserWithPasswordFactory(username="zephyrine")


@pytest.fixture
def clock(monkeypatch):
    moment = [1_000_000.0]
    monkeypatch.setattr(sessions, "now", lambda: moment[0])
    return moment


def _signed_in(user, client_class=APIClient):
    client = client_class()
    response = client.post(
        "/accounts/login/", {"login": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content
    return client


def _session_queries(queries):
    return [query["sql"] for query in queries if "django_session" in query["sql"]]


def test_a_signed_in_page_view_reads_no_session_row_with_a_warm_cache(zephyr):
    client = _signed_in(zephyr)
    client.get("/")

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")

    assert response.status_code == 200
    assert "zephyrine" in response.content.decode()
    assert _session_queries(queries) == []
    # The user, and whether they hold the admin role (for the sidebar).
    assert len(queries) == 2, [query["sql"] for query in queries]


def test_with_a_cold_cache_the_session_is_read_once_from_the_database(zephyr):
    from django.core.cache import cache

    client = _signed_in(zephyr)
    cache.clear()

    with CaptureQueriesContext(connection) as cold:
        client.get("/")
    with CaptureQueriesContext(connection) as warm:
        client.get("/")

    assert len(_session_queries(cold)) == 1
    assert _session_queries(warm) == []


def test_an_anonymous_page_view_costs_no_query(client, db):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")

    assert response.status_code == 200
    assert len(queries) == 0


def test_activity_refreshes_the_session_at_most_once_a_minute(zephyr, clock):
    client = _signed_in(zephyr)

    def view():
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/")
        assert response.status_code == 200
        writes = [
            sql
            for sql in _session_queries(queries)
            if sql.startswith(("UPDATE", "INSERT"))
        ]
        return len(writes), "sessionid" in response.cookies

    clock[0] += 30
    during_the_minute = view()
    clock[0] += 29
    still_within = view()
    clock[0] += 2
    after_the_minute = view()
    clock[0] += 10
    right_after = view()

    assert during_the_minute == (0, False)
    assert still_within == (0, False)
    assert after_the_minute == (1, True)
    assert right_after == (0, False)


@override_settings(SESSION_IDLE_SECONDS=2, SESSION_COOKIE_AGE=2)
def test_an_idle_session_expires_on_pages_and_the_api(zephyr):
    browser = _signed_in(zephyr)
    script_with_cookies = _signed_in(zephyr)

    time.sleep(2.5)
    page = browser.get(PAGE, follow=True)
    api = script_with_cookies.get(API)
    api_again = script_with_cookies.get(API)

    assert page.redirect_chain[-1][0].startswith(
        "/accounts/login/?next=/accounts/profile/"
    )
    html = page.content.decode()
    assert EXPIRED in html
    assert "zephyrine" not in html
    assert "Signed in as" not in html
    assert "_auth_user_id" not in browser.session
    assert api.status_code == 401
    assert api.json() == {"detail": EXPIRED}
    # Told once; after that the browser is an anonymous visitor.
    assert api_again.status_code == 200
    assert api_again.json()["results"] == []


@override_settings(SESSION_IDLE_SECONDS=600)
def test_a_session_idle_past_the_limit_is_ended_by_the_server(zephyr, clock):
    client = _signed_in(zephyr)

    clock[0] += 599
    kept = client.get(PAGE)
    clock[0] += 600
    ended = client.get(PAGE, follow=True)

    assert kept.status_code == 200
    assert EXPIRED in ended.content.decode()
    assert "zephyrine" not in ended.content.decode()


@override_settings(
    SESSION_IDLE_SECONDS=1800, SESSION_ABSOLUTE_SECONDS=3600, SESSION_REFRESH_SECONDS=60
)
def test_an_active_session_still_ends_at_the_absolute_limit(zephyr, clock):
    client = _signed_in(zephyr)
    answers = []
    for _ in range(3):
        clock[0] += 1200
        answers.append(client.get(PAGE).status_code)

    assert answers == [200, 200, 302]
    assert EXPIRED in client.get("/accounts/login/").content.decode()


def test_signing_in_marks_the_browser_and_signing_out_unmarks_it(zephyr):
    client = _signed_in(zephyr)
    marker = client.cookies[sessions.SIGNED_IN_COOKIE]

    client.post("/accounts/logout/")
    after = client.get(PAGE, follow=True)

    assert marker["httponly"] is True
    assert client.cookies[sessions.SIGNED_IN_COOKIE].value == ""
    assert EXPIRED not in after.content.decode()
    assert after.redirect_chain[-1][0].startswith("/accounts/login/")


def test_changing_the_password_ends_the_other_sessions_and_tokens(zephyr):
    here = _signed_in(zephyr)
    elsewhere = _signed_in(zephyr)
    elsewhere_api = _signed_in(zephyr)
    token = api_token_issue(user=zephyr).key

    response = here.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "new-Lighthouse-77",
            "password2": "new-Lighthouse-77",
        },
    )

    assert response.status_code == 302
    assert here.get(PAGE).status_code == 200
    ended = elsewhere.get(PAGE, follow=True)
    assert EXPIRED in ended.content.decode()
    assert "zephyrine" not in ended.content.decode()
    assert elsewhere_api.get(API).status_code == 401
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert script.get(API).status_code == 401


def test_a_script_with_a_token_is_not_told_about_the_browsers_session(zephyr):
    browser = _signed_in(zephyr)
    browser.post("/accounts/logout/")
    browser.cookies[sessions.SIGNED_IN_COOKIE] = "1"
    browser.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=zephyr).key}")

    assert browser.get(API).status_code == 200


def test_an_anonymous_browser_keeps_its_session_for_a_week(client, model):
    client.post(
        API, {"model": model.id, "inputs": ["CCO"]}, content_type="application/json"
    )

    assert client.session.get_expiry_age() == 7 * 86400


def test_signing_in_gives_the_session_the_signed_in_idle_age(zephyr, model):
    client = APIClient()
    client.post(API, {"model": model.id, "inputs": ["CCO"]}, format="json")

    client.post("/accounts/login/", {"login": "zephyrine", "password": PASSWORD})

    assert client.session.get_expiry_age() == 8 * 3600
