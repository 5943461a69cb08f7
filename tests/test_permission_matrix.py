"""Who may use which URL: every page and API endpoint, for five personas.

The URLs are found by walking the URL configuration, so a URL added anywhere
fails this test until its expectation is written down in EXPECTATIONS below:
what each persona gets for each method. URLs that name a work request are
tried with every persona's request, so ids guessed across owners are
covered.

The personas:
- owner and other: registered users, signed in with a session;
- anonymous: a browser without an account, its anonymous identity bound to
  its session;
- anonymous_token: a script with an anonymous identity's API token. Pages
  ignore tokens, so on pages it is a visitor with no identity at all;
- admin: a member of the `admin` group, signed in.
Each of them owns one completed work request with results.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.urls import get_resolver, resolve, reverse
from django.urls.resolvers import URLPattern, URLResolver
from rest_framework.test import APIClient

from accounts.identity import SESSION_KEY
from accounts.roles import ADMIN_GROUP
from accounts.services import api_token_issue
from tests.accounts.factories import UserWithPasswordFactory
from tests.factories import AnonymousIdentityFactory, ModelFactory, WorkRequestFactory
from workrequests.models import ResultChunk, WorkRequest

PERSONAS = ("owner", "other", "anonymous", "anonymous_token", "admin")

# Outcomes besides status codes: redirects, told apart by where they go.
LOGIN = "to login"
ADMIN_LOGIN = "to admin login"
ELSEWHERE = "redirect"

# The Django admin's own pages all check the one site permission
# (accounts.sites.ModelhubAdminSite.has_permission). The entries kept below
# test it on the index, the login page and one model page; walking every
# model's add, change, delete and history pages would test Django, not
# modelhub. Static files, the Swagger UI's assets among them, are served by
# WhiteNoise before URLs are resolved, so they never appear in the walk.
SKIPPED_PREFIX = "admin/"
KEPT_UNDER_SKIPPED_PREFIX = {"admin/", "admin/login/", "admin/accounts/user/"}


def everyone(outcome: Any) -> dict[str, Any]:
    return dict.fromkeys(PERSONAS, outcome)


def by_sign_in(signed_out: Any, signed_in: Any) -> dict[str, Any]:
    """Pages: the two anonymous personas are signed out, the others in."""
    return {
        "owner": signed_in,
        "other": signed_in,
        "anonymous": signed_out,
        "anonymous_token": signed_out,
        "admin": signed_in,
    }


def admin_page(admin: Any = 200) -> dict[str, Any]:
    return {**by_sign_in(LOGIN, 403), "admin": admin}


def admin_api(admin: Any = 200) -> dict[str, Any]:
    # No credentials: 401. Credentials without the role, a token included: 403.
    return {
        "owner": 403,
        "other": 403,
        "anonymous": 401,
        "anonymous_token": 403,
        "admin": admin,
    }


@dataclass(frozen=True)
class Owned:
    """A URL naming a work request: its owner gets `own`, everyone else
    `others` (admins too: they see other people's requests in the admin).

    Pages do not read API tokens, so on a page the anonymous_token persona
    is a stranger even to its own request (`page=True`).
    """

    own: Any
    others: Any = 404
    page: bool = False


OWN_ONLY = Owned(own=200)
OWN_PAGE_ONLY = Owned(own=200, page=True)

EXPECTATIONS: dict[str, dict[str, Any]] = {
    # --- Home and account pages (accounts) --------------------------------
    "": {"GET": everyone(200)},
    "accounts/signup/": {
        "GET": by_sign_in(200, ELSEWHERE),
        "POST": by_sign_in(200, ELSEWHERE),
    },
    "accounts/profile/": {"GET": by_sign_in(LOGIN, 200)},
    "accounts/profile/tokens/revoke/": {
        "GET": by_sign_in(LOGIN, 405),
        "POST": by_sign_in(LOGIN, ELSEWHERE),
    },
    "accounts/delete/": {
        "GET": by_sign_in(LOGIN, 200),
        "POST": by_sign_in(LOGIN, 200),
    },
    # --- allauth's pages --------------------------------------------------
    "accounts/login/": {
        "GET": by_sign_in(200, ELSEWHERE),
        "POST": by_sign_in(200, ELSEWHERE),
    },
    "accounts/logout/": {"GET": by_sign_in(ELSEWHERE, 200)},
    "accounts/inactive/": {"GET": everyone(200)},
    "accounts/reauthenticate/": {"GET": by_sign_in(LOGIN, 200)},
    # Codes by email are off: signed-in users are sent to the password form.
    "accounts/reauthenticate/code/": {"GET": by_sign_in(LOGIN, ELSEWHERE)},
    "accounts/reauthenticate/code/confirm/": {"GET": by_sign_in(LOGIN, ELSEWHERE)},
    "accounts/email/": {"GET": by_sign_in(LOGIN, 200)},
    "accounts/confirm-email/": {"GET": everyone(200)},
    "accounts/password/change/": {"GET": by_sign_in(LOGIN, 200)},
    "accounts/password/set/": {"GET": by_sign_in(LOGIN, ELSEWHERE)},
    "accounts/password/reset/": {"GET": everyone(200)},
    "accounts/login/code/confirm/": {"GET": by_sign_in(LOGIN, ELSEWHERE)},
    # An unknown key shows the "link expired or invalid" page.
    r"accounts/^confirm-email/(?P<key>[-:\w]+)/$": {"GET": everyone(200)},
    "accounts/password/reset/key/done/": {"GET": everyone(200)},
    r"accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": {
        "GET": everyone(200)
    },
    "accounts/password/reset/done/": {"GET": everyone(200)},
    # --- Accounts API -----------------------------------------------------
    "api/auth/signup/": {"GET": everyone(405), "POST": everyone(400)},
    "api/auth/token/": {
        "GET": everyone(405),
        "POST": everyone(400),
        "DELETE": {**everyone(400), "anonymous_token": 204},
    },
    "api/auth/anonymous/": {
        "GET": everyone(405),
        # Signed-in users need no anonymous identity.
        "POST": by_sign_in(201, 400),
    },
    # --- Work requests API ------------------------------------------------
    "api/^work-requests/$": {"GET": everyone(200), "POST": everyone(400)},
    r"api/^work-requests/(?P<pk>[^/.]+)/$": {"GET": OWN_ONLY},
    r"api/^work-requests/(?P<pk>[^/.]+)/cancel/$": {
        "GET": everyone(405),
        # Completed requests cannot be cancelled: the owner passes the
        # permission check and meets the conflict.
        "POST": Owned(own=409),
    },
    r"api/^work-requests/(?P<pk>[^/.]+)/result/$": {"GET": OWN_ONLY},
    "api/admin/work-requests/": {"GET": admin_api()},
    "api/admin/result-cache/": {"GET": admin_api()},
    "api/admin/result-cache/<str:model_id>/": {
        "GET": admin_api(),
        "DELETE": admin_api(200),
    },
    # --- Work request pages -----------------------------------------------
    "requests/": {"GET": everyone(200)},
    "requests/new/": {"GET": everyone(200)},
    "requests/<int:pk>/": {"GET": OWN_PAGE_ONLY},
    # A completed request has nothing to cancel: back to its page.
    "requests/<int:pk>/cancel/": {
        "GET": Owned(own=ELSEWHERE, page=True),
        "POST": Owned(own=ELSEWHERE, page=True),
    },
    "requests/stats/": {"GET": admin_page()},
    "requests/cache/": {"GET": admin_page()},
    "requests/cache/<str:model_id>/clear/": {
        "GET": admin_page(),
        "POST": admin_page(ELSEWHERE),
    },
    # --- Models API -------------------------------------------------------
    "api/^models/$": {"GET": everyone(200)},
    "api/^models/(?P<pk>[^/]+)/$": {"GET": everyone(200)},
    "models/": {"GET": everyone(200)},
    # --- Recommendations (admin role) -------------------------------------
    "api/recommendations/": {"GET": admin_api()},
    "api/recommendations/state/": {"GET": admin_api()},
    "api/recommendations/run/": {"GET": admin_api(405)},
    "api/recommendations/run/<str:model_id>/": {"GET": admin_api(405)},
    "api/recommendations/<str:model_id>/apply/": {
        "GET": admin_api(405),
        # Nothing computed yet to apply: past the permission, a conflict.
        "POST": admin_api(409),
    },
    "recommendations/": {"GET": admin_page()},
    # --- API schema and its browser ---------------------------------------
    "api/schema/": {"GET": everyone(200)},
    "api/docs/": {"GET": everyone(200)},
    # --- The Django admin's door ------------------------------------------
    "admin/": {"GET": {**by_sign_in(ADMIN_LOGIN, ADMIN_LOGIN), "admin": 200}},
    "admin/login/": {"GET": {**by_sign_in(LOGIN, 403), "admin": ELSEWHERE}},
    "admin/accounts/user/": {
        "GET": {**by_sign_in(ADMIN_LOGIN, ADMIN_LOGIN), "admin": 200}
    },
}


# --- Walking the URL configuration ----------------------------------------


@dataclass(frozen=True)
class Route:
    route: str
    view_name: str | None
    parameters: tuple[str, ...]


def _walk(
    patterns: list[Any], prefix: str = "", namespaces: tuple[str, ...] = ()
) -> Iterator[Route]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            namespace = (pattern.namespace,) if pattern.namespace else ()
            yield from _walk(pattern.url_patterns, route, namespaces + namespace)
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespaces, pattern.name)) if pattern.name else None
            parameters = tuple(pattern.pattern.regex.groupindex)
            yield Route(route, name, parameters)


def discovered_routes() -> list[Route]:
    """Every URL pattern, once (a later pattern with the same route is
    never reached), without the Django admin's internals."""
    routes: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns):
        skipped = route.route.startswith(SKIPPED_PREFIX)
        if skipped and route.route not in KEPT_UNDER_SKIPPED_PREFIX:
            continue
        routes.setdefault(route.route, route)
    return list(routes.values())


