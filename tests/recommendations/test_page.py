"""The Recommendations page and its sidebar link."""

from django.conf import settings
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.test import Client

from recommendations.services import RunParameters, run_start
from tests.factories import ModelFactory
from tests.recommendations.helpers import EXAMPLE_RESOURCES, signed_in

PAGE = "/recommendations/"


def test_it_sends_anonymous_visitors_to_sign_in(db):
    response = Client().get(PAGE)

    assert response.status_code == 302
    login = resolve_url(settings.LOGIN_URL)
    assert response["Location"] == f"{login}?next=/recommendations/"


def test_it_refuses_users_without_the_admin_role(owner):
    client = Client()
    client.force_login(signed_in(owner))

    assert client.get(PAGE).status_code == 403


def test_it_shows_each_model_with_its_profiles(example_model, compute, admin_page):
    compute()

    response = admin_page.get(PAGE)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-model-id="example"' in page
    assert "<code>modelhub/test:1.0</code>" in page
    assert "requests 100m CPU, 256Mi memory; limits 1000m CPU, 1Gi memory" in page
    assert 'data-state="up_to_date"' in page
    assert "Up to date" in page
    # cpu_max: usage with its percentage, the range with theirs, the value.
    assert "Usage <strong>900m</strong> (90 %) of 1000m" in page
    assert "Range 1059m (85 %) \u2013 1384m (65 %)" in page
    assert '<strong data-role="recommended-value">1200m</strong>' in page
    assert 'class="rec-profile state-over"' in page
    assert 'class="rec-profile state-recommended"' in page  # memory_max
    assert 'data-changes="CPU limit: 1000m → 1200m"' in page
    assert (
        'data-changes="CPU request: 100m → 27m|CPU limit: 1000m → 1200m|'
        'Memory request: 256Mi → 138Mi|Memory limit: 1Gi → 966Mi"'
    ) in page
    assert "Instances profiled</dt><dd>3</dd>" in page
    assert "the start to now, newest 100; instances ended" in page
    assert "js/recommendations.js" in page


def test_it_explains_models_without_figures(persist, compute, admin_page):
    thin = ModelFactory(id="thin", k8s_resources=EXAMPLE_RESOURCES)
    persist(thin)
    compute()
    ModelFactory(id="brand-new")

    page = admin_page.get(PAGE).content.decode()

    assert "Not enough data: A recommendation needs at least 3" in page
    assert "Not profiled yet: run it, or run all." in page
    assert "Outdated" in page


def test_it_disables_running_while_a_run_is_going_on(example_model, admin_page):
    run_start(trigger="user", parameters=RunParameters())

    page = admin_page.get(PAGE).content.decode()

    assert 'data-state="running"' in page
    assert '<button type="button" data-action="run-all" disabled>' in page


def test_it_filters_models_needing_attention(
    example_model, persist, compute, admin_page
):
    fitting = ModelFactory(
        id="fitting",
        k8s_resources={
            "requests": {"cpu": "30m", "memory": "140Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    )
    for _ in range(3):
        persist(fitting, cpu=(22, 750), memory=(100, 750))
    compute()

    everything = admin_page.get(PAGE).content.decode()
    attention = admin_page.get(PAGE, {"attention": "1"}).content.decode()

    assert 'data-model-id="fitting"' in everything
    assert 'data-model-id="example"' in attention
    assert 'data-model-id="fitting"' not in attention
    assert "Only models needing attention (1 of 2)" in attention


def test_it_shrugs_off_bad_query_values(example_model, compute, admin_page):
    compute()

    for query in ({"page": "abc"}, {"page": "999"}, {"attention": "yes please"}):
        response = admin_page.get(PAGE, query)

        assert response.status_code == 200
        assert 'data-model-id="example"' in response.content.decode()


def test_the_sidebar_links_the_page_for_admins_only(owner, admin_page, rf):
    request = rf.get("/")
    request.user = owner

    for_users = render_to_string("partials/sidebar.html", request=request)
    page = admin_page.get(PAGE).content.decode()

    assert 'href="/recommendations/"' not in for_users
    assert 'href="/recommendations/" aria-current="page">Recommendations' in page
