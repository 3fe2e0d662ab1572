"""Router registrations of the whistleblower-report API (called by minesafe/api_urls.py)."""

from . import api


def register(router) -> None:
    router.register("tipoffs", api.TipoffViewSet, basename="tipoff")
