"""The operations tests read the services' refusals in English (the UI's default language is Chinese);
pages stay in the default language unless a test chooses English as a person would (the language cookie)."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english_messages():
    with translation.override("en"):  # services called directly
        yield
