"""The tipoff tests read refusals and pages in English, start with an empty rate-limit cache, and keep media
files in a temporary folder."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone, translation


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def clean_limits(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


START = timezone.make_aware(dt.datetime(2026, 3, 2, 9, 0))


class Clock:
    def __init__(self):
        self.now = START

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    """Frozen time that a test moves forward."""
    c = Clock()
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c
