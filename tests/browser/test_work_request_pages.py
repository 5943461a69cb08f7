"""A request through the pages in a real browser, processed for real.

An anonymous visitor uploads a CSV on the New request page, reads the
preview, submits, watches the request page's progress bar reach 100 % (the
page polls the API and reloads when the status changes) and downloads the
CSV. Behind the live server a real Celery worker, beat and the local
instance agent (tests/stack.py) dispatch the request, start a model server
process and run the job against the test database.
"""

import csv
import io
import time
from pathlib import Path

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from config.schedule import install_schedule
from instances.models import ModelInstance
from tests.browser.conftest import WAIT_SECONDS
from tests.factories import ModelFactory
from tests.stack import running_stack, stack_logs
from workrequests.models import WorkRequest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SMILES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"]
# Starting a model server process and running the job, with room to spare.
PROCESSING_SECONDS = 120


def _database_url() -> str:
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST']}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


@pytest.fixture
def stack(tmp_path, settings):
    """A worker, beat and the agent on the test database and Redis.

    Beat's dispatch tick, every second here, moves the request on even if
    a wake-up message is lost, as in production.
    """
    settings.DISPATCH_TICK_SECONDS = 1
    install_schedule()
    # Submission limits are counted in the shared cache, across tests.
    cache.clear()
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("celery")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "MODELHUB_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
        "AGENT_POLL_INTERVAL": "0.1",
    }
    logs = tmp_path / "logs"
    with running_stack(env, logs, beat=True):
        yield logs
    broker.delete("celery")


def _wait_for_download(folder: Path, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob("*.csv") if p.stat().st_size > 0]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"No CSV was downloaded into {folder}.")


def test_a_csv_goes_through_the_pages_to_a_downloaded_csv(
    browser, live_server, stack, tmp_path
):
    ModelFactory(
        id="describe",
        title="Describe",
        description="Length and upper case of each input.",
        entrypoint="tests.callables:describe",
        output_columns=["length", "upper"],
        max_instances=1,
    )
    upload = tmp_path / "molecules.csv"
    upload.write_text(
        "name,smiles\n" + "".join(f"m{n},{s}\n" for n, s in enumerate(SMILES))
    )
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(downloads)},
    )
    wait = WebDriverWait(browser, WAIT_SECONDS)

    browser.get(f"{live_server.url}/requests/new/")
    Select(browser.find_element(By.NAME, "model")).select_by_value("describe")
    card = browser.find_element(By.CSS_SELECTOR, '[data-model-card="describe"]')
    assert card.is_displayed()
    assert "Length and upper case of each input." in card.text
    browser.find_element(By.NAME, "file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "button[name=preview]").click()

    read = wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "[data-field=inputs-read]")
        )
    )
    assert read.text == "3"
    assert "from the column smiles" in browser.find_element(By.ID, "preview").text
    browser.find_element(By.CSS_SELECTOR, "button[name=confirm]").click()

    wait.until(expected_conditions.url_matches(r"/requests/\d+/$"))
    work_request = WorkRequest.objects.get()
    assert work_request.anonymous_id is not None

    def progress(driver):
        bar = driver.find_element(By.CSS_SELECTOR, "[data-field=progress]")
        return bar.get_attribute("aria-valuenow") == "100" and bar

    try:
        bar = WebDriverWait(browser, PROCESSING_SECONDS).until(progress)
    except Exception:
        work_request.refresh_from_db()
        pytest.fail(
            f"The request stayed {work_request.status} ({work_request.reason!r}).\n"
            + stack_logs(stack)
        )
    assert bar.find_element(By.CSS_SELECTOR, "span").get_attribute("style") == (
        "width: 100%;"
    )
    status = browser.find_element(By.CSS_SELECTOR, "[data-field=status]")
    assert status.text == "Completed"
    assert ModelInstance.objects.filter(model_id="describe").exists()

    browser.find_element(By.CSS_SELECTOR, "[data-download=csv]").click()
    downloaded = _wait_for_download(downloads, WAIT_SECONDS)

    assert downloaded.name == f"work-request-{work_request.pk}.csv"
    rows = list(csv.reader(io.StringIO(downloaded.read_text())))
    assert rows == [
        ["input", "length", "upper", "error"],
        *[[value, str(len(value)), value.upper(), ""] for value in SMILES],
    ]
