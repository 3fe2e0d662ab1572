"""Router registrations of the drills, exams and contractors API (called by minesafe/api_urls.py)."""

from . import api_activities


def register(router) -> None:
    router.register("drills", api_activities.DrillViewSet, basename="drill")
    router.register("emergency-plans", api_activities.EmergencyPlanViewSet, basename="emergencyplan")
    router.register("exams", api_activities.ExamViewSet, basename="exam")
    router.register("exam-questions", api_activities.ExamQuestionViewSet, basename="examquestion")
    router.register("outsourced-projects", api_activities.OutsourcedProjectViewSet, basename="outsourcedproject")
    router.register("mining-teams", api_activities.MiningTeamViewSet, basename="miningteam")
