"""Router registrations of the thirdparty API (called by minesafe/api_urls.py)."""

from . import api


def register(router) -> None:
    router.register("service-firms", api.FirmViewSet, basename="servicefirm")
    router.register("firm-qualifications", api.QualificationViewSet, basename="firmqualification")
    router.register("firm-engagements", api.EngagementViewSet, basename="firmengagement")
    router.register("firm-checks", api.CheckViewSet, basename="firmcheck")
    router.register("falsification-cases", api.CaseViewSet, basename="falsificationcase")
