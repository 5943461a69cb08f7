"""Dates and ids at the edge of what the database and Python can hold."""

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def admin_api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_the_user_api_refuses_dates_out_of_range(owner_client, day):
    response = owner_client.get(f"/api/work-requests/?submitted_to={day}")

    assert response.status_code == 400
    assert response.json() == {"submitted_to": ["Choose a date between 1900 and 9000."]}


@pytest.mark.parametrize("query", ["date_to=9999-12-31", "date_from=0001-01-01"])
def test_the_admin_api_refuses_dates_out_of_range(admin_api, query):
    response = admin_api.get(f"/api/admin/work-requests/?{query}")

    assert response.status_code == 400


@pytest.mark.parametrize("user_id", ["99999999999999999999999", "-5", "0"])
def test_the_admin_api_refuses_impossible_user_ids(admin_api, user_id):
    response = admin_api.get(f"/api/admin/work-requests/?user_id={user_id}")

    assert response.status_code == 400


def test_my_requests_page_says_the_date_is_out_of_range(client, owner):
    client.force_login(owner)

    response = client.get("/requests/?submitted_to=9999-12-31")

    assert response.status_code in (200, 400)
    assert "Choose a date between 1900 and 9000." in response.content.decode()


def test_the_stats_page_says_the_date_is_out_of_range(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/requests/stats/?date_to=9999-12-31")

    assert response.status_code in (200, 400)
    assert "Choose a date between 1900 and 9000." in response.content.decode()


def test_the_admin_changelist_refuses_a_date_out_of_range(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/admin/workrequests/workrequest/?date_to=9999-12-31")

    assert response.status_code == 200
    assert "give a date as YYYY-MM-DD" in response.content.decode()


def test_the_admin_changelist_refuses_an_impossible_user_id(client, admin_user):
    client.force_login(admin_user)

    response = client.get(
        "/admin/workrequests/workrequest/?user_id=99999999999999999999"
    )

    assert response.status_code == 200
    assert "give a user&#x27;s number" in response.content.decode()
