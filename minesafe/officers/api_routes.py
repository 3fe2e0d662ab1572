"""Router registrations of the officers API (called by minesafe/api_urls.py)."""

from . import api


def register(router) -> None:
    router.register("officers", api.OfficerViewSet, basename="officer")
