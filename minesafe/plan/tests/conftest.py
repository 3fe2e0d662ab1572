"""The plan tests read refusals and pages in English (the UI's default language is Chinese)."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
