"""Router registrations of the penalties API (called by minesafe/api_urls.py)."""

from . import api


def register(router) -> None:
    router.register("penalty-cases", api.PenaltyCaseViewSet, basename="penaltycase")
    router.register("penalty-benchmark", api.BenchmarkViewSet, basename="penaltybenchmark")
    router.register("penalty-zero", api.ZeroPenaltyViewSet, basename="penaltyzero")
