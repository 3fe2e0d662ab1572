"""Router registrations of the plan API (called by minesafe/api_urls.py)."""

from . import api_kpis


def register(router) -> None:
    router.register("plan-kpis", api_kpis.KpiViewSet, basename="plankpi")
