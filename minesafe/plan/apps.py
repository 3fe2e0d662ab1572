from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlanConfig(AppConfig):
    name = "minesafe.plan"
    label = "plan"
    verbose_name = _("Action plan")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        from .tasks_catalogue import sync_tasks

        folder = Path(__file__).resolve().parent / "reference"
        register_reference("action_plan", folder / "action_plan.yaml")
        register_reference("plan_reporting", folder / "reporting.yaml", loader=sync_tasks)
        register_reference("plan_kpis", folder / "kpis.yaml")