ROUTES = discovered_routes()


# --- Personas -------------------------------------------------------------


@dataclass
class Persona:
    name: str
    client: APIClient
    work_request: WorkRequest


def _completed_request(model, **owner):
    work_request = WorkRequestFactory(
        model=model, status=WorkRequest.Status.COMPLETED, inputs=["CCO"], **owner
    )
    ResultChunk.objects.create(
        work_request=work_request,
        source=ResultChunk.Source.MODEL,
        positions=[0],
        records=[{"length": 3, "upper": "CCO"}],
    )
    return work_request


@pytest.fixture
def personas(db) -> dict[str, Persona]:
    cache.clear()
    model = ModelFactory(id="describe")
    admin_group, _ = Group.objects.get_or_create(name=ADMIN_GROUP)
    found = {}
    for name in ("owner", "other", "admin"):
        # A saved password: the session keeps a hash of it, checked each time.
        user = UserWithPasswordFactory(username=name)
        if name == "admin":
            user.groups.add(admin_group)
        client = APIClient()
        client.force_login(user)
        found[name] = Persona(name, client, _completed_request(model, user=user))

    browser_identity = AnonymousIdentityFactory()
    browser = APIClient()
    session = browser.session
    session[SESSION_KEY] = str(browser_identity.pk)
    session.save()
    found["anonymous"] = Persona(
        "anonymous",
        browser,
        _completed_request(model, user=None, anonymous=browser_identity),
    )

    script_identity = AnonymousIdentityFactory()
    script = APIClient()
    script.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_issue(anonymous=script_identity).key}"
    )
    found["anonymous_token"] = Persona(
        "anonymous_token",
        script,
        _completed_request(model, user=None, anonymous=script_identity),
    )
    yield found
    cache.clear()


