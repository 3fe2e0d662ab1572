"""Router registrations of the enforcement API (called by minesafe/api_urls.py)."""

from . import api_accidents, api_equipment, api_plans, api_risk


def register(router) -> None:
    router.register("accidents", api_accidents.AccidentViewSet, basename="accident")
    router.register("follow-up-tasks", api_accidents.FollowUpTaskViewSet, basename="followuptask")
    router.register("accident-cases", api_accidents.AccidentCaseViewSet, basename="accidentcase")
    router.register("inspection-plans", api_plans.InspectionPlanViewSet, basename="inspectionplan")
    router.register("plan-entries", api_plans.PlanEntryViewSet, basename="planentry")
    router.register("enforcement-equipment", api_equipment.EquipmentViewSet, basename="equipmentitem")
    router.register("mine-risk", api_risk.MineRiskViewSet, basename="minerisk")
