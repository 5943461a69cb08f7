"""Account settings read from the environment."""

import os
import subprocess
import sys

import pytest

from tests.stack import ROOT


def _setting(name: str, **env: str) -> str:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EMAIL_", "ACCOUNT_", "THROTTLE_", "SESSION_"))
    }
    code = f"from django.conf import settings; print(settings.{name})"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_mail_goes_to_the_console_until_an_smtp_server_is_named():
    assert _setting("EMAIL_BACKEND") == "django.core.mail.backends.console.EmailBackend"
    assert (
        _setting("EMAIL_BACKEND", EMAIL_HOST="smtp.example.org")
        == "django.core.mail.backends.smtp.EmailBackend"
    )
    assert (
        _setting("EMAIL_PORT", EMAIL_HOST="smtp.example.org", EMAIL_PORT="2525")
        == "2525"
    )


def test_verification_is_optional_unless_made_mandatory():
    assert _setting("ACCOUNT_EMAIL_VERIFICATION") == "optional"
    assert (
        _setting("ACCOUNT_EMAIL_VERIFICATION", ACCOUNT_EMAIL_VERIFICATION="mandatory")
        == "mandatory"
    )


def test_sessions_default_to_eight_idle_hours_and_fourteen_days():
    assert _setting("SESSION_ENGINE") == "django.contrib.sessions.backends.cached_db"
    assert _setting("SESSION_COOKIE_AGE") == str(8 * 3600)
    assert _setting("SESSION_ABSOLUTE_SECONDS") == str(14 * 86400)
    assert _setting("SESSION_COOKIE_AGE", SESSION_IDLE_SECONDS="600") == "600"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCOUNT_EMAIL_VERIFICATION", "sometimes"),
        ("SESSION_IDLE_SECONDS", "0"),
        ("API_TOKEN_TTL_SECONDS", "soon"),
    ],
)
def test_a_malformed_setting_stops_the_process_with_its_name(name, value):
    base = {key: v for key, v in os.environ.items() if key != name}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", name: value},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert name in result.stderr