# --- Requests and outcomes ------------------------------------------------


def _outcome(response) -> Any:
    if response.status_code in (301, 302, 303):
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return LOGIN
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
        return ELSEWHERE
    return response.status_code


# What each URL parameter is filled with; `pk` names a work request, except
# in the routes listed in MODEL_PK.
MODEL_PK = {"model-detail"}


def _path(route: Route, work_request: WorkRequest | None) -> str:
    values = {
        "pk": work_request.pk if work_request else None,
        "format": "json",
        "model_id": "describe",
        "key": "not-a-real-key",
        "uidb36": "1z",
    }
    if route.view_name in MODEL_PK:
        values["pk"] = "describe"
    kwargs = {name: values[name] for name in route.parameters}
    assert route.view_name, f"{route.route!r} has no name to build its URL from."
    return reverse(route.view_name, kwargs=kwargs)


def _send(client: APIClient, method: str, path: str):
    if method == "GET":
        return client.get(path)
    if path.startswith("/api/"):
        return client.generic(method, path, "{}", content_type="application/json")
    return client.generic(
        method, path, "", content_type="application/x-www-form-urlencoded"
    )


def _cases(route: Route, expected: Any, personas: dict[str, Persona]):
    """(path, persona, expected outcome) for one method of one route."""
    if isinstance(expected, Owned):
        assert "pk" in route.parameters, f"{route.route!r} names no work request"
        for owner in PERSONAS:
            path = _path(route, personas[owner].work_request)
            sees_it = not (expected.page and owner == "anonymous_token")
            for name in PERSONAS:
                mine = name == owner and sees_it
                yield path, name, expected.own if mine else expected.others
        return
    path = _path(route, None)
    for name in PERSONAS:
        yield path, name, expected[name]


@pytest.mark.parametrize("route", ROUTES, ids=[route.route or "/" for route in ROUTES])
def test_every_persona_gets_what_the_matrix_says(route, personas):
    assert route.route in EXPECTATIONS, (
        f"No expectation for the URL pattern {route.route!r} (named "
        f"{route.view_name!r}). Add it to EXPECTATIONS in "
        "tests/test_permission_matrix.py: for each method, what each persona "
        "gets."
    )

    mismatches = []
    for method, expected in EXPECTATIONS[route.route].items():
        for path, name, wanted in _cases(route, expected, personas):
            got = _outcome(_send(personas[name].client, method, path))
            if got != wanted:
                mismatches.append(
                    f"{method} {path} as {name}: got {got!r}, expected {wanted!r}"
                )

    assert mismatches == []


def test_every_expectation_is_for_a_url_that_exists():
    stale = set(EXPECTATIONS) - {route.route for route in ROUTES}

    assert stale == set(), "Remove these from EXPECTATIONS; no URL matches them."


def test_the_first_of_two_patterns_with_one_route_is_the_one_served():
    from accounts.views import SignupView

    assert resolve("/accounts/signup/").func.view_class is SignupView


def test_the_admin_door_gives_signed_in_users_without_the_role_no_access(personas):
    owner = personas["owner"].client

    response = owner.get("/admin/", follow=True)

    assert response.status_code == 403
    assert [url for url, _ in response.redirect_chain] == ["/admin/login/?next=/admin/"]
