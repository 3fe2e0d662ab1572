"""The personnel tests read refusals and labels in English (the UI's default language is Chinese): every
page falls back to English here, and services run under an English translation."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
