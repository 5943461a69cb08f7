"""The daily clean-up of expired sessions and tokens."""

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_issue
from accounts.tasks import clear_expired
from config.schedule import schedule


def test_it_deletes_expired_sessions_and_tokens_only(owner):
    expired_token = api_token_issue(user=owner).token
    ApiToken.objects.filter(pk=expired_token.pk).update(expires_at=timezone.now())
    kept_token = api_token_issue(user=owner).token
    now = timezone.now()
    Session.objects.create(
        session_key="old", session_data="", expire_date=now - timedelta(seconds=1)
    )
    Session.objects.create(
        session_key="live", session_data="", expire_date=now + timedelta(hours=1)
    )

    report = clear_expired()

    assert report == {"tokens": 1}
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [kept_token.pk]
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


def test_it_runs_daily_from_beat():
    entries = {entry.task: entry for entry in schedule()}

    entry = entries["accounts.tasks.clear_expired"]

    assert entry.name == "daily-0330-clear-expired-sessions-and-tokens"
    assert (entry.when.hour, entry.when.minute) == (3, 30)
