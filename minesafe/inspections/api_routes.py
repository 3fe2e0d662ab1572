"""Router registrations of the inspections API (called by minesafe/api_urls.py)."""

from . import api


def register(router) -> None:
    router.register("inspections", api.InspectionViewSet, basename="inspection")
    router.register("inspection-findings", api.FindingViewSet, basename="inspectionfinding")
    router.register("inspection-checklists", api.ChecklistTemplateViewSet, basename="inspectionchecklist")
