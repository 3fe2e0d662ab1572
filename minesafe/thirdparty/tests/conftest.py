"""The thirdparty tests read refusals and pages in English (the UI's default language is Chinese), on a
fixed today (2026-11-30)."""

import pytest
from django.utils import timezone, translation

from .factories import NOW


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    """Today is 2026-11-30 (10:00 in Chengde) for every service and page."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
