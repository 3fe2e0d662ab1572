"""Router registrations of the evaluation API (called by minesafe/api_urls.py)."""

from . import api


def register(router) -> None:
    router.register("evaluation/sheets", api.SheetViewSet, basename="evaluationsheet")
    router.register("evaluation/ranking", api.RankingViewSet, basename="evaluationranking")
    router.register("evaluation/statistics", api.StatisticsViewSet, basename="evaluationstatistics")
