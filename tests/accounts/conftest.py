"""Fixtures of the accounts tests: empty throttle windows, usable passwords."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def empty_cache():
    # Throttle windows and cached sessions live in the (real) Redis cache,
    # which outlives a test; each test starts with none.
    cache.clear()
    yield
    cache.clear()


# `db` is named again below: pytest-django looks for it among a test's
# fixtures to decide whether to create the test database, and does not see
# it through a fixture that overrides one of the same name.
def _save_password(user):
    # tests.factories.UserFactory sets the password after saving the user
    # and does not save it again; these tests sign in with it.
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def owner(owner, db):
    return _save_password(owner)


@pytest.fixture
def other_user(other_user, db):
    return _save_password(other_user)


@pytest.fixture
def admin_user(admin_user, db):
    return _save_password(admin_user)
