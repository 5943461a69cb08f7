"""The Recommendations page in a real browser: run all, follow it, apply."""

import threading
from unittest import mock

import pytest
from django.db import connection
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from recommendations.models import RecommendationRun
from recommendations.services import RunParameters, run_execute, run_start
from tests.browser.conftest import WAIT_SECONDS
from tests.factories import ModelFactory
from tests.recommendations.helpers import (
    EXAMPLE_INSTANCES,
    EXAMPLE_RESOURCES,
    persisted,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class HeldWorker:
    """Stands in for the Celery worker, holding each run until released.

    Holding the run lets the test see the page follow a run that is going
    on, then finish it when the test says so.
    """

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []

    def delay(self, run_id: int) -> None:
        thread = threading.Thread(target=self._work, args=(run_id,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _work(self, run_id: int) -> None:
        try:
            if self.release.wait(timeout=WAIT_SECONDS * 2):
                run_execute(run_id=run_id)
        finally:
            connection.close()

    def stop(self) -> None:
        self.release.set()
        for thread in self.threads:
            thread.join(timeout=WAIT_SECONDS)


@pytest.fixture
def worker():
    held = HeldWorker()
    with mock.patch("recommendations.tasks.run_recommendations.delay", held.delay):
        yield held
    held.stop()


@pytest.fixture
def example():
    model = ModelFactory(id="example", k8s_resources=EXAMPLE_RESOURCES)
    for cpu, memory in EXAMPLE_INSTANCES:
        persisted(model, cpu=cpu, memory=memory)
    return model


def _text(browser, selector: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, selector).text


def test_an_admin_runs_all_and_applies_one_profile(
    browser, live_server, sign_in, admin_user, example, worker
):
    wait = WebDriverWait(browser, WAIT_SECONDS)
    sign_in(admin_user)
    browser.get(f"{live_server.url}/recommendations/")
    assert _text(browser, '[data-role="engine-state"]') == "Outdated"
    assert "Not profiled yet" in _text(browser, '[data-model-id="example"]')

    browser.find_element(By.CSS_SELECTOR, '[data-action="run-all"]').click()

    wait.until(
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, '[data-role="engine-state"]'), "Running"
        )
    )
    assert not browser.find_element(
        By.CSS_SELECTOR, '[data-action="run-all"]'
    ).is_enabled()
    assert RecommendationRun.objects.get().state == RecommendationRun.State.RUNNING

    worker.release.set()
    wait.until(
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, '[data-role="engine-state"]'), "Up to date"
        )
    )
    assert "The run finished." in _text(browser, '[data-role="message"]')
    cpu_max = '[data-model-id="example"] [data-profile="cpu_max"]'
    assert "Recommended 1200m" in _text(browser, cpu_max)
    assert "Usage 900m (90 %) of 1000m" in _text(browser, cpu_max)

    browser.find_element(By.CSS_SELECTOR, f'{cpu_max} [data-action="apply"]').click()
    dialog = wait.until(
        expected_conditions.visibility_of_element_located(
            (By.CSS_SELECTOR, '[data-role="confirm"]')
        )
    )
    assert "CPU limit: 1000m → 1200m" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, '[data-action="confirm"]').click()

    wait.until(
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, '[data-model-id="example"] [data-role="allocation"]'),
            "limits 1200m CPU, 1Gi memory",
        )
    )
    assert "Applied to example: CPU limit: 1000m → 1200m." in _text(
        browser, '[data-role="message"]'
    )
    example.refresh_from_db()
    assert example.k8s_resources == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1200m", "memory": "1Gi"},
    }


def test_cancelling_the_confirmation_changes_nothing(
    browser, live_server, sign_in, admin_user, example
):
    run = run_start(trigger="user", parameters=RunParameters())
    run_execute(run_id=run.pk)
    wait = WebDriverWait(browser, WAIT_SECONDS)
    sign_in(admin_user)
    browser.get(f"{live_server.url}/recommendations/")

    browser.find_element(
        By.CSS_SELECTOR, '[data-model-id="example"] [data-action="apply"]'
    ).click()
    dialog = wait.until(
        expected_conditions.visibility_of_element_located(
            (By.CSS_SELECTOR, '[data-role="confirm"]')
        )
    )
    assert "Memory limit: 1Gi → 966Mi" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, '[data-action="cancel"]').click()

    wait.until(expected_conditions.invisibility_of_element(dialog))
    example.refresh_from_db()
    assert example.k8s_resources == EXAMPLE_RESOURCES
