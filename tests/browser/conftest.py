"""Fixtures for browser tests: headless Chromium against pytest-django's live server.

Debian's Chromium and its ChromeDriver drive the pages (`make test` installs
them with scripts/ensure-browser); without them every browser test skips
with a message saying how to install them. Mark browser tests
`@pytest.mark.browser`. Each test gets a fresh browser with its own
temporary profile, so no cookie or cache leaks from one test to the next.

    @pytest.mark.browser
    def test_it_works(browser, live_server, sign_in, admin_user):
        sign_in(admin_user)
        browser.get(live_server.url + "/some/page/")
"""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]
# How long a browser test waits for a page to change before it fails.
WAIT_SECONDS = 15


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium WebDriver, closed (and its profile removed) after."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.skip(
            f"Browser tests need {' and '.join(missing)}; install them with "
            "`apt-get install chromium chromium-driver` (make test does)."
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="modelhub-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS * 2)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def sign_in(browser: Any, live_server: Any) -> Callable[[Any], None]:
    """Sign `user` in to the browser by handing it a session cookie.

    The session is made with Django's test client and its cookie copied into
    the browser, so tests do not depend on the login page.
    """

    def sign_in_as(user: Any) -> None:
        # A factory-made user may hold a password hash that was never saved;
        # the session records the saved one, so save it first.
        user.save()
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        # A cookie can only be set for the site the browser is on.
        browser.get(f"{live_server.url}/static/js/modelhub.js")
        browser.add_cookie(
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": cookie.value,
                "path": "/",
                "httpOnly": True,
            }
        )

    return sign_in_as
