"""Router registrations of the enforcement API (called by minesafe/api_urls.py)."""

from . import api_accidents


def register(router) -> None:
    router.register("accidents", api_accidents.AccidentViewSet, basename="accident")
    router.register("follow-up-tasks", api_accidents.FollowUpTaskViewSet, basename="followuptask")
    router.register("accident-cases", api_accidents.AccidentCaseViewSet, basename="accidentcase")
